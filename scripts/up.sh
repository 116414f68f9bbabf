#!/usr/bin/env bash
# The README's run command: sets everything up on a fresh machine and runs the main job, `pulumi up` of a stack on a
# local file backend inside the project (.pulumi/, ignored by git), with the passphrase secrets provider.
# Idempotent: a second run reuses the toolchain, the build and the stack, and is a no-op update.
#
#   scripts/up.sh [STACK] [PULUMI UP ARGS...]      (STACK: dev (default) or production)
#
# - The Pulumi toolchain comes from scripts/install-toolchain.sh (built once from Go modules into a cache outside the
#   repository); set SOPHIA_USE_INSTALLED_PULUMI=1 to use a `pulumi` already on PATH instead.
# - Our program and provider are built in release mode; Pulumi.yaml finds them in target/release
#   (`runtime.options.binary`, `plugins.providers`). SOPHIA_SKIP_BUILD=1 uses the binaries already there (a CI
#   artifact, say; tests/e2e/e2e.py runs this script that way).
# - Passphrase: PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE when set; otherwise, for the example stacks
#   only, their public example passphrase (`sophia-<stack>-example-passphrase`). A real stack never uses those.
# - Without a `sophia-secrets:kubeconfig` in the stack config, the Kubernetes provider renders the manifests to
#   out/<stack>/ instead of deploying; with one, it deploys to that cluster (README, "Point at a real cluster").
set -euo pipefail
cd "$(dirname "$0")/.."
stack="${1:-dev}"
[ $# -gt 0 ] && shift
case "$stack" in
  -*) echo "up: the first argument is the stack name (dev or production), not '$stack'" >&2; exit 2 ;;
esac
[ -f "Pulumi.$stack.yaml" ] || [ -n "${PULUMI_CONFIG_PASSPHRASE+x}${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ] || {
  echo "up: no Pulumi.$stack.yaml and no PULUMI_CONFIG_PASSPHRASE: a new stack needs its own passphrase" >&2; exit 2; }

step() { echo "up: $*" >&2; }

if [ "${SOPHIA_USE_INSTALLED_PULUMI:-}" = 1 ]; then
  command -v pulumi >/dev/null || { echo "up: SOPHIA_USE_INSTALLED_PULUMI=1 but pulumi is not on PATH" >&2; exit 2; }
else
  step "Pulumi toolchain (scripts/install-toolchain.sh; the first time builds it from Go modules, minutes)"
  eval "$(scripts/install-toolchain.sh --env pulumi pulumi-kubernetes)"
fi

if [ "${SOPHIA_SKIP_BUILD:-}" = 1 ]; then
  for bin in sophia-program pulumi-resource-sophia; do
    [ -x "target/release/$bin" ] || { echo "up: SOPHIA_SKIP_BUILD=1 but target/release/$bin is missing" >&2; exit 2; }
  done
else
  step "release build of the program and the provider"
  cargo build --release --locked --bins
fi

if [ -z "${PULUMI_CONFIG_PASSPHRASE+x}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  case "$stack" in
    dev | production)
      # Public, for the examples only (see the header of Pulumi.<stack>.yaml).
      export PULUMI_CONFIG_PASSPHRASE="sophia-$stack-example-passphrase"
      step "using the example passphrase of Pulumi.$stack.yaml (examples only)" ;;
    *) echo "up: set PULUMI_CONFIG_PASSPHRASE (or _FILE) for stack '$stack'" >&2; exit 2 ;;
  esac
fi

export PULUMI_SKIP_UPDATE_CHECK=true
# A local backend inside the project; the state never leaves this directory. PULUMI_BACKEND_URL rather than
# `pulumi login`, so that the user's own login (Pulumi Cloud, say) stays as it was; set it yourself to use another.
mkdir -p .pulumi
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$PWD/.pulumi}"
step "backend $PULUMI_BACKEND_URL"
if ! pulumi stack select --non-interactive "$stack" 2>/dev/null; then
  step "creating stack $stack (keeps the settings of Pulumi.$stack.yaml when it exists)"
  # `stack init` rewrites the stack file (same salt and values, but without its comments and `secretsprovider`
  # line): put the checked-in file back so that the work tree stays clean.
  kept=""
  if [ -f "Pulumi.$stack.yaml" ]; then kept="$(mktemp)"; cp "Pulumi.$stack.yaml" "$kept"; fi
  pulumi stack init --non-interactive "$stack" --secrets-provider passphrase
  if [ -n "$kept" ]; then cp "$kept" "Pulumi.$stack.yaml"; rm -f "$kept"; fi
fi
step "pulumi up --stack $stack"
pulumi up --yes --non-interactive --stack "$stack" "$@"
if [ ! -s "Pulumi.$stack.yaml" ] || ! grep -q 'kubeconfig' "Pulumi.$stack.yaml"; then
  step "no cluster configured: the manifests are in out/$stack/"
fi
