#!/usr/bin/env bash
# The generated SDKs used from outside this program. Go: examples/secrethash-go (a Pulumi program on the generated Go
# SDK and the Kubernetes provider's Go SDK) is vetted with sdk/go, built into a binary and run by the real Pulumi CLI
# the way our program is run (runtime go, options.binary), with our debug provider and pulumi-resource-kubernetes
# rendering YAML. Checks: up works, a no-op up changes nothing, rotating one key (config set --secret) updates the
# SecretHash and rolls the Deployment (its pod template annotation changes, only that key's keyHash changes), and no
# secret value lands in the state, the outputs or the rendered Deployment.
#
#   tests/e2e/sdk.sh [--keep]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
keep="${1:-}"

eval "$("$root/scripts/install-toolchain.sh" --env pulumi pulumi-kubernetes)"
k8s_dir="$(dirname "$(command -v pulumi-resource-kubernetes)")"
provider_dir="$root/target/debug"
[ -x "$provider_dir/pulumi-resource-sophia" ] || { echo "sdk: build the provider first (cargo build --bins)" >&2; exit 2; }

tmp="$(mktemp -d -t sophia-sdk-XXXXXX)"
cleanup() { if [ "$keep" = --keep ]; then echo "sdk: kept $tmp"; else rm -rf "$tmp"; fi; }
trap cleanup EXIT
fail() { echo "sdk: FAILED: $*" >&2; keep=--keep; exit 1; }

example="$root/examples/secrethash-go"
(cd "$example" && CGO_ENABLED=0 go vet -mod=readonly . github.com/sophia-secrets/sophia/sdk/go/sophia/... &&
  CGO_ENABLED=0 go build -trimpath -mod=readonly -o "$tmp/project/secrethash-go" .) || fail "the Go SDK or example does not build"
cd "$tmp/project"
cat > Pulumi.yaml <<YAML
name: secrethash-go
runtime:
  name: go
  options:
    binary: ./secrethash-go
plugins:
  providers:
    - name: sophia
      path: $provider_dir
    - name: kubernetes
      path: $k8s_dir
YAML

export PULUMI_HOME="$tmp/home" PULUMI_SKIP_UPDATE_CHECK=true PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_CONFIG_PASSPHRASE=sdk-passphrase NO_COLOR=1
p() { pulumi "$@" --non-interactive --color never; }
canary() { echo "sdk-$1-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"; }
api1="$(canary api1)"; api2="$(canary api2)"; db="$(canary db)"; key="$(canary hashkey-0123456789)"

mkdir -p "$tmp/state"
p login "file://$tmp/state" >/dev/null
p stack init dev --secrets-provider passphrase >/dev/null
p config set renderDir "$tmp/project/out"
p config set --secret sophia:hashKey "$key"
p config set --secret apiKey "$api1"
p config set --secret dbPassword "$db"

# Only the Deployment's pod template carries the annotation.
annotation() { grep -rh 'sophia.dev/secret-hash' out | sed 's/.*secret-hash"\{0,1\}: *//' | tr -d "\"'"; }
p up --yes >"$tmp/up.txt" 2>&1 || { cat "$tmp/up.txt"; fail "up"; }
first="$(annotation)"
[[ "$first" =~ ^hmac-sha256:[0-9a-f]{64}$ ]] || fail "the rendered Deployment has no hash annotation (got '$first')"
p stack output --json --show-secrets >"$tmp/out1.json"
p up --yes --expect-no-changes >"$tmp/noop.txt" 2>&1 || { cat "$tmp/noop.txt"; fail "a no-op up changed something"; }

p config set --secret apiKey "$api2"
p preview --diff --json >"$tmp/rotate.json" 2>"$tmp/rotate.err" || { cat "$tmp/rotate.err"; fail "preview after rotation"; }
python3 - "$tmp/rotate.json" <<'PY' || fail "the rotation plan does not roll the Deployment in place"
import json, sys
steps = json.load(open(sys.argv[1]))["steps"]
ops = {s["urn"].split("::", 2)[-1]: s["op"] for s in steps if s["op"] != "same"}
print("sdk: rotation plan:", ops)
want = {t + "::app": "update" for t in
        ("kubernetes:core/v1:Secret", "sophia:index:SecretHash", "kubernetes:apps/v1:Deployment")}
sys.exit(0 if ops == want else 1)
PY
p up --yes >"$tmp/up2.txt" 2>&1 || { cat "$tmp/up2.txt"; fail "up after rotation"; }
second="$(annotation)"
[ "$second" != "$first" ] || fail "rotating apiKey did not change the Deployment's annotation"
p stack output --json --show-secrets >"$tmp/out2.json"
python3 - "$tmp/out1.json" "$tmp/out2.json" <<'PY' || fail "the key hashes did not change exactly for API_KEY"
import json, sys
a, b = (json.load(open(f))["keyHashes"] for f in sys.argv[1:])
changed = sorted(k for k in a if a[k] != b.get(k))
print("sdk: keyHashes changed for", changed)
sys.exit(0 if changed == ["API_KEY"] and sorted(a) == sorted(b) == ["API_KEY", "DB_PASSWORD"] else 1)
PY
p up --yes --expect-no-changes >"$tmp/noop2.txt" 2>&1 || { cat "$tmp/noop2.txt"; fail "a no-op up after rotation changed something"; }

p stack export >"$tmp/export.json"
for v in "$api1" "$api2" "$db" "$key"; do
  b64="$(printf '%s' "$v" | base64 -w0)"; hex="$(printf '%s' "$v" | od -An -tx1 | tr -d ' \n')"
  for f in "$tmp/export.json" "$tmp"/*.txt "$tmp/rotate.json" "$tmp/state" $(grep -rl 'kind: Deployment' out); do
    if grep -rqiF -e "$v" -e "$b64" -e "$hex" "$f"; then fail "a secret value appears in $f"; fi
  done
done
p destroy --yes >"$tmp/destroy.txt" 2>&1 || { cat "$tmp/destroy.txt"; fail "destroy"; }
echo "sdk: 1 passed, 0 failed"
