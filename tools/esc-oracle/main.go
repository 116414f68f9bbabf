// esc-oracle evaluates ESC environments with Pulumi's own Go evaluator (github.com/pulumi/esc/eval), the way ESC's
// eval_test.go does (LoadYAMLBytes, then EvalEnvironment with a `test` provider that echoes its inputs and an
// execution context whose pulumi.user.id is USER_123), and prints each result as one JSON line. It is the oracle of
// the differential test: one process evaluates a whole batch, so thousands of documents cost one start-up.
//
// Input (stdin): one JSON object a line: {"name": "...", "yaml": "...", "imports": {"other": "..."}}.
// Output (stdout): one JSON object a line: {"value": V, "diags": [{"path", "summary", "range"}]} where V is the
// evaluated properties, each value as {"v": ..., "secret": bool, "unknown": bool}, a number as {"n": "<text as ESC keeps it>"}.
// With -bench N it instead evaluates the first input document N times and prints the mean ns per evaluation (load and
// evaluation only, as ESC's BenchmarkEval; the result is not encoded). With -fixtures bench the documents are evaluated
// with the fixtures of ESC's BenchmarkEval instead: a `bench` provider that returns its zero delay as text ("0s") and
// the `rot128` decrypter for every environment; without it (the differential test) neither exists.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/pulumi/esc"
	"github.com/pulumi/esc/eval"
	"github.com/pulumi/esc/schema"
	"github.com/pulumi/esc/syntax"
)

type input struct {
	Name    string            `json:"name"`
	YAML    string            `json:"yaml"`
	Imports map[string]string `json:"imports"`
}

type echoProvider struct{}

func (echoProvider) Schema() (*schema.Schema, *schema.Schema) {
	return schema.Always(), schema.Always()
}
func (echoProvider) Open(_ context.Context, inputs map[string]esc.Value, _ esc.EnvExecContext) (esc.Value, error) {
	return esc.NewValue(inputs), nil
}

// benchProvider is ESC's BenchmarkEval provider with no delay.
type benchProvider struct{}

func (benchProvider) Schema() (*schema.Schema, *schema.Schema) {
	return schema.Always(), schema.Always()
}
func (benchProvider) Open(context.Context, map[string]esc.Value, esc.EnvExecContext) (esc.Value, error) {
	return esc.NewValue(time.Duration(0).String()), nil
}

type providers struct{ bench bool }

func (p providers) LoadProvider(_ context.Context, name string) (esc.Provider, error) {
	if name == "test" {
		return echoProvider{}, nil
	}
	if p.bench && name == "bench" {
		return benchProvider{}, nil
	}
	return nil, fmt.Errorf("unknown provider %q", name)
}
func (providers) LoadRotator(_ context.Context, name string) (esc.Rotator, error) {
	return nil, fmt.Errorf("unknown rotator %q", name)
}

// noDecrypter: generated documents carry no ciphertext.
type noDecrypter struct{}

func (noDecrypter) Decrypt(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("no decryption key")
}

// rot128 is the decrypter of ESC's own tests: each byte plus 128.
type rot128 struct{}

func (rot128) Decrypt(_ context.Context, ciphertext []byte) ([]byte, error) {
	plaintext := make([]byte, len(ciphertext))
	for i, b := range ciphertext {
		plaintext[i] = b + 128
	}
	return plaintext, nil
}

// fixtures are the provider loader and decrypter every document and import is evaluated with.
type fixtures struct {
	providers providers
	decrypter eval.Decrypter
}

type environments struct {
	docs      map[string]string
	decrypter eval.Decrypter
}

func (e environments) LoadEnvironment(_ context.Context, name string) ([]byte, eval.Decrypter, error) {
	if y, ok := e.docs[name]; ok {
		return []byte(y), e.decrypter, nil
	}
	return nil, nil, os.ErrNotExist
}

type pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}
type rng struct {
	Filename string `json:"filename"`
	Start    pos    `json:"start"`
	End      pos    `json:"end"`
}
type diag struct {
	Path    string `json:"path"`
	Summary string `json:"summary"`
	Range   *rng   `json:"range,omitempty"`
}
type output struct {
	Value any    `json:"value"`
	Diags []diag `json:"diags"`
	// Panic is set when Pulumi's evaluator panicked on the document (then Value and Diags are empty).
	Panic string `json:"panic,omitempty"`
}

func encode(v esc.Value) any {
	out := map[string]any{}
	if v.Secret {
		out["secret"] = true
	}
	if v.Unknown {
		// An unknown's representation is a placeholder; only the flag is compared.
		out["unknown"] = true
		return out
	}
	switch r := v.Value.(type) {
	case []esc.Value:
		a := make([]any, len(r))
		for i, e := range r {
			a[i] = encode(e)
		}
		out["v"] = a
	case map[string]esc.Value:
		m := make(map[string]any, len(r))
		for k, e := range r {
			m[k] = encode(e)
		}
		out["v"] = m
	case json.Number:
		// As text: ESC keeps numbers as written (1e400, 30-digit integers, +Inf, NaN), which JSON cannot carry.
		out["n"] = string(r)
	default:
		out["v"] = r
	}
	return out
}

func convertRange(r *hcl.Range) *rng {
	if r == nil {
		return nil
	}
	p := func(x hcl.Pos) pos { return pos{x.Line, x.Column, x.Byte} }
	return &rng{r.Filename, p(r.Start), p(r.End)}
}

func execContext() *esc.ExecContext {
	ec, err := esc.NewExecContext(map[string]esc.Value{
		"pulumi": esc.NewValue(map[string]esc.Value{"user": esc.NewValue(map[string]esc.Value{"id": esc.NewValue("USER_123")})}),
	})
	if err != nil {
		panic(err)
	}
	return ec
}

// load and evaluate one document: what -bench times.
func run(in input, ec *esc.ExecContext, fx fixtures) (*esc.Environment, syntax.Diagnostics, error) {
	name := in.Name
	if name == "" {
		name = "env"
	}
	var all syntax.Diagnostics
	decl, diags, err := eval.LoadYAMLBytes(name, []byte(in.YAML))
	if err != nil {
		return nil, nil, err
	}
	all.Extend(diags...)
	var env *esc.Environment
	// As eval_test.go: declaration errors do not stop evaluation, only a document that is not YAML does.
	if decl != nil {
		var ediags syntax.Diagnostics
		env, ediags = eval.EvalEnvironment(context.Background(), name, decl, fx.decrypter, fx.providers,
			environments{in.Imports, fx.decrypter}, ec)
		all.Extend(ediags...)
	}
	return env, all, nil
}

func evaluate(in input, ec *esc.ExecContext, fx fixtures) (out output) {
	defer func() {
		if r := recover(); r != nil {
			out = output{Diags: []diag{}, Panic: fmt.Sprint(r)}
		}
	}()
	out = output{Diags: []diag{}}
	env, all, err := run(in, ec, fx)
	if err != nil {
		out.Diags = append(out.Diags, diag{Summary: "load: " + err.Error()})
		return out
	}
	if env != nil {
		out.Value = encode(esc.NewValue(env.Properties))
	}
	for _, d := range all {
		out.Diags = append(out.Diags, diag{Path: d.Path, Summary: d.Summary, Range: convertRange(d.Subject)})
	}
	// The same order as eval_test.go's sortEnvironmentDiagnostics: by position, then by message.
	sort.SliceStable(out.Diags, func(i, j int) bool {
		a, b := out.Diags[i], out.Diags[j]
		if a.Range == nil || b.Range == nil {
			return a.Range == nil && b.Range != nil
		}
		if a.Range.Start.Byte != b.Range.Start.Byte {
			return a.Range.Start.Byte < b.Range.Start.Byte
		}
		return a.Summary < b.Summary
	})
	return out
}

func main() {
	bench := flag.Int("bench", 0, "evaluate the first document this many times and print the mean ns per evaluation")
	fixtureSet := flag.String("fixtures", "", "`bench`: ESC's BenchmarkEval provider and rot128 decrypter")
	flag.Parse()
	fx := fixtures{decrypter: noDecrypter{}}
	switch *fixtureSet {
	case "":
	case "bench":
		fx = fixtures{providers: providers{bench: true}, decrypter: rot128{}}
	default:
		fmt.Fprintf(os.Stderr, "esc-oracle: unknown -fixtures %q (known: bench)\n", *fixtureSet)
		os.Exit(2)
	}
	ec := execContext()
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for sc.Scan() {
		var in input
		if err := json.Unmarshal(sc.Bytes(), &in); err != nil {
			fmt.Fprintf(os.Stderr, "esc-oracle: bad input line: %v\n", err)
			os.Exit(2)
		}
		if *bench > 0 {
			// Fail loudly rather than time an evaluation that stopped early.
			if _, diags, err := run(in, ec, fx); err != nil || diags.HasErrors() {
				fmt.Fprintf(os.Stderr, "esc-oracle: the benchmark document does not evaluate cleanly: %v %v\n", err, diags)
				os.Exit(2)
			}
			start := time.Now()
			for i := 0; i < *bench; i++ {
				run(in, ec, fx)
			}
			fmt.Fprintf(w, "{\"ns_per_eval\": %d}\n", time.Since(start).Nanoseconds()/int64(*bench))
			return
		}
		if err := enc.Encode(evaluate(in, ec, fx)); err != nil {
			fmt.Fprintf(os.Stderr, "esc-oracle: %v\n", err)
			os.Exit(2)
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "esc-oracle: reading stdin: %v\n", err)
		os.Exit(2)
	}
}
