#!/usr/bin/env bash
# The project's test command (README, "Run every test"): sets up what the tests need, then runs every test.
# Safe to run on a fresh machine and again on a warm one.
set -euo pipefail
cd "$(dirname "$0")/.."

# Python side: Pulumi's own generated gRPC client drives our provider (tests/python). Pinned in requirements-test.txt.
scripts/setup-python.sh

# Rust side: unit tests, the ESC conformance runner (`esc_conformance`), the integration binary, doctests.
# Building the binaries first lets the Python tests find them under target/debug.
cargo build --bins --locked
cargo test --locked --lib --bins --tests -- --test-threads=2
cargo test --locked --doc
# Benchmarks compile and run once each in test mode (criterion), so they cannot rot.
cargo test --locked --benches

# The Python tests launch target/debug/pulumi-resource-sophia the way Pulumi's engine does.
if compgen -G "tests/python/test_*.py" > /dev/null; then
  .venv/bin/python -m pytest -q tests/python
fi
