// Command sdkgen binds the sophia package schema with Pulumi's own schema code and, unless -check is given, writes
// the SDKs Pulumi's code generators produce from it into <out>/<language>. Any binding diagnostic (error or warning)
// fails the run, so the schema stays one Pulumi accepts without complaint.
//
//	sdkgen [-check] -schema sdk/schema.json -out sdk
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/blang/semver"

	gogen "github.com/pulumi/pulumi/pkg/v3/codegen/go"
	"github.com/pulumi/pulumi/pkg/v3/codegen/nodejs"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
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

func (noReferences) LoadPackageReference(pkg string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, fmt.Errorf("the sophia schema refers to no other package, but %q was asked for", pkg)
}

func (l noReferences) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return l.LoadPackageReference(d.Name, nil)
}

func main() {
	schemaPath := flag.String("schema", "", "the package schema (JSON)")
	out := flag.String("out", "", "directory receiving one subdirectory per language")
	check := flag.Bool("check", false, "bind and validate only; write nothing")
	flag.Parse()
	if *schemaPath == "" || (*out == "" && !*check) {
		fmt.Fprintln(os.Stderr, "usage: sdkgen [-check] -schema FILE -out DIR")
		os.Exit(1)
	}
	if err := run(*schemaPath, *out, *check); err != nil {
		fmt.Fprintf(os.Stderr, "sdkgen: %v\n", err)
		os.Exit(1)
	}
}

func bind(schemaPath string) (*schema.Package, error) {
	text, err := os.ReadFile(schemaPath)
	if err != nil {
		return nil, err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(text, &spec); err != nil {
		return nil, fmt.Errorf("%s: %w", schemaPath, err)
	}
	pkg, diags, err := schema.BindSpec(spec, noReferences{}, schema.ValidationOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", schemaPath, err)
	}
	if len(diags) > 0 {
		for _, d := range diags {
			fmt.Fprintf(os.Stderr, "%s: %s\n", schemaPath, d.Error())
		}
		return nil, fmt.Errorf("%s: %d schema diagnostic(s)", schemaPath, len(diags))
	}
	return pkg, nil
}

func run(schemaPath, out string, check bool) error {
	pkg, err := bind(schemaPath)
	if err != nil {
		return err
	}
	if check {
		fmt.Printf("%s %s: %d resource(s), schema valid\n", pkg.Name, pkg.Version, len(pkg.Resources))
		return nil
	}
	generators := map[string]func() (map[string][]byte, error){
		"nodejs": func() (map[string][]byte, error) { return nodejs.GeneratePackage(tool, pkg, nil, nil, false, noReferences{}) },
		"python": func() (map[string][]byte, error) { return python.GeneratePackage(tool, pkg, nil, noReferences{}) },
		"go":     func() (map[string][]byte, error) { return gogen.GeneratePackage(tool, pkg, nil) },
	}
	langs := make([]string, 0, len(generators))
	for lang := range generators {
		langs = append(langs, lang)
	}
	sort.Strings(langs)
	for _, lang := range langs {
		files, err := generators[lang]()
		if err != nil {
			return fmt.Errorf("%s: %w", lang, err)
		}
		dir := filepath.Join(out, lang)
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
		fmt.Printf("%s: %d file(s) in %s\n", lang, len(files), dir)
	}
	return nil
}
