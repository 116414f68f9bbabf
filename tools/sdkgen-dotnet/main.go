// Command sdkgen-dotnet binds the sophia package schema with Pulumi's own schema code and writes the .NET SDK that
// Pulumi's .NET code generator produces from it into <out>/dotnet. It is a module of its own because that generator
// left pkg/v3 after the release pinned here (pkg/v3/codegen/dotnet, deprecated and frozen there; its successor lives
// in the pulumi-dotnet repository, whose Go module cannot be had here), while tools/sdkgen follows the CLI's pkg/v3.
// As in sdkgen, any binding diagnostic (error or warning) fails the run. The generator fetches the NuGet package
// icon over HTTP when the schema names none; here that request gets logo.png from this module and any other request
// fails, so a run needs no network and writes the same bytes every time.
//
//	sdkgen-dotnet -schema sdk/schema.json -out sdk
package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/blang/semver"

	"github.com/pulumi/pulumi/pkg/v3/codegen/dotnet"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const tool = "sophia-sdkgen"

// noReferences is the loader for a schema that refers to no other package: any reference is an error, never a
// plugin lookup or download.
type noReferences struct{}

func (noReferences) LoadPackage(pkg string, _ *semver.Version) (*schema.Package, error) {
	return nil, fmt.Errorf("the sophia schema refers to no other package, but %q was asked for", pkg)
}

func (l noReferences) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return l.LoadPackage(d.Name, nil)
}

// defaultLogoURL is the icon the generator downloads for a schema without logoUrl (codegen/dotnet getLogo).
const defaultLogoURL = "https://raw.githubusercontent.com/pulumi/pulumi/dbc96206bec722b7791a22ff50e895ab7c0abdc0/sdk/dotnet/pulumi_logo_64x64.png"

//go:embed logo.png
var logo []byte

// offline answers the generator's one HTTP request, for the default icon, and refuses every other.
type offline struct{}

func (offline) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.String() != defaultLogoURL {
		return nil, fmt.Errorf("sdkgen-dotnet makes no network requests, but the generator asked for %s", r.URL)
	}
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{"Content-Type": {"image/png"}}, Body: io.NopCloser(bytes.NewReader(logo)),
		ContentLength: int64(len(logo)), Request: r,
	}, nil
}

func main() {
	http.DefaultClient.Transport = offline{}
	schemaPath := flag.String("schema", "", "the package schema (JSON)")
	out := flag.String("out", "", "directory receiving the dotnet subdirectory")
	flag.Parse()
	if *schemaPath == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: sdkgen-dotnet -schema FILE -out DIR")
		os.Exit(1)
	}
	if err := run(*schemaPath, *out); err != nil {
		fmt.Fprintf(os.Stderr, "sdkgen-dotnet: %v\n", err)
		os.Exit(1)
	}
}

func run(schemaPath, out string) error {
	text, err := os.ReadFile(schemaPath)
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(text, &spec); err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	pkg, diags, err := schema.BindSpec(spec, noReferences{}, schema.ValidationOptions{})
	if err != nil {
		return fmt.Errorf("%s: %w", schemaPath, err)
	}
	if len(diags) > 0 {
		for _, d := range diags {
			fmt.Fprintf(os.Stderr, "%s: %s\n", schemaPath, d.Error())
		}
		return fmt.Errorf("%s: %d schema diagnostic(s)", schemaPath, len(diags))
	}
	//nolint:staticcheck // the deprecated package is the generator this module exists for (see the package doc)
	files, err := dotnet.GeneratePackage(tool, pkg, nil, nil)
	if err != nil {
		return fmt.Errorf("dotnet: %w", err)
	}
	dir := filepath.Join(out, "dotnet")
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, body, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("dotnet: %d file(s) in %s\n", len(files), dir)
	return nil
}
