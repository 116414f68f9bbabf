# shellcheck shell=bash
# Bounded waiting for scripts: every wait has a deadline and, when it passes, says what it waited for. Sourced.
#
#   wait_until WHAT SECONDS COMMAND...
#
# Runs COMMAND (output discarded) every 0.2 s until it succeeds, for at most SECONDS of wall time; returns 1 after
# printing "<script>: timed out after SECONDS s waiting for WHAT" on stderr. When the sourcing script defines
# `wait_gave_up`, it is called after each failed try: output from it (a reason, such as "etcd exited") ends the wait
# at once with that reason, since what the wait depends on will never happen.

wait_until() {
  local what="$1" secs="$2" deadline reason
  shift 2
  deadline=$((SECONDS + secs))
  while ! "$@" >/dev/null 2>&1; do
    if declare -F wait_gave_up >/dev/null; then
      reason="$(wait_gave_up)"
      if [ -n "$reason" ]; then echo "$(basename "$0"): $reason while waiting for $what" >&2; return 1; fi
    fi
    # Strictly past the deadline: $SECONDS counts whole seconds, so the wait lasts at least the seconds asked for.
    if [ "$SECONDS" -gt "$deadline" ]; then
      echo "$(basename "$0"): timed out after ${secs} s waiting for $what" >&2
      return 1
    fi
    sleep 0.2
  done
}
