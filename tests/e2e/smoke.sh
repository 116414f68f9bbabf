#!/usr/bin/env bash
# Smoke test of the Pulumi toolchain alone (no Sophia binaries needed): a throwaway project whose program is the
# prebuilt tools/smoke-program, run by the pulumi-language-go built by scripts/install-toolchain.sh, on a file
# backend with the passphrase provider, with pulumi-resource-kubernetes loaded through `plugins.providers` and
# rendering YAML. Checks: preview and up work, a no-op up changes nothing, rotating the secret updates the Secret in
# place (enableSecretMutable; no replace), the state holds no plaintext, destroy empties the stack.
#
#   tests/e2e/smoke.sh [--keep]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
keep="${1:-}"

eval "$("$root/scripts/install-toolchain.sh" --env pulumi pulumi-kubernetes)"
k8s_dir="$(dirname "$(command -v pulumi-resource-kubernetes)")"

tmp="$(mktemp -d -t sophia-smoke-XXXXXX)"
cleanup() { if [ "$keep" = --keep ]; then echo "smoke: kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
fail() { echo "smoke: FAILED: $*" >&2; keep=--keep; exit 1; }

(cd "$root/tools/smoke-program" && CGO_ENABLED=0 go build -trimpath -mod=readonly -o "$tmp/project/smoke-program" .)
cd "$tmp/project"
cat > Pulumi.yaml <<YAML
name: smoke
runtime:
  name: go
  options:
    binary: ./smoke-program
plugins:
  providers:
    - name: kubernetes
      path: $k8s_dir
YAML

export PULUMI_HOME="$tmp/home" PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_CONFIG_PASSPHRASE=smoke-passphrase NO_COLOR=1
p() { pulumi "$@" --non-interactive --color never; }
# Times a command into $tmp/timings, keeping its exit status.
t() {
  local s rc=0
  s=$(date +%s%N)
  "$@" || rc=$?
  echo "smoke: $(( ($(date +%s%N) - s) / 1000000 )) ms: $*" >>"$tmp/timings"
  return "$rc"
}

first="smoke-first-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
second="smoke-second-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"

p version
mkdir -p "$tmp/state"
p login "file://$tmp/state" >/dev/null
p stack init dev --secrets-provider passphrase >/dev/null
p config set renderDir "$tmp/project/out"
p config set --secret token "$first"
grep -q "secure:" Pulumi.dev.yaml || fail "the secret is not encrypted in Pulumi.dev.yaml"
grep -q "$first" Pulumi.dev.yaml && fail "Pulumi.dev.yaml holds the plaintext"

t p preview >"$tmp/preview.txt" 2>&1 || { cat "$tmp/preview.txt"; fail "preview"; }
t p up --yes >"$tmp/up.txt" 2>&1 || { cat "$tmp/up.txt"; fail "up"; }
[ -n "$(find out -name '*.yaml' 2>/dev/null)" ] || fail "the Kubernetes provider rendered no YAML under out/"
grep -rq "kind: Secret" out || fail "no Secret manifest rendered"
t p up --yes --expect-no-changes >"$tmp/noop.txt" 2>&1 || { cat "$tmp/noop.txt"; fail "a no-op up changed something"; }

p config set --secret token "$second"
t p preview --diff --json >"$tmp/rotate.json" 2>"$tmp/rotate.err" || { cat "$tmp/rotate.err"; fail "preview after rotation"; }
python3 - "$tmp/rotate.json" <<'PY' || fail "the rotation plan is not one in-place update of the Secret"
import json, sys
steps = json.load(open(sys.argv[1]))["steps"]
ops = {s["urn"].rsplit("::", 1)[-1]: s["op"] for s in steps if s["op"] != "same"}
print("smoke: rotation plan:", ops)
sys.exit(0 if ops == {"smoke": "update"} else 1)
PY
t p up --yes >"$tmp/up2.txt" 2>&1 || { cat "$tmp/up2.txt"; fail "up after rotation"; }

p stack export >"$tmp/export.json"
for v in "$first" "$second"; do
  b64="$(printf '%s' "$v" | base64 -w0)"
  for f in "$tmp/export.json" "$tmp"/*.txt "$tmp/rotate.json" "$tmp/state" ; do
    if grep -rqF -e "$v" -e "$b64" "$f"; then fail "a secret value appears in $f"; fi
  done
done
# Refresh reads each object back from the cluster; with renderYamlToDirectory there is none, and this provider
# version fails ("failed to read resource state due to unreachable cluster"). Checked only with a kubeconfig.
if [ -n "${KUBECONFIG:-}" ]; then
  t p refresh --yes --expect-no-changes >"$tmp/refresh.txt" 2>&1 || { cat "$tmp/refresh.txt"; fail "refresh found drift"; }
else
  if p refresh --yes >"$tmp/refresh.txt" 2>&1; then
    echo "smoke: note: refresh in render mode succeeded with this provider version; check it for drift (--expect-no-changes)" >&2
  elif ! grep -q "unreachable cluster" "$tmp/refresh.txt"; then
    cat "$tmp/refresh.txt"; fail "refresh in render mode failed for another reason than the missing cluster"
  fi
fi
t p destroy --yes >"$tmp/destroy.txt" 2>&1 || { cat "$tmp/destroy.txt"; fail "destroy"; }
p stack export | python3 -c 'import json,sys; r=json.load(sys.stdin)["deployment"].get("resources") or []; sys.exit(1 if r else 0)' ||
  fail "destroy left resources"
cat "$tmp/timings"
echo "smoke: 1 passed, 0 failed"
