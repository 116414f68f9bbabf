package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/structpb"
)

func info(t *testing.T, root string, options map[string]any) *pulumirpc.ProgramInfo {
	t.Helper()
	opts, err := structpb.NewStruct(options)
	if err != nil {
		t.Fatal(err)
	}
	return &pulumirpc.ProgramInfo{RootDirectory: root, ProgramDirectory: root, Options: opts}
}

// script writes an executable shell script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProgramBinaryResolvesRelativeToTheProjectRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "target", "release"), 0o755); err != nil {
		t.Fatal(err)
	}
	want := script(t, filepath.Join(root, "target", "release"), "prog", "exit 0")
	got, err := programBinary(info(t, root, map[string]any{"binary": "./target/release/prog"}))
	if err != nil || got != want {
		t.Fatalf("programBinary = %q, %v; want %q", got, err, want)
	}
}

func TestProgramBinaryErrorsAreClear(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "plain"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		options map[string]any
		want    string
	}{
		"no binary":     {map[string]any{}, "set runtime.options.binary"},
		"not a string":  {map[string]any{"binary": 3.0}, "must be a non-empty string"},
		"missing":       {map[string]any{"binary": "./target/release/absent"}, "build it first"},
		"not runnable":  {map[string]any{"binary": "./plain"}, "not an executable file"},
		"with a target": {map[string]any{"binary": "./plain", "buildTarget": "x"}, "cannot both be specified"},
	}
	for name, c := range cases {
		_, err := programBinary(info(t, root, c.options))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}

func TestProgramEnvSetsOnlyNonEmptyEngineVariables(t *testing.T) {
	req := &pulumirpc.RunRequest{
		Project:          "sophia-secrets",
		Stack:            "dev",
		Config:           map[string]string{"sophia-secrets:namespace": "sophia"},
		ConfigSecretKeys: []string{"sophia-secrets:openai-key"},
		DryRun:           true,
		Parallel:         4,
		MonitorAddress:   "127.0.0.1:1",
		Info:             &pulumirpc.ProgramInfo{RootDirectory: "/project"},
	}
	env, err := programEnv(req, "127.0.0.1:2")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"PULUMI_PROJECT=sophia-secrets", "PULUMI_STACK=dev", "PULUMI_ROOT_DIRECTORY=/project",
		`PULUMI_CONFIG={"sophia-secrets:namespace":"sophia"}`, `PULUMI_CONFIG_SECRET_KEYS=["sophia-secrets:openai-key"]`,
		"PULUMI_DRY_RUN=true", "PULUMI_PARALLEL=4", "PULUMI_MONITOR=127.0.0.1:1", "PULUMI_ENGINE=127.0.0.1:2",
	} {
		if !slices.Contains(env, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
	for _, v := range env {
		if strings.HasPrefix(v, "PULUMI_ORGANIZATION=") {
			t.Errorf("empty organization was set: %s", v)
		}
	}
}

func TestRunReportsExitStatuses(t *testing.T) {
	root := t.TempDir()
	script(t, root, "ok", "exit 0")
	script(t, root, "logged", "exit 32")
	script(t, root, "broken", "exit 3")
	// The program sees the engine's variables.
	script(t, root, "env", `[ "$PULUMI_STACK" = dev ] && [ "$PULUMI_ENGINE" = 127.0.0.1:9 ]`)
	h := &host{engineAddress: "127.0.0.1:9"}
	run := func(bin string) *pulumirpc.RunResponse {
		t.Helper()
		resp, err := h.Run(context.Background(), &pulumirpc.RunRequest{
			Stack: "dev", Pwd: root, Info: info(t, root, map[string]any{"binary": "./" + bin}),
		})
		if err != nil {
			t.Fatalf("%s: %v", bin, err)
		}
		return resp
	}
	if r := run("ok"); r.GetError() != "" || r.GetBail() {
		t.Errorf("ok: %v", r)
	}
	if r := run("env"); r.GetError() != "" {
		t.Errorf("env: the program did not get the engine's variables: %v", r)
	}
	if r := run("logged"); !r.GetBail() {
		t.Errorf("exit 32 must bail (error already reported): %v", r)
	}
	if r := run("broken"); !strings.Contains(r.GetError(), "non-zero exit code: 3") {
		t.Errorf("exit 3: %v", r)
	}
}
