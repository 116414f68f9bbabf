#!/usr/bin/env python3
"""Phase times of one rotation of a database credential consumed by N services, on the local control plane.

Run through tests/e2e/cluster/bench-rotation.sh. Reuses the cluster end-to-end harness (cluster_e2e.py: its Run, its
PostgreSQL and its environment with a `postgres` rotator): a fresh local control plane, a stack of N services (one
replica each) whose Secret takes the rotated credential through the stack's `pulumiConfig`, created and rolled out;
then, per repetition, the three phases of one rotation:
  rotate    `sophia esc rotate` (the gate's three list requests, the rotator's ALTER ROLE and login, the encrypted write)
  up        `pulumi up` (Secrets updated in place, Deployments patched; the Kubernetes provider waits for rollouts)
  rollout   after `pulumi up` returns, until `sophia status` exits 0 (every pod on the new fingerprint, old ones gone)
beside the peer, the manual rotation of a stack value (`pulumi config set --secret`), for the first phase.
Prints one line per phase; medians over the repetitions.
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import sys
import time

import cluster_e2e as e2e  # its directory is on sys.path: this script's own
from cluster_e2e import h


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", type=int)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    e2e.check_preconditions()
    run = e2e.Run(keep=False)
    # A kwok Node takes 250 pods; during a rollout each service has two.
    run.env["SOPHIA_CLUSTER_NODES"] = str(args.services // 100 + 1)
    try:
        return bench(run, args.services, args.repeat)
    finally:
        run.close()


def bench(run: e2e.Run, n: int, repeat: int) -> int:
    run.cluster("start")
    project = run.project
    h.link_binaries(project, e2e.BINARIES)
    (project / "Pulumi.yaml").write_text((e2e.ROOT / "Pulumi.yaml").read_text())
    with (project / "services.yaml").open("w") as f:
        f.write("defaults:\n  replicas: 1\nservices:\n")
    run.login_file_backend()
    run.pulumi("stack", "init", e2e.STACK, "--secrets-provider", "passphrase")
    run.pulumi("config", "set", "--secret", "hashKey", secrets.token_hex(16), label="config set --secret")
    run.pulumi("config", "set", "namespace", "bench", label="config set")
    run.pulumi("config", "set", "--secret", "peer-key", secrets.token_hex(8), label="config set --secret")
    e2e.set_kubeconfig(run)
    # The harness's database setup adds one consuming service; the rest are the same block under other names.
    e2e.init_database(run)
    with (project / "services.yaml").open("a") as f:
        for i in range(1, n):
            f.write(f"  {e2e.DB_SERVICE}-{i:03d}:\n    image: example/ledger:1\n    env:\n"
                    "      DB_USER: app-db-user\n      DB_PASSWORD: app-db-password\n")
    start = time.monotonic()
    run.pulumi("up", "--yes", "--skip-preview", label="up (create)")
    e2e.log(f"created and rolled out {n} services in {time.monotonic() - start:.1f} s")

    phases: dict[str, list[float]] = {"rotate": [], "up": [], "rollout": [], "peer": []}
    for _ in range(repeat):
        t0 = time.monotonic()
        run.sophia("esc", "rotate", e2e.DB_ENV, label="esc rotate")
        t1 = time.monotonic()
        run.pulumi("up", "--yes", "--skip-preview", label="up (rotation)")
        t2 = time.monotonic()

        def settled() -> tuple[bool, str]:
            # Exit 1: pods still on the old fingerprint; anything else but 0 is a failure at once.
            proc = run.run("sophia status", [e2e.RELEASE / "sophia", "status", "--stack", e2e.STACK], expect=None,
                           cwd=project, timeout=300, record=False)
            if proc.returncode not in (0, 1):
                raise h.Failure(f"`sophia status` exited {proc.returncode}: {proc.stderr[-2000:]}")
            return proc.returncode == 0, proc.stdout[-2000:]

        h.wait_until("`sophia status` to exit 0 (every pod on the new fingerprint)", settled, e2e.ROLLOUT_TIMEOUT,
                     interval=0.2)
        t3 = time.monotonic()
        run.pulumi("config", "set", "--secret", "peer-key", secrets.token_hex(8), label="config set --secret (peer)")
        t4 = time.monotonic()
        for name, seconds in (("rotate", t1 - t0), ("up", t2 - t1), ("rollout", t3 - t2), ("peer", t4 - t3)):
            phases[name].append(seconds)
    med = {k: statistics.median(v) for k, v in phases.items()}
    span = {k: f"{min(v):.2f}-{max(v):.2f}" for k, v in phases.items()}
    print(f"services={n} repetitions={repeat} (median, range in s)")
    print(f"rotate   sophia esc rotate       {med['rotate']:6.2f}  {span['rotate']}")
    print(f"up       pulumi up               {med['up']:6.2f}  {span['up']}")
    print(f"rollout  until sophia status = 0 {med['rollout']:6.2f}  {span['rollout']}")
    print(f"total                            {med['rotate'] + med['up'] + med['rollout']:6.2f}")
    print(f"peer     pulumi config set --secret {med['peer']:6.2f}  {span['peer']}  "
          f"(rotate / peer = {med['rotate'] / med['peer']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
