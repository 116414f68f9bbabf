// Command embed-schema writes the two files pulumi-resource-kubernetes embeds, from the provider module's sources:
// schema-embed.json (schema.json with the package version set) and terraform-mapping-embed.json (compacted).
// Upstream produces the same files with `go generate` before building; the module zip does not carry them.
//
// Usage: go run ./cmd/embed-schema -version 4.25.0-alpha.1 -out cmd/pulumi-resource-kubernetes
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const providerModule = "github.com/pulumi/pulumi-kubernetes/provider/v4"

func main() {
	version := flag.String("version", "", "package version to stamp into the schema (semver, no leading v)")
	out := flag.String("out", ".", "directory to write the embedded files to")
	flag.Parse()
	if err := run(*version, *out); err != nil {
		fmt.Fprintf(os.Stderr, "embed-schema: %v\n", err)
		os.Exit(1)
	}
}

func run(version, out string) error {
	if version == "" || strings.HasPrefix(version, "v") {
		return fmt.Errorf("-version must be a semver without a leading v, got %q", version)
	}
	// The provider's directory in the module cache, at the version this module requires. `go mod download -json`
	// fetches it when the cache lacks it (a fresh machine: building this command does not need the provider's
	// module, so nothing has downloaded it yet) and reports its Dir; `go list -m` would report an empty Dir.
	listing, err := exec.Command("go", "mod", "download", "-json", providerModule).Output()
	if err != nil {
		return fmt.Errorf("downloading %s: %w", providerModule, err)
	}
	var module struct{ Dir, Error string }
	if err := json.Unmarshal(listing, &module); err != nil {
		return fmt.Errorf("reading `go mod download -json %s`: %w", providerModule, err)
	}
	if module.Error != "" || module.Dir == "" {
		return fmt.Errorf("downloading %s: %s", providerModule, module.Error)
	}
	src := filepath.Join(module.Dir, "cmd", "pulumi-resource-kubernetes")

	raw, err := os.ReadFile(filepath.Join(src, "schema.json"))
	if err != nil {
		return err
	}
	// Through the typed PackageSpec, as upstream does, so the embedded schema has the same shape as a release's.
	var spec schema.PackageSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return fmt.Errorf("schema.json: %w", err)
	}
	spec.Version = version
	versioned, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("re-encoding schema: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "schema-embed.json"), versioned, 0o644); err != nil {
		return err
	}

	raw, err = os.ReadFile(filepath.Join(src, "terraform-mapping.json"))
	if err != nil {
		return err
	}
	var mapping any
	if err := json.Unmarshal(raw, &mapping); err != nil {
		return fmt.Errorf("terraform-mapping.json: %w", err)
	}
	compact, err := json.Marshal(mapping)
	if err != nil {
		return fmt.Errorf("re-encoding terraform mapping: %w", err)
	}
	return os.WriteFile(filepath.Join(out, "terraform-mapping-embed.json"), compact, 0o644)
}
