#!/usr/bin/env bash
# The benchmark peer of `scripts/local-cluster.sh start|stop` (BENCHMARKS.md, "Local control plane"): kwok's own
# launcher, `kwokctl --runtime binary`, on the same binaries, waiting for what `start` waits for (a Ready node and the
# controller manager's `default` ServiceAccount). Its state lives in a scratch HOME, never in yours.
#
#   tests/e2e/cluster/kwokctl-peer.sh start|stop
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../../../scripts/lib/wait.sh
. "$root/scripts/lib/wait.sh"
kube="$("$root/scripts/install-cluster-tools.sh" kube)"
kwok="$("$root/scripts/install-cluster-tools.sh" kwok)"
kwokctl="$("$root/scripts/install-cluster-tools.sh" kwokctl)/kwokctl"
HOME="${TMPDIR:-/tmp}/sophia-kwokctl-peer-$(id -u)"
export HOME
mkdir -p "$HOME"
k() { "$kube/kubectl" --context kwok-peer "$@"; }
case "${1:-}" in
  start)
    "$kwokctl" create cluster --name peer --runtime binary --kube-apiserver-binary "$kube/kube-apiserver" \
      --kube-controller-manager-binary "$kube/kube-controller-manager" --kube-scheduler-binary "$kube/kube-scheduler" \
      --etcd-binary "$kube/etcd" --kwok-controller-binary "$kwok/kwok" --wait 120s >/dev/null 2>&1
    "$kwokctl" scale node --name peer --replicas 1 >/dev/null 2>&1
    # The same bounds as scripts/local-cluster.sh start.
    wait_until "kwok to make the node Ready" 60 k wait --for=condition=Ready node --all --timeout=1s
    wait_until "the controller manager's default ServiceAccount" 60 k get serviceaccount default ;;
  stop) "$kwokctl" delete cluster --name peer >/dev/null 2>&1 || true ;;
  *) echo "usage: tests/e2e/cluster/kwokctl-peer.sh start|stop" >&2; exit 2 ;;
esac
