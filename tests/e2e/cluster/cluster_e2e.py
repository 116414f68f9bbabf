#!/usr/bin/env python3
"""Rollouts on a real Kubernetes control plane: rotate one key, and exactly the Deployments that use it roll.

Run it through tests/e2e/cluster/run.sh, which builds what it needs (the Pulumi toolchain, the control plane, the
release binaries) and puts the tools on PATH. Standard library only; kubectl and pulumi are the only clients.

Against a local control plane (scripts/local-cluster.sh, started here in a private directory and stopped at the end:
etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok fake nodes), in a temporary copy of the project
with its own file backend and a fresh stack whose config holds the cluster's kubeconfig:
  1. `pulumi up --yes`: every Deployment the stack declares becomes Available on a kwok node
  2. `pulumi up --expect-no-changes`: no new ReplicaSet, no pod replaced, no Secret touched
  3. `pulumi config set --secret openai-key NEW` + `pulumi up`: a new ReplicaSet for exactly the Deployments whose
     Secret carries that key (their pods all end with the new `pod-template-hash`); every other Deployment keeps its
     ReplicaSets and pods; every Secret keeps its UID (updated in place, never deleted and recreated); each rolled
     pod's environment (`envFrom` its Secret, read through the API) holds the new value and not the old one
  4. `kubectl delete secret` of one Secret, then `pulumi up`: Pulumi diffs against its state, so the Secret is back
     only if Pulumi.yaml refreshes first (`options: refresh: always`), else after `pulumi up --refresh` (both asserted);
     it comes back with the same content, and no Deployment rolls
  5. `pulumi refresh --expect-no-changes`: no drift
  3b. A database credential rotated for real: a PostgreSQL server of the run's own (initdb/pg_ctl on loopback),
     environment `e2e/db` with a `postgres` rotator (first rotated before step 1), projected through `pulumiConfig`
     into one service's Secret. `sophia status` exit 0; `sophia esc rotate`, and `sophia impact` against the deployed
     state says exactly that service rolls; with every node cordoned (the rollout held) a `pulumi up` (running until
     the nodes are uncordoned) makes `sophia status` exit 1 naming exactly its old pods with the rotated env vars;
     both credentials log in; a second `sophia esc rotate` is refused naming the Deployment and pods, changing
     nothing; uncordoned, exactly that service has rolled, status exit 0, one SecretsChanged Event, `sophia history`
     names each rollout's deployer and commit as its pod template recorded them (the held rotation's by a second
     deployer) and a later no-op `pulumi up` by a third from another commit changes no ReplicaSet and no line of it;
     the second rotation succeeds, and after its up the
     oldest credential no longer logs in while the other two do; `sophia audit log --verify` passes, and fails after
     one entry is edited
  3c. the rollout gate: the stack also takes `redis-url` from an environment with a `password` rotator; with the
     rollout held (nodes cordoned) after a rotation, `sophia esc rotate` refuses (exit 1) naming every consuming
     Deployment and its old pods, changes nothing and logs the refusal; `--force` rotates and says so; once the
     rollouts complete a plain rotation passes the gate and leaves a `SecretRotated` Event on each consuming
     Deployment (environment, path and config key named, never a value)
  7. faults (run before the scan of step 6, which covers them), each from a converged stack, rotating `openai-key`:
     the Pulumi CLI SIGKILLed once the new Secret is in the cluster, and (apart) our provider SIGKILLed as soon as
     the engine launched it (that `pulumi up` must fail); either way any plugin left running is killed, a stack lock
     left behind is deleted with `pulumi cancel` (the file backend locks stacks during updates), pending
     operations the checkpoint holds are cleared as Pulumi documents it, by `pulumi refresh` (with
     `--clear-pending-creates` for a pending create, of which there are none here), and the next `pulumi up` converges
     (`pulumi preview --expect-no-changes`, no pending operation left) with exactly the key's users rolled once (one
     new ReplicaSet, revision +1) and no other Deployment rolled. Then kube-apiserver restarted
     (`scripts/local-cluster.sh restart-apiserver`) while a held `pulumi up` waits for its rollout: the up survives,
     `sophia status` exit 1 names exactly the users' old pods, and released the rollout completes once, status exit
     0, and a further `pulumi up --expect-no-changes` makes no ReplicaSet.
  6. no secret value (stack config, generated database passwords, the managing password, the ESC passphrase), plain,
     base64 or hex, in any pulumi, sophia or psql output, the state files and exports, the project's files, the
     audit log, any control-plane log, or PostgreSQL's statement log
Values are compared in this process; nothing here prints one.

Skips (exit 0; exit 1 with SOPHIA_E2E_REQUIRE=1) when a tool, a binary under test or PostgreSQL is missing.
tests/e2e/cluster/selftest.sh shows it can fail: SOPHIA_CLUSTER_E2E_SABOTAGE=extra-rollout restarts one Deployment that
does not use the rotated key, and the run must fail naming it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import harness as h  # noqa: E402 (tests/e2e/harness.py, found through the path above)
from harness import RELEASE, ROOT, Failure, Skip  # noqa: E402

BINARIES = ("sophia-program", "pulumi-resource-sophia", "sophia")
TOOLS = ("pulumi", "pulumi-language-go", "pulumi-resource-kubernetes", "kubectl")
STACK = "cluster"
NAMESPACE = "sophia"
ROTATED_KEY = "openai-key"
SECRET_KEYS = ("hashKey", "database-url", "openai-key", "serpapi-key", "perplexity-key", "anthropic-key", "redis-url")
PASSPHRASE = "sophia-cluster-e2e-passphrase"
# The rollout gate's environment: a password rotator projected into `redis-url`.
GATED_ENV = "sophia/rotated"
GATED_KEY = "redis-url"
GATED_URL = "redis://:{password}@redis.sophia.internal:6379/0"
ROLLOUT_TIMEOUT = 180
# The held rotation is deployed by someone else from another commit, and a later no-op deploy by a third.
ROTATOR = {"GITHUB_ACTOR": "e2e-rotator", "GITHUB_SHA": "e2e1rotation"}
LATER = {"GITHUB_ACTOR": "e2e-later", "GITHUB_SHA": "e2e2later"}
# The rotated database credential: environment DB_ENV's `postgres` rotator at DB_PATH, projected into config keys
# that only DB_SERVICE (added to the copy's services.yaml) takes, as DB_KEYS.
DB_ENV = "e2e/db"
DB_PATH = "creds"
DB_SERVICE = "mcp-ledger"
DB_KEYS = ["DB_PASSWORD", "DB_USER"]
PG_BIN = Path("/usr/lib/postgresql/15/bin")


log = h.logger("cluster-e2e")


class Run(h.Session):
    """A temporary project copy, its Pulumi home and file backend, and a local cluster; every output is kept."""

    def __init__(self, keep: bool) -> None:
        super().__init__("sophia-cluster-e2e-", keep, {"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
                                                       "GITHUB_ACTOR": "e2e-deployer", "GITHUB_SHA": "e2e0commit"})
        self.cluster_dir = self.tmp / "cluster"
        self.kubeconfig = ""
        self.env["SOPHIA_CLUSTER_DIR"] = str(self.cluster_dir)
        self.env["SOPHIA_AUDIT_LOG"] = str(self.tmp / "audit.jsonl")
        self.env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
        self.env.pop("KUBECONFIG", None)
        # Who deploys comes from GITHUB_ACTOR / GITHUB_SHA here; these would take precedence.
        for var in ("SOPHIA_DEPLOYER", "SOPHIA_COMMIT", "SOPHIA_ESC_REVISION"):
            self.env.pop(var, None)
        # The key of the rotated state in environment files: generated, so the leak scan can look for it.
        self.env["SOPHIA_ESC_PASSPHRASE"] = secrets.token_hex(16)
        self.env.pop("SOPHIA_ESC_PASSPHRASE_FILE", None)
        self.postgres: Postgres | None = None

    def timed(self, label: str, cmd: list[str], ok: bool = True, timeout: int = 900, **kw) -> str:
        """Runs `cmd` (recorded, timed); returns its stdout."""
        return self.run(label, cmd, expect=0 if ok else None, timeout=timeout, **kw).stdout

    def sophia(self, *args: str, label: str = "", expect: int = 0) -> str:
        """Runs the sophia CLI in the project; its exit code must be `expect`."""
        return self.sophia_both(*args, label=label, expect=expect)[0]

    def sophia_both(self, *args: str, label: str = "", expect: int = 0) -> tuple[str, str]:
        """`sophia`, returning stdout and stderr."""
        proc = self.run("sophia " + (label or " ".join(args[:2])), [RELEASE / "sophia", *args], expect=expect,
                        cwd=self.project, timeout=300, tail=4000)
        return proc.stdout, proc.stderr

    def rotated_passwords(self) -> set[str]:
        """The gated environment's current and previous passwords, read in this process only (never logged)."""
        # Not a log to scan: it holds the passwords by design.
        proc = self.run(f"sophia esc open {GATED_ENV}", [RELEASE / "sophia", "esc", "open", GATED_ENV, "--show-secrets"],
                        cwd=self.project, timeout=120, record=False, tail=2000)
        creds = json.loads(proc.stdout)["creds"]
        passwords = {v for k, v in creds.items() if k in ("current", "previous")}
        # The projected URL too: its base64 (a Secret's data) need not contain the password's.
        return passwords | {GATED_URL.format(password=p) for p in passwords}

    def kubectl(self, *args: str, ok: bool = True) -> str:
        cmd = ["kubectl", "--kubeconfig", str(self.cluster_dir / "admin.kubeconfig"), *args]
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=ROLLOUT_TIMEOUT + 30)
        if ok and proc.returncode != 0:
            raise Failure(f"`kubectl {' '.join(args)}` exited {proc.returncode}: {proc.stderr[-2000:]}")
        return proc.stdout

    def get(self, kind: str, name: str = "") -> list[dict] | dict:
        out = json.loads(self.kubectl("get", kind, *([name] if name else []), "-n", NAMESPACE, "-o", "json"))
        return out if name else out["items"]

    def cluster(self, action: str) -> str:
        return self.timed(f"local-cluster {action}", [str(ROOT / "scripts" / "local-cluster.sh"), action], timeout=1800)

    def close(self) -> None:
        if self.postgres:
            self.postgres.stop(keep=self.keep)
        try:
            self.cluster("stop")
        except Failure as e:
            log(f"stopping the cluster failed: {e}")
        super().close(log)


class Postgres:
    """A PostgreSQL server of the run's own: `initdb`/`pg_ctl` as the `postgres` OS user (initdb refuses root) in a
    private temporary directory, TCP on loopback only with scram-sha-256, every statement logged (so the leak scan
    reads what the server received). Users: the managing one the rotator logs in as, and the two it rotates."""

    DATABASE = "app"
    MANAGER = "rotation_manager"
    USERS = ("app_blue", "app_green")

    def __init__(self, run: Run) -> None:
        self.run = run
        # root runs the server as `postgres`, which must own its directory and reach it (so /tmp, whatever TMPDIR
        # says: a private TMPDIR is not traversable by another user).
        self.as_owner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        self.dir = Path(tempfile.mkdtemp(prefix="sophia-e2e-pg-", dir="/tmp" if self.as_owner else None))
        if self.as_owner:
            shutil.chown(self.dir, "postgres", "postgres")
        self.log_file = self.dir / "server.log"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.manager_password = secrets.token_urlsafe(24)
        self.started = False

    def owner(self, label: str, *cmd: str, **kw) -> str:
        return self.run.timed(label, [*self.as_owner, *cmd], cwd=self.dir, timeout=120, **kw)

    def start(self) -> None:
        data = str(self.dir / "data")
        self.owner("initdb", str(PG_BIN / "initdb"), "-D", data, "-U", "postgres", "--auth-local=trust",
                   "--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.dir} "
                   "-c log_statement=all -c fsync=off")
        self.owner("pg_ctl start", str(PG_BIN / "pg_ctl"), "-D", data, "-l", str(self.log_file), "-w", "-t", "60",
                   "-o", options, "start")
        self.started = True
        # Passwords reach the server as SCRAM verifiers, as the rotator sends them: none in its statement log.
        users = "".join(f"CREATE ROLE {u} LOGIN;\n" for u in self.USERS)
        sql = (f"CREATE DATABASE {self.DATABASE};\n"
               f"CREATE ROLE {self.MANAGER} LOGIN CREATEROLE PASSWORD '{scram_verifier(self.manager_password)}';\n"
               f"{users}")
        self.owner("psql (roles)", str(PG_BIN / "psql"), "-h", str(self.dir), "-p", str(self.port), "-U", "postgres",
                   "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-q", input=sql)

    def logs_in(self, user: str, password: str) -> bool:
        """Whether `user` logs in with `password` over TCP; any failure but a refused password is a test failure."""
        env = dict(self.run.env, PGPASSWORD=password, PGCONNECT_TIMEOUT="10")
        cmd = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", user, "-d", self.DATABASE, "-w",
               "-tAc", "SELECT current_user"]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        self.run.outputs.append(proc.stdout + proc.stderr)
        if proc.returncode == 0 and proc.stdout.strip() == user:
            return True
        if "password authentication failed" not in proc.stderr:
            raise Failure(f"logging in as {user} failed otherwise than by its password: {proc.stderr[-1000:]}")
        return False

    def stop(self, keep: bool) -> None:
        if self.started:
            try:
                self.owner("pg_ctl stop", str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "fast", "-w",
                           "-t", "60", "stop")
            except (Failure, subprocess.TimeoutExpired) as e:
                log(f"stopping PostgreSQL failed: {e}")
        if keep:
            log(f"kept PostgreSQL data in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


def scram_verifier(password: str) -> str:
    """PostgreSQL's stored form of a scram-sha-256 password (RFC 5802/7677, 4096 iterations)."""
    salt, iterations = secrets.token_bytes(16), 4096
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored)}:{b64(server)}"


def check_preconditions() -> None:
    h.check_preconditions(TOOLS, BINARIES, "tests/e2e/cluster/run.sh installs them")
    if not (PG_BIN / "initdb").is_file():
        raise Skip(f"PostgreSQL 15 is not installed ({PG_BIN}/initdb; .ci/run installs it)")


def init_stack(run: Run) -> dict[str, str]:
    """A fresh stack: every pinned secret generated, the local cluster's kubeconfig as a secret. Returns the values."""
    run.login_file_backend()
    run.pulumi("stack", "init", STACK, "--secrets-provider", "passphrase")
    values = {key: f"e2e-{key}-{secrets.token_hex(12)}" for key in SECRET_KEYS}
    for key, value in values.items():
        run.pulumi("config", "set", "--secret", key, value, label="config set --secret")
    run.pulumi("config", "set", "log-level", "info", label="config set")
    run.pulumi("config", "set", "namespace", NAMESPACE, label="config set")
    set_kubeconfig(run)
    return values


def set_kubeconfig(run: Run) -> None:
    """The local cluster's admin kubeconfig as the stack's secret `kubeconfig`: through stdin, since it holds the
    admin's private key."""
    run.kubeconfig = (run.cluster_dir / "admin.kubeconfig").read_text()
    run.set_secret_from_stdin("kubeconfig", run.kubeconfig)


def init_database(run: Run) -> None:
    """The rotated credential: a PostgreSQL server, environment DB_ENV with a `postgres` rotator whose managing
    password is set encrypted (`sophia esc set --secret`), the stack importing it, exactly one service taking it, and a
    first rotation (no previous credential yet) so the first `pulumi up` has one."""
    pg = run.postgres = Postgres(run)
    pg.start()
    env_file = run.project / "environments" / f"{DB_ENV}.yaml"
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text(
        f"""# ESC environment `{DB_ENV}`: the database credential the cluster test rotates, on its own PostgreSQL.
values:
  manager:
    password: set-by-esc-set
  {DB_PATH}:
    fn::rotate::postgres:
      inputs:
        database:
          host: 127.0.0.1
          port: {pg.port}
          database: {pg.DATABASE}
          managingUser:
            username: {pg.MANAGER}
            password: ${{manager.password}}
        rotateUsers:
          username1: {pg.USERS[0]}
          username2: {pg.USERS[1]}
  pulumiConfig:
    app-db-user: ${{{DB_PATH}.current.username}}
    app-db-password: ${{{DB_PATH}.current.password}}
"""
    )
    # `--` ends the options: a generated password may begin with `-`.
    run.sophia("esc", "set", "--secret", "--", DB_ENV, "manager.password", pg.manager_password, label="esc set --secret")
    with (run.project / "services.yaml").open("a") as f:
        f.write(f"\n  {DB_SERVICE}:\n    image: ghcr.io/ai-cherry/{DB_SERVICE}:1.0.0\n    port: 8080\n    env:\n"
                "      DB_USER: app-db-user\n      DB_PASSWORD: app-db-password\n")
    run.pulumi("config", "set", "--path", "environments[0]", DB_ENV, label="config set")
    if run.sophia("esc", "rotate", DB_ENV, label="esc rotate (first)").strip() != f"{DB_PATH}: succeeded":
        raise Failure(f"the first rotation of {DB_ENV} did not succeed: {run.outputs[-1][-2000:]}")


# --- what the cluster holds ------------------------------------------------------------------------------------------


def replica_sets(run: Run) -> dict[str, set[str]]:
    """Deployment name -> names of its ReplicaSets (every revision, scaled down or not)."""
    out: dict[str, set[str]] = {}
    for rs in run.get("replicasets"):
        owner = next((o["name"] for o in rs["metadata"].get("ownerReferences", []) if o["kind"] == "Deployment"), "")
        out.setdefault(owner, set()).add(rs["metadata"]["name"])
    return out


def pods(run: Run) -> dict[str, dict[str, dict]]:
    """Deployment name -> pod name -> pod, for pods not being deleted (app label as the Deployment's selector)."""
    by_rs = {rs["metadata"]["name"]: rs for rs in run.get("replicasets")}
    out: dict[str, dict[str, dict]] = {}
    for pod in run.get("pods"):
        if pod["metadata"].get("deletionTimestamp"):
            continue
        rs = next((o["name"] for o in pod["metadata"].get("ownerReferences", []) if o["kind"] == "ReplicaSet"), "")
        owner = by_rs.get(rs, {}).get("metadata", {}).get("ownerReferences", [{}])[0].get("name", "")
        out.setdefault(owner, {})[pod["metadata"]["name"]] = pod
    return out


def secret_uids(run: Run) -> dict[str, str]:
    return {s["metadata"]["name"]: s["metadata"]["uid"] for s in run.get("secrets") if s.get("type") == "Opaque"}


def secret_data(run: Run, name: str) -> dict[str, str]:
    """A Secret's data, decoded, in this process only."""
    return h.decode_secret(run.get("secret", name))


@contextlib.contextmanager
def held_up(run: Run, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """A `pulumi up` whose rollout is held: with every node cordoned the new pods stay Pending and the old ones keep
    running. (Pausing the Deployments does not hold it: the next `pulumi up` applies the whole spec and leaves them
    unpaused.) Yields the running `pulumi up`; on leaving, uncordons the nodes and, when the body succeeded, waits for
    the up to finish, which must succeed."""
    nodes = run.kubectl("get", "nodes", "-o", "name").split()
    for node in nodes:
        run.kubectl("cordon", node)
    up = subprocess.Popen(
        ["pulumi", "up", "--yes", "--skip-preview", "--non-interactive", "--color", "never"],
        cwd=run.project, env=env or run.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        yield up
    finally:
        for node in nodes:
            run.kubectl("uncordon", node, ok=False)
    try:
        out, _ = up.communicate(timeout=ROLLOUT_TIMEOUT + 120)
    except subprocess.TimeoutExpired:
        up.kill()
        raise
    run.outputs.append(out)
    if up.returncode != 0:
        raise Failure(f"the held `pulumi up` failed after resuming:\n{out[-4000:]}")


def exited(proc: subprocess.Popen) -> str | None:
    """Why a wait on what `proc` does is pointless: it has exited (None while it runs)."""
    return None if proc.poll() is None else f"`pulumi up` exited {proc.returncode}"


def wait_available(run: Run, deployments: list[str]) -> None:
    """Every Deployment fully rolled out: its newest ReplicaSet owns all replicas and they are Ready."""
    deadline = time.monotonic() + ROLLOUT_TIMEOUT
    start = time.monotonic()
    for name in deployments:
        left = max(1, int(deadline - time.monotonic()))
        run.kubectl("rollout", "status", f"deployment/{name}", "-n", NAMESPACE, f"--timeout={left}s")
    for d in run.get("deployments"):
        if d["metadata"]["name"] not in deployments:
            continue
        st, want = d.get("status", {}), d["spec"].get("replicas", 1)
        cond = {c["type"]: c["status"] for c in st.get("conditions", [])}
        if cond.get("Available") != "True" or st.get("availableReplicas") != want or st.get("updatedReplicas") != want:
            raise Failure(f"deployment {d['metadata']['name']} is not available: {json.dumps(st)[:800]}")
        if st.get("observedGeneration") != d["metadata"]["generation"]:
            raise Failure(f"deployment {d['metadata']['name']}: controller has not observed the latest generation")
    run.timings.append((f"rollout of {len(deployments)} deployment(s)", time.monotonic() - start))


def pods_on_kwok(run: Run) -> None:
    for owner, ps in pods(run).items():
        for name, pod in ps.items():
            node = pod["spec"].get("nodeName", "")
            ready = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}.get("Ready")
            if not node.startswith("kwok-node-") or pod["status"].get("phase") != "Running" or ready != "True":
                raise Failure(f"pod {name} of {owner} is not Running and Ready on a kwok node (node {node!r})")


def settle(run: Run, seconds: float = 5.0) -> None:
    """Give the controllers time to act on anything they would act on (a no-op must stay a no-op after this)."""
    time.sleep(seconds)


def pod_env_secret_names(pod: dict) -> set[str]:
    names = set()
    for c in pod["spec"]["containers"]:
        names.update(e["secretRef"]["name"] for e in c.get("envFrom", []) if "secretRef" in e)
        names.update(
            e["valueFrom"]["secretKeyRef"]["name"] for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})
        )
    return names


# --- the scenario ----------------------------------------------------------------------------------------------------


def scenario(run: Run) -> None:
    run.cluster("start")
    log(f"local control plane up in {run.timings[-1][1]:.1f} s")
    h.copy_project(run.project, BINARIES)
    values = init_stack(run)
    init_database(run)
    known = set(values.values()) | {run.env["SOPHIA_ESC_PASSPHRASE"], run.postgres.manager_password}
    # The admin's private key travels as a secret config value too: it must not leak either.
    known.update(
        line.split(":", 1)[1].strip()
        for line in run.kubeconfig.splitlines()
        if line.strip().startswith("client-key-data:")
    )
    # The namespace is not created by hand: the program declares it and registers it before anything in it.
    if run.kubectl("get", "namespace", NAMESPACE, "--ignore-not-found", "-o", "name").strip():
        raise Failure(f"namespace {NAMESPACE} exists before the first up; the test must start without it")

    # 1. Create: the Namespace, then every Deployment Available, its pods Running and Ready on kwok nodes.
    run.pulumi("up", "--yes", "--skip-preview", label="up (create)")
    state = json.loads(run.pulumi("stack", "export", label="stack export"))
    namespaces = [
        r["inputs"]["metadata"]["name"]
        for r in state["deployment"]["resources"]
        if r["type"] == "kubernetes:core/v1:Namespace"
    ]
    if namespaces != [NAMESPACE]:
        raise Failure(f"the stack declares Namespaces {namespaces}, expected [{NAMESPACE!r}]")
    ns = json.loads(run.kubectl("get", "namespace", NAMESPACE, "-o", "json"))
    if ns["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") != "sophia-secrets":
        raise Failure(f"namespace {NAMESPACE} was not created by the program: labels {ns['metadata'].get('labels')}")
    log(f"namespace {NAMESPACE} created by the program")
    declared = sorted(
        r["inputs"]["metadata"]["name"]
        for r in state["deployment"]["resources"]
        if r["type"] == "kubernetes:apps/v1:Deployment"
    )
    if not declared:
        raise Failure("the stack declares no Deployment")
    live = sorted(d["metadata"]["name"] for d in run.get("deployments"))
    if live != declared:
        raise Failure(f"the cluster has Deployments {live}, the stack declares {declared}")
    wait_available(run, declared)
    pods_on_kwok(run)
    log(f"{len(declared)} deployments available: {declared}")

    # 2. No-op: nothing new in the cluster.
    rs0, pods0, uids0 = replica_sets(run), pods(run), secret_uids(run)
    versions0 = {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in run.get("secrets")}
    run.pulumi("up", "--yes", "--expect-no-changes", label="up (no-op)")
    settle(run)
    if replica_sets(run) != rs0:
        raise Failure(f"a no-op up changed the ReplicaSets: {rs0} -> {replica_sets(run)}")
    if {k: set(v) for k, v in pods(run).items()} != {k: set(v) for k, v in pods0.items()}:
        raise Failure("a no-op up replaced pods")
    if {s["metadata"]["name"]: s["metadata"]["resourceVersion"] for s in run.get("secrets")} != versions0:
        raise Failure("a no-op up wrote to a Secret")
    if any(len(v) != 1 for k, v in rs0.items() if k in declared):
        raise Failure(f"after the first up every Deployment should have one ReplicaSet: {rs0}")
    log("no-op up: no new ReplicaSet, no pod replaced, no Secret written")

    # 3. Rotate one key. Which Deployments use it is read from the cluster (whose Secret holds the old value), and
    # cross-checked with what the Secret each Deployment's pods take their env from.
    old = values[ROTATED_KEY]
    secret_of = {}
    for owner, ps in pods0.items():
        refs = set().union(*(pod_env_secret_names(p) for p in ps.values()))
        if len(refs) != 1:
            raise Failure(f"pods of {owner} take env from {len(refs)} Secrets; expected exactly one")
        secret_of[owner] = refs.pop()
    users = sorted(d for d in declared if old in secret_data(run, secret_of[d]).values())
    others = sorted(set(declared) - set(users))
    if not users or not others:
        raise Failure(f"rotating {ROTATED_KEY} must touch some Deployments and not others: users {users}")
    new = f"e2e-rotated-{secrets.token_hex(16)}"
    known.add(new)
    run.pulumi("config", "set", "--secret", ROTATED_KEY, new, label="config set --secret (rotate)")
    run.pulumi("up", "--yes", "--skip-preview", label="up (rotation)")
    if os.environ.get("SOPHIA_CLUSTER_E2E_SABOTAGE") == "extra-rollout":
        # Self-test (tests/e2e/cluster/selftest.sh): one rollout too many must fail the run.
        run.kubectl("rollout", "restart", f"deployment/{others[0]}", "-n", NAMESPACE)
    wait_available(run, declared)
    settle(run)
    rs1, pods1, uids1 = replica_sets(run), pods(run), secret_uids(run)
    for d in users:
        added = rs1.get(d, set()) - rs0.get(d, set())
        if len(added) != 1 or not rs0[d] <= rs1[d]:
            raise Failure(f"{d} uses {ROTATED_KEY}: expected one new ReplicaSet, got {rs0.get(d)} -> {rs1.get(d)}")
        new_hash = run.get("replicaset", added.pop())["metadata"]["labels"]["pod-template-hash"]
        hashes = {p["metadata"]["labels"].get("pod-template-hash") for p in pods1.get(d, {}).values()}
        if hashes != {new_hash}:
            raise Failure(f"{d}: pods carry pod-template-hash {sorted(map(str, hashes))}, expected only {new_hash}")
        for name, pod in pods1[d].items():
            envs = [secret_data(run, s) for s in pod_env_secret_names(pod)]
            if not any(new in e.values() for e in envs) or any(old in e.values() for e in envs):
                raise Failure(f"pod {name} of {d}: its environment does not hold the rotated {ROTATED_KEY}")
    for d in others:
        if rs1.get(d) != rs0.get(d):
            raise Failure(f"{d} does not use {ROTATED_KEY} but its ReplicaSets changed: {rs0.get(d)} -> {rs1.get(d)}")
        if set(pods1.get(d, {})) != set(pods0.get(d, {})):
            raise Failure(f"{d} does not use {ROTATED_KEY} but its pods were replaced")
    if not set(secret_of.values()) <= set(uids0):
        raise Failure(f"the Secrets the pods use {sorted(secret_of.values())} are not all among {sorted(uids0)}")
    if uids1 != uids0:
        raise Failure(f"a Secret was deleted and recreated instead of updated in place: {uids0} -> {uids1}")
    pods_on_kwok(run)
    log(f"rotation of {ROTATED_KEY}: new ReplicaSet for exactly {users}; {others} untouched; Secret UIDs kept")

    # 4. A Secret deleted by hand. Pulumi diffs against its state, not the cluster: a plain `pulumi up` restores it
    # only when the project refreshes first (Pulumi.yaml `options: refresh: always`); otherwise `pulumi up --refresh`
    # does. Both halves are asserted, so a change of either behaviour shows here.
    victim = secret_of[users[0]]
    before = secret_data(run, victim)
    run.kubectl("delete", "secret", victim, "-n", NAMESPACE)
    refresh_always = "refresh: always" in (run.project / "Pulumi.yaml").read_text()
    run.pulumi("up", "--yes", "--skip-preview", label="up (after a Secret was deleted)")
    exists = bool(run.kubectl("get", "secret", victim, "-n", NAMESPACE, "--ignore-not-found", "-o", "name").strip())
    if exists != refresh_always:
        raise Failure(
            f"after deleting secret {victim}, a plain `pulumi up` {'restored' if exists else 'did not restore'} it "
            f"(Pulumi.yaml {'sets' if refresh_always else 'does not set'} `refresh: always`)"
        )
    if not exists:
        run.pulumi("up", "--yes", "--refresh", "--skip-preview", label="up --refresh (restore)")
    restored = run.get("secret", victim)
    if restored["metadata"]["uid"] == uids1[victim]:
        raise Failure(f"secret {victim} has its old UID after being deleted")
    if secret_data(run, victim) != before:
        raise Failure(f"secret {victim} came back with different content")
    settle(run)
    if replica_sets(run) != rs1:
        raise Failure("restoring a deleted Secret rolled a Deployment")
    how = "`pulumi up` (refresh: always)" if refresh_always else "`pulumi up --refresh` (a plain `pulumi up` does not)"
    log(f"secret {victim} deleted by hand is restored by {how} with the same content; nothing rolled")

    # 5. No drift.
    run.pulumi("refresh", "--yes", "--expect-no-changes", label="refresh (no drift)")
    log("refresh: no drift")

    # 3b (after 4 and 5, which compare against the ReplicaSets of step 3). The database credential's rotation.
    rotation_phase(run, users, others, known)

    # 3c (after 3b, which checks the access log holds only its own entries). The rollout gate of `sophia esc rotate`.
    gate_phase(run, declared, known)

    # 7 (before the leak scan, which covers its outputs). Faults: the Pulumi CLI and our provider killed mid-update,
    # the API server restarted mid-rollout.
    fault_phases(run, declared, users, known)

    # 6. No secret value in any output of this run or in the control plane's logs.
    haystacks = {f"output {i}": out for i, out in enumerate(run.outputs)}
    for p in sorted((run.cluster_dir / "logs").glob("*.log")):
        haystacks[p.name] = p.read_text(errors="replace")
    haystacks.update(h.file_texts([run.tmp / "state", run.project], run.tmp))
    haystacks["audit log"] = (run.tmp / "audit.jsonl").read_text()
    haystacks["PostgreSQL statement log"] = run.postgres.log_file.read_text(errors="replace")
    haystacks["state export before the rotation"] = (run.tmp / "state-before-rotation.json").read_text()
    h.check_no_leak(known, haystacks, hex_too=True)
    log(f"no secret value in {len(run.outputs)} outputs or {len(haystacks) - len(run.outputs)} control-plane logs")


def rotation_phase(run: Run, users: list[str], others: list[str], known: set[str]) -> None:
    """Rotation of the database credential with `sophia esc rotate`, its rollout held and resumed, with `sophia
    status`, the gate, events, history, both credentials logging in and the retired one not; then the audit log."""
    pg = run.postgres
    status = json.loads(run.sophia("status", "--stack", STACK, "--json", label="status (rolled out)"))
    if any(d["drifted"] or any(not p["current"] for p in d["pods"]) for d in status["deployments"]):
        raise Failure(f"after a completed rollout `sophia status` reports stale or drifted: {status}")
    for d in users + others:
        if not any(x["name"] == d for x in status["deployments"]):
            raise Failure(f"`sophia status` does not list {d}")
    log(f"status after the rotation: exit 0, {len(status['deployments'])} deployments current")

    held = pods(run)
    rs_before = replica_sets(run)
    (secret,) = set().union(*(pod_env_secret_names(p) for p in held[DB_SERVICE].values()))
    first = secret_data(run, secret)
    known.add(first["DB_PASSWORD"])
    if first["DB_USER"] != pg.USERS[0] or not pg.logs_in(first["DB_USER"], first["DB_PASSWORD"]):
        raise Failure(f"{DB_SERVICE}'s first credential is not {pg.USERS[0]}'s, or does not log in")

    # Rotate; before the up, `sophia impact` against the deployed state names exactly the service that rolls.
    state = run.tmp / "state-before-rotation.json"
    state.write_text(run.pulumi("stack", "export", label="stack export"))
    if run.sophia("esc", "rotate", DB_ENV, label="esc rotate").strip() != f"{DB_PATH}: succeeded":
        raise Failure(f"rotating {DB_ENV} did not succeed: {run.outputs[-1][-2000:]}")
    impact = json.loads(run.sophia("impact", str(state), "--stack", STACK, "--format", "json", label="impact"))
    rolls = {i["service"].split("/")[-1]: i for i in impact["services"] if i["change"] != "unchanged"}
    if set(rolls) != {DB_SERVICE} or rolls[DB_SERVICE]["change"] != "rolls" \
            or sorted(rolls[DB_SERVICE]["changed"]) != DB_KEYS:
        raise Failure(f"`sophia impact` after the rotation: expected only {DB_SERVICE} to roll on {DB_KEYS}: {impact}")
    rotated = [e for e in run.get("events") if e.get("reason") == "SecretRotated"]
    if sorted(e["involvedObject"]["name"] for e in rotated) != [DB_SERVICE] \
            or not all(x in rotated[0]["message"] for x in [DB_ENV, *DB_KEYS]):
        raise Failure(f"expected one SecretRotated Event, on {DB_SERVICE}, naming {DB_ENV} and {DB_KEYS}: "
                      f"{[(e['involvedObject']['name'], e['message']) for e in rotated]}")
    log(f"esc rotate {DB_ENV}: `sophia impact` says exactly {DB_SERVICE} rolls, keys {DB_KEYS}; SecretRotated on it")

    # Hold the rollout, deployed by a second deployer from another commit.
    with held_up(run, env={**run.env, **ROTATOR}) as up:
        # Wait until Pulumi has applied the new Secret and template (no drift left) while the nodes hold the pods.
        def applied() -> tuple[bool, tuple[dict, dict[str, str]]]:
            status = json.loads(run.sophia("status", "--stack", STACK, "--json", label="status (held)", expect=1))
            second = secret_data(run, secret)
            done = not any(d["drifted"] for d in status["deployments"]) and second["DB_USER"] != first["DB_USER"]
            return done, (status, second)

        status, second = h.wait_until("the held rotation to be applied (no drift, the new user in the Secret)",
                                      applied, ROLLOUT_TIMEOUT, gave_up=lambda: exited(up))
        known.add(second["DB_PASSWORD"])
        stale = {(d["name"], p["name"]): p["stale_keys"] for d in status["deployments"] for p in d["pods"] if not p["current"]}
        expected = {(DB_SERVICE, name) for name in held[DB_SERVICE]}
        if set(stale) != expected:
            raise Failure(f"held rollout: `sophia status` names stale pods {sorted(stale)}, expected {sorted(expected)}")
        if any(sorted(keys) != DB_KEYS for keys in stale.values()):
            raise Failure(f"held rollout: stale pods should name exactly {DB_KEYS}: {stale}")
        text = run.sophia("status", "--stack", STACK, label="status (held, text)", expect=1)
        if not all(f"pod {name} on an old version of: {', '.join(DB_KEYS)}" in text for _, name in expected):
            raise Failure(f"the text status does not name every stale pod with its keys:\n{text}")
        fresh = [p["name"] for d in status["deployments"] for p in d["pods"] if p["current"] and d["name"] == DB_SERVICE]
        if not fresh or any(name in held[DB_SERVICE] for name in fresh):
            raise Failure(f"held rollout: expected new (Pending) pods of {DB_SERVICE} on the new version: {fresh}")
        log(f"held rollout: `sophia status` exit 1 naming {len(expected)} pod(s) of {DB_SERVICE} on the old {DB_KEYS}")

        # Two valid credentials while pods roll: the old pods' and the new ones'.
        if second["DB_USER"] != pg.USERS[1] or not pg.logs_in(second["DB_USER"], second["DB_PASSWORD"]) \
                or not pg.logs_in(first["DB_USER"], first["DB_PASSWORD"]):
            raise Failure("after one rotation both credentials (previous and current) must log in")
        # The gate: a second rotation would retire the credential the old pods still use.
        env_file = run.project / "environments" / f"{DB_ENV}.yaml"
        before = env_file.read_bytes()
        run.sophia("esc", "rotate", DB_ENV, label="esc rotate (refused while held)", expect=1)
        refusal = run.outputs[-1]
        missing = [n for _, n in expected if n not in refusal]
        if f"deployment/{DB_SERVICE}" not in refusal or missing:
            raise Failure(f"the refused rotation does not name deployment/{DB_SERVICE} and its pods {missing}:\n{refusal}")
        if env_file.read_bytes() != before or not pg.logs_in(first["DB_USER"], first["DB_PASSWORD"]):
            raise Failure("a refused rotation changed the environment file or the database")
        log(f"gate: a second rotation is refused while held, naming deployment/{DB_SERVICE} and its old pods")
    wait_available(run, users + others)
    settle(run)
    rs_after = replica_sets(run)
    rolled = sorted(d for d in rs_after if rs_after[d] != rs_before.get(d))
    if rolled != [DB_SERVICE] or len(rs_after[DB_SERVICE] - rs_before[DB_SERVICE]) != 1:
        raise Failure(f"the rotation of {DB_ENV} must roll exactly {DB_SERVICE} once; rolled: {rolled}")
    run.sophia("status", "--stack", STACK, label="status (resumed)")
    log(f"resumed: exactly {DB_SERVICE} rolled; `sophia status` exit 0")
    # Events: one SecretsChanged per Deployment for its latest change, naming the keys; a second status adds none.
    run.sophia("status", "--stack", STACK, label="status (again)")
    events = [e for e in run.get("events") if e.get("reason") == "SecretsChanged"]
    latest = {d["name"]: d["desired"] for d in status["deployments"]}
    # Each Deployment's latest change: the database service's now, the openai-key users' from the status run above.
    current = {(e["involvedObject"]["name"], e["message"]) for e in events if latest[e["involvedObject"]["name"]] in e["message"]}
    on = sorted(name for name, _ in current)
    keys_named = all(all(k in m for k in DB_KEYS) if n == DB_SERVICE else "OPENAI_API_KEY" in m for n, m in current)
    if on != sorted(users + [DB_SERVICE]) or not keys_named:
        raise Failure(f"expected one SecretsChanged Event naming {DB_KEYS} on {DB_SERVICE} and OPENAI_API_KEY on {users}: {sorted(current)}")
    log(f"events: SecretsChanged on {on}, idempotent over repeated status runs ({len(events)} in all)")

    # History: each rollout with who deployed its change and from which commit, as its pod template recorded it;
    # unchanged by a later no-op `pulumi up` by someone else from another commit.
    def history() -> list[dict]:
        return json.loads(run.sophia("history", DB_SERVICE, "--stack", STACK, "--json", label="history"))
    before = history()
    oldest, last = before[0], before[-1]
    who = [(r["deployed_by"], r["commit"], r["provenance"]) for r in before]
    if len(before) < 2 or sorted(last["changed_keys"]) != DB_KEYS or not last["created"] \
            or oldest["changed_keys"] == [] \
            or who[-1] != (ROTATOR["GITHUB_ACTOR"], ROTATOR["GITHUB_SHA"], "change") \
            or who[:-1] != [("e2e-deployer", "e2e0commit", "change")] * (len(before) - 1):
        raise Failure(f"`sophia history {DB_SERVICE}` does not show each change with who and when: {before}")
    rs_before = replica_sets(run)
    run.pulumi("up", "--yes", "--expect-no-changes", env=LATER, label="up (no-op from another commit)")
    settle(run, 2)
    if replica_sets(run) != rs_before:
        raise Failure("a no-op `pulumi up` from another commit made a ReplicaSet")
    if history() != before:
        raise Failure(f"a no-op `pulumi up` from another commit changed `sophia history`: {before} -> {history()}")
    text = run.sophia("history", DB_SERVICE, "--stack", STACK, label="history (text)")
    if f"by {ROTATOR['GITHUB_ACTOR']}  commit {ROTATOR['GITHUB_SHA']}  " not in text or LATER["GITHUB_ACTOR"] in text:
        raise Failure(f"the text history does not name the rotation's deployer and commit:\n{text}")
    log(f"history of {DB_SERVICE}: {len(before)} rollouts, each with its own deployer and commit (the rotation's "
        f"{ROTATOR['GITHUB_ACTOR']}, changing {DB_KEYS}); a no-op deploy by {LATER['GITHUB_ACTOR']} from another "
        f"commit keeps them all")

    # The rollout is complete: the second rotation passes the gate; after its deploy the oldest credential is gone.
    if run.sophia("esc", "rotate", DB_ENV, label="esc rotate (second)").strip() != f"{DB_PATH}: succeeded":
        raise Failure(f"the second rotation of {DB_ENV} did not succeed after the rollout: {run.outputs[-1][-2000:]}")
    rotated = [e for e in run.get("events") if e.get("reason") == "SecretRotated"]
    if sorted(e["involvedObject"]["name"] for e in rotated) != [DB_SERVICE, DB_SERVICE]:
        raise Failure(f"after the second rotation expected two SecretRotated Events on {DB_SERVICE}: "
                      f"{[(e['involvedObject']['name'], e['message']) for e in rotated]}")
    run.pulumi("up", "--yes", "--skip-preview", label="up (second rotation)")
    wait_available(run, users + others)
    third = secret_data(run, secret)
    if sorted(third) != sorted(first):
        raise Failure(f"after the second rotation Secret {secret} holds keys {sorted(third)}, expected {sorted(first)}")
    known.add(third["DB_PASSWORD"])
    if third["DB_USER"] != first["DB_USER"] or third["DB_PASSWORD"] == first["DB_PASSWORD"]:
        raise Failure(f"the second rotation should make {first['DB_USER']} current again with a new password")
    if pg.logs_in(first["DB_USER"], first["DB_PASSWORD"]):
        raise Failure("after two rotations the oldest credential still logs in")
    if not (pg.logs_in(third["DB_USER"], third["DB_PASSWORD"]) and pg.logs_in(second["DB_USER"], second["DB_PASSWORD"])):
        raise Failure("after two rotations the current and the previous credential must log in")
    log("second rotation after the rollout: succeeded; the oldest credential no longer logs in, the other two do")

    # The access log: every decryption and rotation, by the CI actor; the chain verifies, and one edit breaks it.
    entries = json.loads(run.sophia("audit", "log", "--verify", "--json", label="audit log --verify"))
    # Per rotation one entry for the environment (the gate's reading of the stack's config is its own entry).
    rotations = [(e["outcome"], e["keys"]) for e in entries if e["operation"] == "esc rotate" and e["target"] == f"env:{DB_ENV}"]
    if any(e["actor"] != "github:e2e-deployer" for e in entries) \
            or sorted(o for o, _ in rotations) != ["failure", "success", "success", "success"] \
            or any(keys != [DB_PATH] for _, keys in rotations):
        raise Failure(f"unexpected audit entries: {[(e['operation'], e['actor'], e['outcome']) for e in entries]}")
    log_file = run.tmp / "audit.jsonl"
    original = log_file.read_text()
    lines = original.splitlines(keepends=True)
    lines[0] = lines[0].replace('"github:e2e-deployer"', '"github:someone-else"', 1)
    log_file.write_text("".join(lines))
    run.sophia("audit", "log", "--verify", label="audit log --verify (edited)", expect=1)
    log_file.write_text(original)
    log(f"audit log: {len(entries)} entries verify ({len(rotations)} rotations); an edited entry fails verification")


def gate_phase(run: Run, declared: list[str], known: set[str]) -> None:
    """The rollout gate: a rotation is refused while a consuming Deployment's rollout is held, `--force` overrides,
    and after the rollout a plain rotation passes and leaves a `SecretRotated` Event on each consuming Deployment."""
    env_file = run.project / "environments" / f"{GATED_ENV}.yaml"
    env_file.write_text(
        "# A password the rollout gate protects: rotating retires the previous one.\n"
        "values:\n"
        "  creds:\n"
        "    fn::rotate::password:\n"
        "      inputs: {length: 32, special: false}\n"
        "  pulumiConfig:\n"
        f"    {GATED_KEY}: {GATED_URL.format(password='${creds.current}')}\n"
    )
    # The first rotation creates the first password and retires none: not gated.
    run.sophia("esc", "rotate", GATED_ENV, label="esc rotate (first)")
    known.update(run.rotated_passwords())
    # The stack now takes redis-url from the environment (its own value would win over the projection).
    run.pulumi("config", "rm", GATED_KEY, label="config rm")
    # After the database's environment (step 3b's), which stays imported.
    run.pulumi("config", "set", "--path", "environments[1]", GATED_ENV, label="config set environments")
    rs0 = replica_sets(run)
    run.pulumi("up", "--yes", "--skip-preview", label="up (redis-url from the rotated environment)")
    wait_available(run, declared)
    settle(run)
    rs1 = replica_sets(run)
    consumers = sorted(d for d in declared if rs1.get(d) != rs0.get(d))
    if not consumers or len(consumers) == len(declared):
        raise Failure(f"taking {GATED_KEY} from {GATED_ENV} should roll some Deployments, not all: {consumers}")
    log(f"gate: {consumers} take {GATED_KEY} from {GATED_ENV}")

    # Settled: the gate lets a rotation through.
    _, err = run.sophia_both("esc", "rotate", GATED_ENV, label="esc rotate (settled)")
    if "rollout gate: consumers settled" not in err:
        raise Failure(f"a rotation with settled consumers should say the gate passed:\n{err}")
    known.update(run.rotated_passwords())

    # Hold the rollout of that rotation (nodes cordoned, as in 3b): the consumers' old pods keep running.
    held = pods(run)
    with held_up(run) as up:
        def applied() -> tuple[bool, dict]:
            status = json.loads(run.sophia("status", "--stack", STACK, "--json", label="status (gate, held)", expect=1))
            return not any(d["drifted"] for d in status["deployments"]), status

        h.wait_until("the held rotation to be applied (no drift)", applied, ROLLOUT_TIMEOUT,
                     gave_up=lambda: exited(up))
        before = env_file.read_bytes()
        _, err = run.sophia_both("esc", "rotate", GATED_ENV, label="esc rotate (held: refused)", expect=1)
        missing = [f"deployment/{d}" for d in consumers if f"deployment/{d}" not in err]
        missing += [f"pod {p}" for d in consumers for p in held.get(d, {}) if f"pod {p}" not in err]
        if "refusing to rotate" not in err or missing:
            raise Failure(f"the refusal does not name {missing}:\n{err}")
        if any(f"deployment/{d} " in err for d in declared if d not in consumers):
            raise Failure(f"the refusal names a Deployment that does not consume {GATED_KEY}:\n{err}")
        if env_file.read_bytes() != before:
            raise Failure("a refused rotation changed the environment file")
        last = [e for e in json.loads(run.sophia("audit", "log", "--json", label="audit log (refusal)")) if e["target"] == f"env:{GATED_ENV}"][-1]
        if (last["operation"], last["target"], last["outcome"], last["keys"]) != ("esc rotate", f"env:{GATED_ENV}", "failure", ["creds"]):
            raise Failure(f"the refusal is not in the access log as a failed esc rotate: {last}")
        log(f"gate: held rollout refused naming {consumers} and {sum(len(held.get(d, {})) for d in consumers)} old pods")
        out, err = run.sophia_both("esc", "rotate", GATED_ENV, "--force", label="esc rotate --force (held)")
        if out.strip() != "creds: succeeded" or "warning: --force" not in err:
            raise Failure(f"--force should rotate and say so:\n{out}{err}")
        last = [e for e in json.loads(run.sophia("audit", "log", "--json", label="audit log (forced)")) if e["target"] == f"env:{GATED_ENV}"][-1]
        if (last["operation"], last["outcome"]) != ("esc rotate --force", "success"):
            raise Failure(f"the forced rotation is not in the access log as esc rotate --force: {last}")
        known.update(run.rotated_passwords())
        log("gate: --force rotated and said so")
    # Deploy the forced rotation too; once every rollout completed, a plain rotation passes the gate.
    run.pulumi("up", "--yes", "--skip-preview", label="up (forced rotation)")
    try:
        wait_available(run, declared)
    except Failure:
        log("gate: rollout did not complete; cluster state:\n" + run.kubectl("get", "nodes,deploy,rs,pods", "-A", "-o", "wide", ok=False))
        raise
    settle(run)
    run.sophia("status", "--stack", STACK, label="status (gate, settled)")
    out, err = run.sophia_both("esc", "rotate", GATED_ENV, label="esc rotate (after the rollout)")
    if out.strip() != "creds: succeeded":
        raise Failure(f"a rotation after the rollout completed should succeed:\n{out}{err}")
    known.update(run.rotated_passwords())
    status = json.loads(run.sophia("status", "--stack", STACK, "--json", label="status (rotated, not deployed)", expect=1))
    desired = {d["name"]: d["desired"] for d in status["deployments"]}
    # The database service's Events are step 3b's (checked there).
    events = [e for e in run.get("events") if e.get("reason") == "SecretRotated" and e["involvedObject"]["name"] != DB_SERVICE]
    on = sorted({e["involvedObject"]["name"] for e in events if desired[e["involvedObject"]["name"]] in e["message"]})
    if on != consumers:
        raise Failure(f"expected a SecretRotated Event for this rotation on each of {consumers}: {[(e['involvedObject']['name'], e['message']) for e in events]}")
    for e in events:
        message = e["message"]
        if GATED_ENV not in message or "creds" not in message or GATED_KEY not in message or "REDIS_URL" not in message:
            raise Failure(f"a SecretRotated Event does not name the environment, path and keys: {message}")
        if any(v in message for v in known):
            raise Failure("a SecretRotated Event message holds a secret value")
    run.outputs.append(json.dumps(events))
    log(f"gate: after the rollout a plain rotation passed; SecretRotated Events on {on}")


# --- faults: a killed Pulumi CLI, a killed provider, a restarted API server ------------------------------------------

PROVIDER = "pulumi-resource-sophia"


def session_processes(sid: int) -> dict[int, str]:
    """pid -> executable name of every live process in session `sid` (a `pulumi up` started in a session of its own
    and the plugins it launched)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # Fields after the parenthesised command: state ppid pgrp session ...
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) != sid or fields[0] == "Z":
                continue
            out[int(entry.name)] = Path(os.readlink(entry / "exe")).name
        except (OSError, IndexError, ValueError):
            continue
    return out


def revisions(run: Run) -> dict[str, int]:
    """Deployment name -> its rollout revision (the controller's `deployment.kubernetes.io/revision`)."""
    return {d["metadata"]["name"]: int(d["metadata"].get("annotations", {}).get("deployment.kubernetes.io/revision", 0))
            for d in run.get("deployments")}


def pending_operations(run: Run, label: str) -> list[str]:
    """The checkpoint's pending operations (type and resource type), as a killed update leaves them."""
    state = json.loads(run.pulumi("stack", "export", label=f"stack export ({label})"))
    return [f"{op['type']} {op['resource']['type']}" for op in state["deployment"].get("pending_operations") or []]


def assert_rolled_once(run: Run, declared: list[str], users: list[str], rs0: dict, rev0: dict, what: str) -> None:
    """After `what`: each of `users` has exactly one ReplicaSet more and its revision one higher, all its pods on the
    new one; every other Deployment has the same ReplicaSets and revision."""
    rs1, rev1, pods1 = replica_sets(run), revisions(run), pods(run)
    for d in declared:
        added = rs1.get(d, set()) - rs0.get(d, set())
        step = rev1.get(d, 0) - rev0.get(d, 0)
        want = 1 if d in users else 0
        if len(added) != want or not rs0.get(d, set()) <= rs1.get(d, set()) or step != want:
            raise Failure(f"{what}: {d} should roll {want} time(s); ReplicaSets {sorted(rs0.get(d, ()))} -> "
                          f"{sorted(rs1.get(d, ()))}, revision {rev0.get(d)} -> {rev1.get(d)}")
        if d in users:
            new_hash = run.get("replicaset", added.pop())["metadata"]["labels"]["pod-template-hash"]
            hashes = {p["metadata"]["labels"].get("pod-template-hash") for p in pods1.get(d, {}).values()}
            if hashes != {new_hash}:
                raise Failure(f"{what}: pods of {d} carry pod-template-hash {sorted(map(str, hashes))}, not {new_hash}")


def converged(run: Run, declared: list[str], what: str) -> None:
    """The stack and the cluster agree: every Deployment available, `pulumi preview --expect-no-changes` passes."""
    wait_available(run, declared)
    settle(run)
    run.pulumi("preview", "--expect-no-changes", label=f"preview --expect-no-changes ({what})")


def killed_up_phase(run: Run, declared: list[str], users: list[str], known: set[str], victim: str) -> None:
    """Rotate ROTATED_KEY, start `pulumi up`, SIGKILL `victim` mid-update ("cli": the Pulumi CLI once the new Secret
    is in the cluster; "provider": our provider as soon as the engine has launched it), then `pulumi up` again: it
    converges and exactly the key's users roll, once."""
    what = f"killed {'Pulumi CLI' if victim == 'cli' else 'provider'}"
    rs0, rev0 = replica_sets(run), revisions(run)
    (secret,) = set().union(*(pod_env_secret_names(p) for p in pods(run)[users[0]].values()))
    new = f"e2e-fault-{secrets.token_hex(16)}"
    known.add(new)
    run.pulumi("config", "set", "--secret", ROTATED_KEY, new, label="config set --secret (fault)")
    out_file = run.tmp / f"up-{victim}-killed.log"
    start = time.monotonic()
    with out_file.open("w") as out:
        # A session of its own: the plugins the CLI launches are found (and, orphaned, cleaned up) by it.
        up = subprocess.Popen(["pulumi", "up", "--yes", "--skip-preview", "--non-interactive", "--color", "never"],
                              cwd=run.project, env=run.env, stdout=out, stderr=subprocess.STDOUT, text=True,
                              start_new_session=True)
    try:
        if victim == "cli":
            h.wait_until(f"the new {ROTATED_KEY} in Secret {secret}", lambda: (new in secret_data(run, secret).values(), None),
                         ROLLOUT_TIMEOUT, interval=0.2, gave_up=lambda: exited(up))
            up.kill()
            up.wait(timeout=30)
        else:
            def provider() -> tuple[bool, dict[int, str]]:
                procs = session_processes(up.pid)
                return PROVIDER in procs.values(), procs

            procs = h.wait_until(f"{PROVIDER} to be launched", provider, ROLLOUT_TIMEOUT, interval=0.05,
                                 gave_up=lambda: exited(up))
            for pid, name in procs.items():
                if name == PROVIDER:
                    os.kill(pid, signal.SIGKILL)
            up.wait(timeout=ROLLOUT_TIMEOUT + 60)
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(timeout=30)
        # Plugins a killed CLI orphaned may still run; none may act during the next up.
        lingering = session_processes(up.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(up.pid, signal.SIGKILL)
        run.timings.append((f"pulumi up ({what})", time.monotonic() - start))
        run.outputs.append(out_file.read_text(errors="replace"))
    if victim == "provider" and up.returncode == 0:
        raise Failure(f"`pulumi up` succeeded although {PROVIDER} was killed mid-update:\n{run.outputs[-1][-3000:]}")
    # The file backend locks a stack during an update; a killed CLI leaves its lock behind, and every later command
    # on the stack refuses until `pulumi cancel` deletes it (as the refusal itself says).
    locks = sorted((run.tmp / "state" / ".pulumi" / "locks").rglob("*.json"))
    if locks:
        run.pulumi("cancel", "--yes", label=f"cancel (after a {what})")
        if any(p.exists() for p in locks):
            raise Failure(f"`pulumi cancel` after a {what} left the stack's lock file")
    pending = pending_operations(run, what)
    log(f"{what}: `pulumi up` exited {up.returncode}, leaving {len(locks)} lock(s); {len(lingering)} plugin "
        f"process(es) lingered ({sorted(set(lingering.values()))}); pending operations in the checkpoint: {pending}")
    if pending:
        # Pulumi's documented recovery from an interrupted update: `pulumi refresh` reads the resources back from
        # their providers and clears the pending operations (a pending create only with --clear-pending-creates,
        # non-interactively; nothing is created here).
        creates = ["--clear-pending-creates"] if any(op.startswith("creating") for op in pending) else []
        run.pulumi("refresh", "--yes", "--skip-preview", *creates, label=f"refresh (after a {what})")
        if pending_operations(run, f"{what}, refreshed"):
            raise Failure(f"`pulumi refresh` after a {what} left pending operations in the checkpoint")
    run.pulumi("up", "--yes", "--skip-preview", label=f"up (after a {what})")
    converged(run, declared, what)
    if pending_operations(run, f"{what}, converged"):
        raise Failure(f"after a {what} and a completed `pulumi up` the checkpoint still has pending operations")
    if new not in secret_data(run, secret).values():
        raise Failure(f"after a {what} and a completed `pulumi up` Secret {secret} lacks the new {ROTATED_KEY}")
    assert_rolled_once(run, declared, users, rs0, rev0, what)
    log(f"{what}: the next `pulumi up` converged (preview --expect-no-changes); exactly {users} rolled, once")


def apiserver_restart_phase(run: Run, declared: list[str], users: list[str], known: set[str]) -> None:
    """Rotate ROTATED_KEY with the rollout held (nodes cordoned, as in 3b), restart kube-apiserver while `pulumi up`
    waits for the rollout: `sophia status` then names exactly the users' old pods; released, the up completes, the
    rollout completes, status is clean and a further `pulumi up` changes nothing."""
    rs0, rev0 = replica_sets(run), revisions(run)
    held = pods(run)
    new = f"e2e-fault-{secrets.token_hex(16)}"
    known.add(new)
    run.pulumi("config", "set", "--secret", ROTATED_KEY, new, label="config set --secret (fault)")
    with held_up(run) as up:
        def applied() -> tuple[bool, dict]:
            status = json.loads(run.sophia("status", "--stack", STACK, "--json", label="status (restart, held)", expect=1))
            return not any(d["drifted"] for d in status["deployments"]), status

        h.wait_until("the held rotation to be applied (no drift)", applied, ROLLOUT_TIMEOUT, gave_up=lambda: exited(up))
        run.cluster("restart-apiserver")
        if up.poll() is not None:
            raise Failure(f"`pulumi up` exited {up.returncode} when the API server restarted")
        status = json.loads(run.sophia("status", "--stack", STACK, "--json", label="status (after the restart)", expect=1))
        stale = sorted((d["name"], p["name"]) for d in status["deployments"] for p in d["pods"] if not p["current"])
        expected = sorted((d, p) for d in users for p in held.get(d, {}))
        if stale != expected or any(d["drifted"] for d in status["deployments"]):
            raise Failure(f"after the API server restarted `sophia status` names stale pods {stale}, expected {expected}")
        log(f"API server restarted mid-rollout: `pulumi up` still waiting; `sophia status` exit 1 naming exactly the "
            f"{len(expected)} old pod(s) of {users}")
    converged(run, declared, "API server restarted")
    status = json.loads(run.sophia("status", "--stack", STACK, "--json", label="status (restart, rolled out)"))
    if any(d["drifted"] or any(not p["current"] for p in d["pods"]) for d in status["deployments"]):
        raise Failure(f"after the rollout `sophia status` still reports stale or drifted: {status}")
    assert_rolled_once(run, declared, users, rs0, rev0, "API server restarted")
    rs1 = replica_sets(run)
    run.pulumi("up", "--yes", "--expect-no-changes", label="up (no-op after the restart)")
    settle(run, 2)
    if replica_sets(run) != rs1:
        raise Failure("a no-op `pulumi up` after the API server restart made a ReplicaSet")
    log(f"API server restart: the rollout completed, `sophia status` exit 0, exactly {users} rolled once; no-op up")


def fault_phases(run: Run, declared: list[str], users: list[str], known: set[str]) -> None:
    """From a converged stack (the gate phase leaves a rotation undeployed), each fault phase in turn."""
    phases = {
        "killed-cli": lambda: killed_up_phase(run, declared, users, known, "cli"),
        "killed-provider": lambda: killed_up_phase(run, declared, users, known, "provider"),
        "apiserver-restart": lambda: apiserver_restart_phase(run, declared, users, known),
    }
    run.pulumi("up", "--yes", "--skip-preview", label="up (before the faults)")
    converged(run, declared, "before the faults")
    for name, phase in phases.items():
        start = time.monotonic()
        phase()
        run.timings.append((f"fault phase {name}", time.monotonic() - start))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary project and cluster data")
    args = parser.parse_args()
    try:
        check_preconditions()
    except Skip as e:
        return h.skip(log, str(e))
    run = Run(args.keep)
    try:
        scenario(run)
    except (Failure, subprocess.CalledProcessError, subprocess.TimeoutExpired, KeyError, ValueError) as e:
        log(f"FAILED: {type(e).__name__}: {e}")
        run.keep = True
        run.close()
        h.report_timings(log, run.timings, omit="pulumi config set")
        return 1
    run.close()
    h.report_timings(log, run.timings, omit="pulumi config set")
    log("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
