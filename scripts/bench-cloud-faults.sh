#!/usr/bin/env bash
# Times `sophia esc open --cloud` under each injected fault against the double; prints fault, attempts, seconds, rc.
#   scripts/bench-cloud-faults.sh   (SOPHIA, DOUBLE: the binaries, default target/debug)
set -u
seed=$(mktemp -d); home=$(mktemp -d); trap 'rm -rf "$seed" "$home"' EXIT
mkdir -p "$seed/app" "$seed/shared"
printf 'values:\n  base:\n    host: db.internal\n' >"$seed/shared/base.yaml"
# shellcheck disable=SC2016 # ${base.host} and ${db.password} are ESC interpolations, written literally.
printf 'imports:\n  - shared/base\nvalues:\n  db:\n    password:\n      fn::secret: s3cret\n    host: ${base.host}\n  environmentVariables:\n    DB_PASSWORD: ${db.password}\n' >"$seed/app/dev.yaml"
SOPHIA=${SOPHIA:-target/debug/sophia}; DOUBLE=${DOUBLE:-target/debug/sophia-cloud-double}
# shellcheck source-path=SCRIPTDIR source=lib/wait.sh
. "$(dirname "$0")/lib/wait.sh"
$DOUBLE --token pul-bench --org acme --seed "$seed" >"$home/url" & pid=$!
# The double prints its URL once it listens.
wait_until "the Pulumi Cloud double to print its URL" 30 test -s "$home/url" || { kill $pid; exit 1; }
URL=$(cat "$home/url")
export PULUMI_BACKEND_URL=$URL PULUMI_ACCESS_TOKEN=pul-bench HOME=$home
for f in 'none' '[{"kind":"server_error"}]' '[{"kind":"server_error"},{"kind":"server_error"},{"kind":"server_error"}]' \
  '[{"kind":{"too_many_requests":{"retry_after":1}}}]' '[{"kind":"drop"}]' '[{"kind":{"slow":{"millis":2000}}}]' \
  '[{"kind":"expire_sessions","path":"/open/"}]' '[{"kind":"malformed_json","path":"/open/"}]' \
  '[{"kind":"server_error"},{"kind":"server_error"},{"kind":"server_error"},{"kind":"server_error"}]' '[{"kind":{"status":{"code":403}}}]'; do
  curl -s -X DELETE "$URL/_double/requests" >/dev/null
  [ "$f" = none ] || curl -s -X POST -d "$f" "$URL/_double/faults" >/dev/null
  s=$(date +%s.%N); $SOPHIA esc open --cloud acme/app/dev >/dev/null 2>"$home/err"; rc=$?; e=$(date +%s.%N)
  n=$(curl -s "$URL/_double/requests" | grep -o '"method"' | wc -l)
  printf '%-120s requests=%s time=%.2fs rc=%s %s\n' "$f" "$n" "$(echo "$e - $s" | bc)" "$rc" "$(head -c 160 "$home/err")"
done
kill $pid
