#!/usr/bin/env bash
# The generated Node.js SDK (sdk/nodejs) and the README's TypeScript example (examples/secrethash-ts/index.ts), checked
# with TypeScript's own compiler against the Pulumi Node.js SDK and the Kubernetes provider's Node.js SDK, at the
# versions tests/sdk/nodejs/package-lock.json pins (installed there with `npm ci`, no install scripts: the Kubernetes
# package's script would download a plugin binary). Following the README's route for a TypeScript user:
#   - sdk/nodejs compiles with its own generated tsconfig.json (`npm run build`, then package.json beside the output);
#   - the built package (sdk/nodejs/bin), installed with `npm install`, loads in Node and exports SecretHash;
#   - the example type-checks (`tsc --noEmit`) against that installed package;
#   - the README's TypeScript block is that file, byte for byte (the README quotes it; this keeps one copy).
# Everything runs on copies in a scratch directory, so nothing lands in sdk/. Without node/npm it fails under CI=true
# and says it skipped otherwise.
#
#   tests/sdk/nodejs.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
deps="$root/tests/sdk/nodejs"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null; then
    if [ "${CI:-}" = true ]; then
      echo "nodejs-sdk: FAILED: $tool is missing (apt-get install nodejs npm)" >&2; exit 1
    fi
    echo "nodejs-sdk: SKIPPED: $tool is missing; CI fails here" >&2
    exit 0
  fi
done

# npm ci again only when the lockfile changed since the last install.
stamp="$deps/node_modules/.sophia-lock.sha256"
want="$(sha256sum "$deps/package-lock.json" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  (cd "$deps" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2 ||
    { echo "nodejs-sdk: FAILED: npm ci in tests/sdk/nodejs" >&2; exit 1; }
  echo "$want" >"$stamp"
fi
tsc="$deps/node_modules/.bin/tsc"

tmp="$(mktemp -d -t sophia-nodejs-sdk-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
result() {
  if [ "$1" = 0 ]; then passed=$((passed + 1)); echo "nodejs-sdk: ok: $2"
  else failed=$((failed + 1)); echo "nodejs-sdk: FAILED: $2" >&2; fi
}

# Module resolution walks up from each file, so one node_modules above the copies serves the SDK and the example.
ln -s "$deps/node_modules" "$tmp/node_modules"
cp -r "$root/sdk/nodejs" "$tmp/sophia"
status=0; (cd "$tmp/sophia" && "$tsc" && cp package.json README.md bin/) || status=$?
result "$status" "sdk/nodejs builds with its tsconfig.json ($("$tsc" --version))"

mkdir -p "$tmp/example"
cp "$root/examples/secrethash-ts/index.ts" "$tmp/example/index.ts"
echo '{"name": "secrethash-ts", "private": true}' >"$tmp/example/package.json"
status=0
(cd "$tmp/example" &&
  npm install --install-links=false --ignore-scripts --no-audit --no-fund --loglevel=error ../sophia/bin >&2 &&
  node -e 'const s = require("@sophia/sophia"); if (typeof s.SecretHash !== "function") process.exit(1)') || status=$?
result "$status" "the built package installs with npm and loads in Node ($(node --version))"

cat >"$tmp/example/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "strict": true, "noEmit": true, "target": "ES2022", "module": "commonjs", "moduleResolution": "node",
    "types": ["node"], "skipLibCheck": true
  },
  "files": ["index.ts"]
}
JSON
status=0; "$tsc" -p "$tmp/example" || status=$?
result "$status" "examples/secrethash-ts/index.ts type-checks against the installed package"

# The fenced block of the README that imports the SDK's package.
awk '/^```ts$/ {inside = 1; block = ""; next}
     inside && /^```$/ {inside = 0; if (block ~ /@sophia\/sophia/) printf "%s", block; next}
     inside {block = block $0 "\n"}' "$root/README.md" >"$tmp/readme.ts"
status=0; diff -u "$tmp/readme.ts" "$root/examples/secrethash-ts/index.ts" >&2 || status=$?
result "$status" "the README's TypeScript example is examples/secrethash-ts/index.ts"

echo "nodejs-sdk: $passed passed, $failed failed"
[ "$failed" = 0 ]
