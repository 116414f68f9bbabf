// Command pulumi-resource-kubernetes serves Pulumi's Kubernetes provider (module
// github.com/pulumi/pulumi-kubernetes/provider/v4) with the schema that cmd/embed-schema wrote next to this file.
// scripts/install-toolchain.sh runs embed-schema first and sets the version with
// -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=...", as upstream's Makefile does.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schemaJSON []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schemaJSON, terraformMapping)
}
