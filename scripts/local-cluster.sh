#!/usr/bin/env bash
# A local Kubernetes control plane on loopback for the cluster end-to-end tests and for trying the project against a
# cluster without one: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok, which registers fake
# Nodes and marks the Pods scheduled on them Running and Ready, so Deployments roll out without a container runtime.
#
#   scripts/local-cluster.sh start    start it (builds the binaries first when they are not cached), wait until a Node
#                                     is Ready and the controllers work, then print the `env` lines
#   scripts/local-cluster.sh stop     stop every process it started and delete its data directory
#   scripts/local-cluster.sh status   one line per component; exit 0 when all run and the API server is ready
#   scripts/local-cluster.sh restart-apiserver
#                                     stop the API server (TERM, as a node's restart would) and start it again with the
#                                     same flags, certificates and port; wait until it is ready. Its log so far is kept
#                                     as logs/kube-apiserver.<n>.log (the end-to-end leak scan reads every log)
#   scripts/local-cluster.sh env      `export KUBECONFIG=...` and `export PATH=...` (kubectl of the same version), for
#                                     `eval "$(scripts/local-cluster.sh env)"`
#
# Environment:
#   SOPHIA_CLUSTER_DIR    data directory: certificates, kubeconfigs, etcd data, logs, pid files
#                         (default: ${TMPDIR:-/tmp}/sophia-cluster-<uid>); never inside the repository
#   SOPHIA_CLUSTER_NODES  number of kwok fake Nodes (default: 1)
#   SOPHIA_ETCD           another etcd binary (default: etcd 3.6.4, built with the control plane). Debian's 3.4.23
#                         works, but kwok then needs ~20 s to notice a deleted pod (no streaming lists in etcd < 3.4.31)
#   SOPHIA_TOOLCHAIN_CACHE, GOCACHE, ...  see scripts/install-cluster-tools.sh
#
# Everything listens on 127.0.0.1 only, on ports the kernel picks free at start. etcd speaks plain HTTP on loopback;
# the API server serves TLS with a CA generated per start, and clients authenticate with certificates: `admin`
# (system:masters, the kubeconfig for users and kwok), the controller manager (also in system:masters), the scheduler.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib/wait.sh
. "$root/scripts/lib/wait.sh"
state="${SOPHIA_CLUSTER_DIR:-${TMPDIR:-/tmp}/sophia-cluster-$(id -u)}"
nodes="${SOPHIA_CLUSTER_NODES:-1}"
# Start order; stop goes the other way.
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
launched=()

log() { echo "local-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

case "$state" in
  "$root" | "$root"/*) die "SOPHIA_CLUSTER_DIR ($state) lies inside the repository; choose a directory outside it" ;;
esac

pid_of() { [ -f "$state/run/$1.pid" ] && cat "$state/run/$1.pid"; }

# Running and really ours: the pid file's process still executes the binary we started (guards against pid reuse).
alive() {
  local pid exe
  pid="$(pid_of "$1")" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 1
  [ "$(basename "$exe")" = "$(cat "$state/run/$1.bin")" ]
}

kubectl_() { "$(cat "$state/run/kubectl.path")" --kubeconfig "$state/admin.kubeconfig" "$@"; }

api_ready() { [ -f "$state/run/kubectl.path" ] && kubectl_ get --raw /readyz >/dev/null 2>&1; }

print_env() {
  [ -f "$state/admin.kubeconfig" ] ||
    die "not started (no $state/admin.kubeconfig); run: scripts/local-cluster.sh start"
  printf 'export KUBECONFIG=%q\n' "$state/admin.kubeconfig"
  # shellcheck disable=SC2016 # $PATH stays literal: it expands where the line is eval-ed.
  printf 'export PATH=%q:"$PATH"\n' "$(dirname "$(cat "$state/run/kubectl.path")")"
}

status() {
  local c ok=0
  for c in "${components[@]}"; do
    if alive "$c"; then echo "$c: running (pid $(pid_of "$c"))"; else echo "$c: stopped"; ok=1; fi
  done
  if api_ready; then echo "api: ready ($(grep -m1 'server:' "$state/admin.kubeconfig" | awk '{print $2}'))"
  else echo "api: not ready"; ok=1; fi
  return "$ok"
}

stop() {
  # All at once: each takes about 2 s to exit gracefully, and nothing of the cluster outlives the stop (the data is
  # deleted), so the order in which clients lose the API server does not matter.
  stop_group "${components[@]}"
  # Delete only a directory this script made (SOPHIA_CLUSTER_DIR might point anywhere).
  if [ "${1:-}" != keep ] && [ -f "$state/.sophia-local-cluster" ]; then rm -rf "$state"; fi
}

stop_group() {
  local c pid n pids=()
  for c in "$@"; do
    alive "$c" || continue
    pid="$(pid_of "$c")"
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$c:$pid")
  done
  for c in "${pids[@]}"; do
    pid="${c#*:}"
    # Graceful first (etcd and the API server flush); a process that hangs is killed after 15 s (stop_grace, in
    # tenths of a second).
    for ((n = 0; n < ${stop_grace:-150}; n++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "${c%%:*} (pid $pid) ignored TERM; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped ${c%%:*}"
  done
}

# Ports the kernel hands out free right now (bound then released; a race with another process is possible but rare).
free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

# Certificates: ECDSA P-256 (fast to generate; Kubernetes accepts them everywhere), valid 30 days.
ca() {
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$pki/ca.key" -subj "/CN=sophia-local-cluster-ca" -days 30 -out "$pki/ca.crt" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
cert() { # name subject extendedKeyUsage [subjectAltName]
  local name="$1" subj="$2" eku="$3" san="${4:-}" ext
  ext="$pki/$name.ext"
  { echo "basicConstraints=critical,CA:FALSE"; echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"; [ -z "$san" ] || echo "subjectAltName=$san"; } >"$ext"
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/$name.key" 2>/dev/null
  openssl req -new -key "$pki/$name.key" -subj "$subj" -out "$pki/$name.csr" 2>/dev/null
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 30 \
    -extfile "$ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$ext"
}
# A self-contained kubeconfig (certificates inline), so it can be copied or stored as a Pulumi config secret.
kubeconfig() { # file user
  local b64='base64 -w0'
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sophia-local
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority-data: $($b64 <"$pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $($b64 <"$pki/$2.crt")
    client-key-data: $($b64 <"$pki/$2.key")
contexts:
- name: sophia-local
  context:
    cluster: sophia-local
    user: $2
current-context: sophia-local
EOF
  chmod 600 "$1"
}

launch() { # component binary args...
  local c="$1" bin="$2"
  shift 2
  basename "$bin" >"$state/run/$c.bin"
  # The command line, NUL-separated, so restart-apiserver starts the same process again.
  printf '%s\0' "$bin" "$@" >"$state/run/$c.args"
  launched+=("$c")
  setsid "$bin" "$@" >"$state/logs/$c.log" 2>&1 </dev/null &
  echo $! >"$state/run/$c.pid"
}

# A component that died will not come up: wait_until (scripts/lib/wait.sh) says so now rather than at the timeout.
wait_gave_up() {
  local c
  for c in "${launched[@]}"; do alive "$c" || { echo "$c exited"; return; }; done
}

# On a failed start: the tail of every log, then stop what did start.
fail_start() {
  local c
  for c in "${components[@]}"; do
    [ -f "$state/logs/$c.log" ] || continue
    log "--- last lines of $state/logs/$c.log"
    tail -n 15 "$state/logs/$c.log" >&2
  done
  stop keep
  die "start failed; logs kept in $state/logs (scripts/local-cluster.sh stop deletes them)"
}

start() {
  if status >/dev/null 2>&1; then log "already running"; print_env; return 0; fi
  stop # leftovers of a crashed or half-stopped run
  local etcd k8s_bin kwok_bin dirs
  command -v openssl >/dev/null || die "openssl is missing (it generates the cluster's certificates)"
  command -v python3 >/dev/null || die "python3 is missing (it picks free ports)"
  dirs="$("$root/scripts/install-cluster-tools.sh" kube kwok)" || die "building the cluster binaries failed"
  k8s_bin="$(sed -n 1p <<<"$dirs")"
  kwok_bin="$(sed -n 2p <<<"$dirs")"
  etcd="${SOPHIA_ETCD:-$k8s_bin/etcd}"
  [ -x "$etcd" ] || die "SOPHIA_ETCD ($etcd) is not an executable"

  local t0=$SECONDS
  if [ -d "$state" ] && [ -n "$(ls -A "$state")" ] && [ ! -f "$state/.sophia-local-cluster" ]; then
    die "$state exists and is not a local cluster's directory; set SOPHIA_CLUSTER_DIR to a new or empty directory"
  fi
  mkdir -p "$state"/{pki,etcd,logs,run}
  touch "$state/.sophia-local-cluster"
  chmod 700 "$state"
  echo "$k8s_bin/kubectl" >"$state/run/kubectl.path"
  trap fail_start ERR

  local etcd_port peer_port
  read -r etcd_port peer_port api_port <<<"$(free_ports 3)"
  pki="$state/pki"
  ca
  cert kube-apiserver "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc"
  cert admin "/O=system:masters/CN=admin" clientAuth
  cert kube-controller-manager "/O=system:masters/CN=system:kube-controller-manager" clientAuth
  cert kube-scheduler "/CN=system:kube-scheduler" clientAuth
  openssl ecparam -name prime256v1 -genkey -noout -out "$pki/service-account.key" 2>/dev/null
  openssl ec -in "$pki/service-account.key" -pubout -out "$pki/service-account.pub" 2>/dev/null
  kubeconfig "$state/admin.kubeconfig" admin
  kubeconfig "$state/kube-controller-manager.kubeconfig" kube-controller-manager
  kubeconfig "$state/kube-scheduler.kubeconfig" kube-scheduler

  launch etcd "$etcd" --name sophia --data-dir "$state/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "sophia=http://127.0.0.1:$peer_port" --log-level warn
  wait_until "etcd" 30 curl -fsS "http://127.0.0.1:$etcd_port/health"

  # No endpoint reconciler: it would publish 127.0.0.1 as the `kubernetes` Service's endpoint, which is rejected.
  launch kube-apiserver "$k8s_bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$pki/kube-apiserver.crt" --tls-private-key-file "$pki/kube-apiserver.key" \
    --client-ca-file "$pki/ca.crt" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$pki/service-account.pub" \
    --service-account-signing-key-file "$pki/service-account.key" \
    --service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none --profiling=false
  wait_until "kube-apiserver /readyz" 120 kubectl_ get --raw /readyz

  # The controllers share the manager's identity, in system:masters. The bootstrap roles are written for one
  # ServiceAccount per controller (--use-service-account-credentials), but creating those accounts and their tokens
  # one controller after the other makes a start 5 s slower; a throwaway loopback cluster does not need the split.
  launch kube-controller-manager "$k8s_bin/kube-controller-manager" \
    --kubeconfig "$state/kube-controller-manager.kubeconfig" --leader-elect=false --secure-port 0 \
    --root-ca-file "$pki/ca.crt" --service-account-private-key-file "$pki/service-account.key" \
    --use-service-account-credentials=false --profiling=false
  launch kube-scheduler "$k8s_bin/kube-scheduler" \
    --kubeconfig "$state/kube-scheduler.kubeconfig" --leader-elect=false --secure-port 0 --profiling=false
  # kwok manages only Nodes annotated as its own; it needs no port of its own (--server-address empty).
  launch kwok "$kwok_bin/kwok" --kubeconfig "$state/admin.kubeconfig" --config="$kwok_bin/../kwok.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
    --cidr=10.244.0.0/16 --node-ip=10.0.1.1

  local i
  for ((i = 0; i < nodes; i++)); do
    kubectl_ apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "250"}
  capacity: {cpu: "32", memory: 256Gi, pods: "250"}
EOF
  done
  wait_until "kwok to make the Nodes Ready" 60 kubectl_ wait --for=condition=Ready node --all --timeout=1s
  # The controller manager is working once it has created the `default` ServiceAccount (Pods need it to be admitted).
  wait_until "the controller manager" 60 kubectl_ get serviceaccount default --namespace default
  for c in "${components[@]}"; do alive "$c" || { log "$c exited"; false; }; done
  trap - ERR
  log "ready in $((SECONDS - t0)) s: $nodes kwok node(s), API at https://127.0.0.1:$api_port, data in $state"
  print_env
}

restart_apiserver() {
  local c=kube-apiserver n=1 args
  [ -f "$state/run/$c.args" ] || die "not started (no $state/run/$c.args); run: scripts/local-cluster.sh start"
  alive "$c" || die "$c is not running"
  local t0=$SECONDS
  # The API server stops serving within a second of TERM, but its shutdown then hangs (after the quota evaluator)
  # until it is killed: waiting 15 s for it would only slow the restart down.
  stop_grace=30 stop_group "$c"
  while [ -e "$state/logs/$c.$n.log" ]; do n=$((n + 1)); done
  mv "$state/logs/$c.log" "$state/logs/$c.$n.log"
  mapfile -d '' args <"$state/run/$c.args"
  launch "$c" "${args[@]}"
  wait_until "kube-apiserver /readyz after the restart" 120 kubectl_ get --raw /readyz
  log "restarted $c in $((SECONDS - t0)) s"
}

case "${1:-}" in
  start) start ;;
  restart-apiserver) restart_apiserver ;;
  stop) stop ;;
  status) status ;;
  env) print_env ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' ;;
  *) die "usage: scripts/local-cluster.sh start|stop|status|restart-apiserver|env" ;;
esac
