#!/usr/bin/env bash
# The project's test command (README, "The two commands"; docs/TESTING.md): sets up what the tests need, then runs
# every test, the end to end one with the real Pulumi CLI included. Safe to run on a fresh machine and again on a warm
# one.
#
# Environment:
#   SOPHIA_SKIP_E2E=1   leave out the end-to-end test (tests/e2e/run.sh), e.g. on a machine without Go; CI never sets it
#   SOPHIA_TOOLCHAIN_JOBS, GOCACHE, GOMODCACHE   see scripts/install-toolchain.sh
set -euo pipefail
cd "$(dirname "$0")/.."

phase_start=$(date +%s)
phase() {
  local now; now=$(date +%s)
  echo "test.sh: [$((now - phase_start)) s] $*" >&2
  phase_start=$now
}

# Python side: Pulumi's own generated gRPC client drives our provider (tests/python). Pinned in requirements-test.txt.
scripts/setup-python.sh
phase "python .venv ready"

# The Pulumi toolchain (CLI, Go language host, Kubernetes provider, actionlint), built from Go modules into a cache
# outside the repository and reused when present. First, so the workflow lint test finds actionlint and the e2e test
# finds Pulumi; a cold build takes tens of minutes on 2 cores, a warm one seconds.
if [ "${SOPHIA_SKIP_E2E:-}" != 1 ]; then
  eval "$(scripts/install-toolchain.sh --env)"
  phase "Pulumi toolchain ready"
  # Pulumi's `esc` CLI, run against the Pulumi Cloud API double (tests/integration/cloud.rs), and Pulumi's ESC
  # evaluator as the differential test's oracle (tests/integration/esc_differential.rs).
  scripts/install-toolchain.sh esc esc-oracle >/dev/null
  phase "esc CLI and ESC oracle ready"
fi

# Rust side: unit tests of both workspace crates (`sophia` and the evaluator, `sophia-esc`), the ESC conformance runner
# (`esc_conformance`), the integration binary, doctests. Building the binaries first lets the Python tests find them
# under target/debug.
cargo build --bins --locked
phase "debug build"
cargo test --locked --workspace --lib --bins --tests -- --test-threads=2
cargo test --locked --workspace --doc
# Benchmarks compile and run once each in test mode (criterion), so they cannot rot.
cargo test --locked --benches
phase "cargo test"
# Lints are part of the build: any clippy warning in any target fails the run.
cargo clippy --locked --workspace --all-targets -- -D warnings
phase "clippy"
# The fuzz targets (fuzz/, outside the workspace, nightly only) must keep building against the code they drive; the
# campaigns themselves run by hand (fuzz/README.md). A plain nightly build checks that in a few minutes; cargo-fuzz's
# sanitizer-instrumented build of the same code takes several times as long and checks nothing more.
cargo +nightly build --locked --manifest-path fuzz/Cargo.toml --bins
phase "fuzz targets build"

# The Python tests launch target/debug/pulumi-resource-sophia the way Pulumi's engine does.
if compgen -G "tests/python/test_*.py" > /dev/null; then
  .venv/bin/python -m pytest -q tests/python
fi
phase "python tests"

# The generated SDKs used the way their own toolchains use them (Go's is built and run end to end below): the Python
# SDK installed into .venv and run under Pulumi's mocks against the built provider, the README's Python example too;
# the Node.js SDK and the README's TypeScript example type-checked against pinned npm packages (tests/sdk/nodejs).
tests/sdk/python.sh
phase "Python SDK under Pulumi's mocks"
tests/sdk/nodejs.sh
phase "Node.js SDK type-check"

# End to end with the real Pulumi CLI, required: a skip is a failure here. The example stacks' passphrases are public
# (Pulumi.<stack>.yaml says so); tests/e2e/e2e.py knows them and runs dev, then production.
if [ "${SOPHIA_SKIP_E2E:-}" = 1 ]; then
  echo "test.sh: SOPHIA_SKIP_E2E=1: end-to-end test left out" >&2
else
  # With the debug binaries built above: a release build would cost CI minutes and test the same code
  # (scripts/up.sh and the benchmarks use release builds).
  SOPHIA_E2E_REQUIRE=1 SOPHIA_E2E_BIN_DIR="$PWD/target/debug" tests/e2e/run.sh
  phase "end to end (pulumi, debug binaries)"
  # The checked-in SDKs (sdk/) are what Pulumi's code generators make of the provider's schema as this tree builds
  # it. sdk/dotnet is checked only this way: no .NET SDK, nor Pulumi's NuGet package, can be had to compile it here.
  scripts/gen-sdk.sh --check
  phase "SDKs up to date with the schema (sdk/dotnet generated and compared, not compiled)"
  # A Pulumi program on the generated Go SDK, built and run with the real CLI: one key's rotation rolls its Deployment.
  tests/e2e/sdk.sh
  phase "Go SDK end to end"
  # The harness itself: against stand-ins it passes, and it fails when a secret leaks (tests/e2e/selftest.sh).
  tests/e2e/selftest.sh
  phase "end-to-end harness self-test"
  # Rollouts on a real control plane (etcd, kube-apiserver, controller manager, scheduler, kwok nodes), started on
  # loopback by the test and stopped after it; its tools are built from Go modules into the same cache.
  SOPHIA_E2E_REQUIRE=1 SOPHIA_E2E_BIN_DIR="$PWD/target/debug" tests/e2e/cluster/run.sh
  phase "end to end on a local control plane"
fi
