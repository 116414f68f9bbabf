// Command smoke-program is a tiny prebuilt Pulumi program for tests/e2e/smoke.sh: it proves the toolchain built by
// scripts/install-toolchain.sh runs a program binary through `runtime: {name: go, options: {binary: ...}}`, passes
// stack config (a secret included), and loads pulumi-resource-kubernetes through `plugins.providers`, rendering YAML
// (renderYamlToDirectory) with no cluster. It stands in for sophia-program until that lands; it is not shipped.
package main

import (
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"
)

func main() {
	pulumi.Run(func(ctx *pulumi.Context) error {
		// `token`, or `openai-key` as Sophia's stacks name it (tests/e2e/e2e.py can run against this program too).
		token, err := config.TrySecret(ctx, "token")
		if err != nil {
			token = config.RequireSecret(ctx, "openai-key")
		}
		outDir := config.Get(ctx, "renderDir")
		if outDir == "" {
			outDir = "out"
		}

		var k8s pulumi.ProviderResourceState
		err = ctx.RegisterResource("pulumi:providers:kubernetes", "render", pulumi.Map{
			"renderYamlToDirectory": pulumi.String(outDir),
			"enableSecretMutable":   pulumi.Bool(true),
		}, &k8s)
		if err != nil {
			return err
		}

		var secret pulumi.CustomResourceState
		err = ctx.RegisterResource("kubernetes:core/v1:Secret", "smoke", pulumi.Map{
			"apiVersion": pulumi.String("v1"),
			"kind":       pulumi.String("Secret"),
			"metadata":   pulumi.Map{"name": pulumi.String("smoke"), "namespace": pulumi.String("default")},
			"stringData": pulumi.Map{"TOKEN": token},
		}, &secret, pulumi.Provider(&k8s))
		if err != nil {
			return err
		}
		// A deliberate leak, for tests/e2e/selftest.sh to prove the harness notices one: the secret as a plain output.
		if os.Getenv("SMOKE_PROGRAM_LEAK") == "1" {
			ctx.Export("leaked", pulumi.Unsecret(token))
		}
		ctx.Export("secretUrn", secret.URN())
		ctx.Export("stack", pulumi.String(ctx.Stack()))
		return nil
	})
}
