#!/usr/bin/env bash
# Runs tests/e2e/e2e.py against stand-ins, to test the harness apart from Sophia itself: tools/smoke-program as
# sophia-program (one Kubernetes Secret holding openai-key, rendered to out/), a shell `sophia render` that writes the
# same Secret, and a pulumi-resource-sophia that is never launched. Passing proves the harness (stack set-up, wrong
# passphrase, no-op, rotation plan, leak checks, destroy) works with the real Pulumi CLI; it proves nothing about Sophia.
#
#   tests/e2e/selftest.sh [--keep]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
eval "$("$root/scripts/install-toolchain.sh" --env pulumi pulumi-kubernetes)"

bin="$(mktemp -d -t sophia-e2e-bin-XXXXXX)"
trap 'rm -rf "$bin"' EXIT
(cd "$root/tools/smoke-program" && CGO_ENABLED=0 go build -trimpath -mod=readonly -o "$bin/sophia-program" .)
printf '#!/bin/sh\necho "stand-in provider: not launched by the smoke program" >&2\nexit 1\n' >"$bin/pulumi-resource-sophia"
cat >"$bin/sophia" <<'EOF'
#!/usr/bin/env bash
# Stand-in for `sophia render --stack S --cwd D --out O --show-secrets`: the Secret tools/smoke-program declares.
set -euo pipefail
# `config show` (the harness asks it for the ESC secrets): the smoke stack has none beyond Pulumi's own config.
[ "${1:-}" = config ] && { echo '{}'; exit 0; }
[ "${1:-}" = render ] || { echo "stand-in sophia: only render and config show" >&2; exit 2; }
shift
while [ $# -gt 0 ]; do
  case "$1" in --stack) stack=$2; shift 2 ;; --cwd) cwd=$2; shift 2 ;; --out) out=$2; shift 2 ;; *) shift ;; esac
done
mkdir -p "$out"
value="$(cd "$cwd" && pulumi config get openai-key --stack "$stack")"
printf 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: smoke\n  namespace: default\nstringData:\n  TOKEN: "%s"\n' \
  "$value" >"$out/secret.yaml"
EOF
chmod +x "$bin"/*
# PyYAML: the project's .venv has it (through Pulumi's Python SDK).
"$root/scripts/setup-python.sh"
# --standins: no SecretHash to refresh, no scripts/up.sh run; no second stack: the smoke program has no per-stack
# values to compare (--branch '').
SOPHIA_E2E_BIN_DIR="$bin" "$root/.venv/bin/python" "$root/tests/e2e/e2e.py" --standins --branch '' "$@"

# The harness must notice a leak: the same run with a program that exports the secret as a plain output fails.
if SMOKE_PROGRAM_LEAK=1 SOPHIA_E2E_BIN_DIR="$bin" "$root/.venv/bin/python" "$root/tests/e2e/e2e.py" --standins --branch '' >"$bin/leak.log" 2>&1
then
  cat "$bin/leak.log"
  echo "selftest: FAILED: the harness did not notice a secret exported in plaintext" >&2
  exit 1
fi
grep -q "a secret value (of length" "$bin/leak.log" || { cat "$bin/leak.log"; echo "selftest: FAILED: wrong failure" >&2; exit 1; }
rm -rf "$(sed -n 's/^e2e: kept //p' "$bin/leak.log")"
echo "selftest: 2 passed, 0 failed"
