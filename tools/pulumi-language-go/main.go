// Command pulumi-language-go is Sophia's stand-in for Pulumi's Go language host, limited to what our project uses:
// `runtime: {name: go, options: {binary: PATH}}` in Pulumi.yaml, a prebuilt program run with the engine's variables.
//
// Why it exists: Pulumi's own host (module github.com/pulumi/pulumi/sdk/go/pulumi-language-go/v3) has no version tags
// and the module proxy reachable here refuses its pseudo-versions, so scripts/install-toolchain.sh cannot build it.
// A Pulumi installed the usual way ships the real host, which does the same for `options.binary` (and more); this one
// is built only into Sophia's toolchain cache, next to the `pulumi` it was built with.
//
// Behaviour copied in substance (not in code) from the real host, read at pulumi v3.259: the engine starts the host
// with the engine address as last argument and reads the gRPC port from the first stdout line; `Run` execs the binary
// in the request's working directory with PULUMI_* variables, each set only when non-empty; exit status 32 means the
// program already reported its error to the engine (Bail).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/constant"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is set with -ldflags "-X main.version=..." by scripts/install-toolchain.sh.
var version = "0.0.0-dev"

func main() {
	showVersion := flag.Bool("version", false, "print the plugin version and exit")
	// The engine may pass --tracing and glog's --logtostderr and -v; glog (through the SDK) registers the last two.
	flag.String("tracing", "", "tracing endpoint (ignored)")
	flag.Parse()
	if *showVersion {
		fmt.Println(version)
		return
	}
	engineAddress := ""
	if args := flag.Args(); len(args) > 0 {
		engineAddress = args[len(args)-1]
	}
	if err := serve(engineAddress); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-go (sophia): %v\n", err)
		os.Exit(1)
	}
}

func serve(engineAddress string) error {
	cancel := make(chan bool)
	host := &host{engineAddress: engineAddress}
	if engineAddress != "" {
		// Stop when the engine goes away, as every Pulumi plugin does.
		ctx, stop := context.WithCancel(context.Background())
		if err := rpcutil.Healthcheck(ctx, engineAddress, 5*time.Minute, stop); err != nil {
			return fmt.Errorf("could not start health check: %w", err)
		}
		go func() {
			<-ctx.Done()
			close(cancel)
		}()
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("could not start language host gRPC server: %w", err)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		return fmt.Errorf("language host gRPC server stopped: %w", err)
	}
	return nil
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func (h *host) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() == "" {
		return nil, status.Error(codes.InvalidArgument, "handshake must carry the engine address")
	}
	h.engineAddress = req.GetEngineAddress()
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

// A prebuilt binary declares its plugins through Pulumi.yaml (`plugins.providers`) or loads them on demand when it
// registers resources; there is no go.mod to scan, so there is nothing to report ahead of time.
func (h *host) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *host) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *host) GetProgramDependencies(
	context.Context, *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	return &pulumirpc.GetProgramDependenciesResponse{}, nil
}

// The program is prebuilt (cargo builds it), so there is nothing to install.
func (h *host) InstallDependencies(
	*pulumirpc.InstallDependenciesRequest, grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return nil
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	return &pulumirpc.AboutResponse{Executable: os.Args[0], Version: version}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if h.engineAddress == "" {
		return nil, errors.New("run before handshake: the engine address is unknown")
	}
	bin, err := programBinary(req.GetInfo())
	if err != nil {
		return nil, err
	}
	env, err := programEnv(req, h.engineAddress)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Dir = req.GetPwd()
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// On cancellation the program gets an interrupt first, so it can tell the engine it is stopping.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exit) && exit.ExitCode() == constant.ExitStatusLoggedError:
		// The program already sent its error to the engine.
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exit):
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("program %s exited with non-zero exit code: %d", bin, exit.ExitCode()),
		}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run program %s: %v", bin, err)}, nil
	}
}

// programBinary resolves `runtime.options.binary`: a relative path is taken from the project root (where Pulumi.yaml
// is), a bare name is looked up on PATH.
func programBinary(info *pulumirpc.ProgramInfo) (string, error) {
	options := info.GetOptions().AsMap()
	raw, ok := options["binary"]
	if !ok {
		return "", errors.New("this language host (sophia's stand-in for pulumi-language-go) only runs prebuilt " +
			"programs: set runtime.options.binary in Pulumi.yaml, or install Pulumi's own Go language host")
	}
	name, ok := raw.(string)
	if !ok || name == "" {
		return "", fmt.Errorf("runtime.options.binary must be a non-empty string, got %v", raw)
	}
	if _, bad := options["buildTarget"]; bad {
		return "", errors.New("runtime.options: binary and buildTarget cannot both be specified")
	}
	var path string
	switch {
	case filepath.IsAbs(name):
		path = name
	case filepath.Base(name) != name:
		path = filepath.Join(info.GetRootDirectory(), name)
	default:
		found, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("runtime.options.binary %q: not found on PATH", name)
		}
		path = found
	}
	st, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("runtime.options.binary %q: %w (build it first)", name, err)
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("runtime.options.binary %q: %s is not an executable file", name, path)
	}
	return path, nil
}

// programEnv is this process's environment plus the engine's variables, each only when non-empty (as the real host).
func programEnv(req *pulumirpc.RunRequest, engineAddress string) ([]string, error) {
	env := os.Environ()
	add := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	config := ""
	if req.GetConfig() != nil {
		b, err := json.Marshal(req.GetConfig())
		if err != nil {
			return nil, fmt.Errorf("encoding config: %w", err)
		}
		config = string(b)
	}
	secretKeys := "[]"
	if req.GetConfigSecretKeys() != nil {
		b, err := json.Marshal(req.GetConfigSecretKeys())
		if err != nil {
			return nil, fmt.Errorf("encoding config secret keys: %w", err)
		}
		secretKeys = string(b)
	}
	add("PULUMI_ORGANIZATION", req.GetOrganization())
	add("PULUMI_PROJECT", req.GetProject())
	add("PULUMI_ROOT_DIRECTORY", req.GetInfo().GetRootDirectory())
	add("PULUMI_STACK", req.GetStack())
	add("PULUMI_CONFIG", config)
	add("PULUMI_CONFIG_SECRET_KEYS", secretKeys)
	add("PULUMI_DRY_RUN", strconv.FormatBool(req.GetDryRun()))
	add("PULUMI_PARALLEL", strconv.Itoa(int(req.GetParallel())))
	add("PULUMI_MONITOR", req.GetMonitorAddress())
	add("PULUMI_ENGINE", engineAddress)
	return env, nil
}
