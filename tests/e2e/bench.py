#!/usr/bin/env python3
"""Wall time of `pulumi preview` and `pulumi up` with the real Pulumi CLI, and the share spent in our program and
our provider (BENCHMARKS.md, "End to end").

    eval "$(scripts/install-toolchain.sh --env pulumi pulumi-kubernetes)"
    cargo build --release --locked --bins
    .venv/bin/python tests/e2e/bench.py [--repeat 3] [dev 100 1000]

Each target is the `dev` example stack, or a generated stack of N services shaped like benches/render.rs's generator
(each service uses 4 of 50 shared secret keys). In a temporary project on a file backend, it times: `up` (create),
`preview` and `up` with no changes (repeated), `preview` and `up` after rotating one key, and `destroy`. The program,
our provider and the Kubernetes provider run through wrappers that record their CPU time (a provider lives as long
as the engine, and the program waits on the engine's registrations, so their wall times say little); the total is
the CPU time of the `pulumi` command and everything it started. Values here are generated placeholders.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import harness as h
from harness import RELEASE, ROOT

KEYS = 50

# Runs the real binary in the background so that the engine's SIGTERM reaches it, then appends
# "<name> <wall s> <user+sys CPU s of children>" to $SOPHIA_BENCH_LOG.
WRAPPER = """#!/usr/bin/env bash
start=$(date +%s.%N)
"{real}" "$@" &
child=$!
trap 'kill -TERM $child 2>/dev/null' TERM INT
wait $child; status=$?
while kill -0 $child 2>/dev/null; do wait $child; status=$?; done
end=$(date +%s.%N)
# `times` must run in this shell (a pipe or $(...) would fork, and a fresh fork has no children's times).
times > "$SOPHIA_BENCH_LOG.$$"
cpu=$(tail -1 "$SOPHIA_BENCH_LOG.$$" | tr -d s | awk '{{ split($1,u,"m"); split($2,s,"m"); print u[1]*60+u[2]+s[1]*60+s[2] }}')
rm -f "$SOPHIA_BENCH_LOG.$$"
echo "{name} $(awk -v a="$start" -v b="$end" 'BEGIN {{ print b - a }}') $cpu" >> "$SOPHIA_BENCH_LOG"
exit $status
"""


def keys_of(i: int) -> list[int]:
    keys = [i % KEYS, (i * 7 + 1) % KEYS, (i * 13 + 2) % KEYS, (i * 29 + 3) % KEYS]
    return sorted(set(keys))


def generate(project: Path, n: int) -> str:
    """A project of n services; returns the stack name. Plain (not secure) config: generated placeholders."""
    (project / "services.yaml").write_text(
        "services:\n"
        + "".join(
            f"  svc-{i:04}:\n    image: example/svc-{i:04}:1\n    port: 8080\n    env:\n"
            + "".join(f"      KEY_{k:03}: key-{k:03}\n" for k in keys_of(i))
            for i in range(n)
        )
    )
    config = ["config:", "  sophia-secrets:hashKey: bench-hash-key-0123456789abcdef", "  sophia-secrets:namespace: bench"]
    config += [f"  sophia-secrets:key-{k:03}: secret-value-{k:03}-0123456789abcdefghijklmnopqrstuvwxyz" for k in range(KEYS)]
    (project / "Pulumi.bench.yaml").write_text("\n".join(config) + "\n")
    return "bench"


class Bench(h.Session):
    def __init__(self, target: str) -> None:
        super().__init__("sophia-bench-", keep=False)
        # The wrappers below stand in for the binaries under test, so none is linked.
        h.copy_project(self.project, extra_ignore=("Pulumi.*.yaml",))
        if target == "dev":
            shutil.copy(ROOT / "Pulumi.dev.yaml", self.project)
            self.stack, self.rotate = "dev", "openai-key"
            passphrase = "sophia-dev-example-passphrase"  # public, examples only
        else:
            self.stack, self.rotate = generate(self.project, int(target)), "key-007"
            passphrase = "bench"
        release = self.project / "target" / "release"
        release.mkdir(parents=True, exist_ok=True)
        for name in ("sophia-program", "pulumi-resource-sophia"):
            w = release / name
            w.write_text(WRAPPER.format(real=RELEASE / name, name=name))
            w.chmod(0o755)
        # The Kubernetes provider is found on PATH: a wrapper directory first on PATH times it too.
        kube = shutil.which("pulumi-resource-kubernetes")
        if kube is None:
            sys.exit("bench: pulumi-resource-kubernetes is not on PATH (scripts/install-toolchain.sh --env)")
        wrappers = self.tmp / "bin"
        wrappers.mkdir()
        (wrappers / "pulumi-resource-kubernetes").write_text(WRAPPER.format(real=kube, name="pulumi-resource-kubernetes"))
        (wrappers / "pulumi-resource-kubernetes").chmod(0o755)
        self.log = self.tmp / "times.log"
        self.env.update({"PULUMI_CONFIG_PASSPHRASE": passphrase, "SOPHIA_BENCH_LOG": str(self.log),
                         "PATH": f"{wrappers}:{os.environ['PATH']}"})
        self.env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
        self.login_file_backend()
        self.pulumi("stack", "init", self.stack, "--secrets-provider", "passphrase")

    def pulumi(self, *args: str) -> str:  # type: ignore[override]
        # Outputs are not kept: the values are generated placeholders, and 1,000-service logs are large.
        return super().pulumi(*args, record=False, timeout=1800)

    def timed(self, *args: str) -> tuple[float, dict[str, tuple[float, float]]]:
        self.log.write_text("")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        self.pulumi(*args)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        # The CLI with every process it started and reaped (language host, program, providers).
        total_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        parts: dict[str, tuple[float, float]] = {"total": (wall, total_cpu)}
        for line in self.log.read_text().splitlines():
            name, w, cpu = line.split()
            old = parts.get(name, (0.0, 0.0))
            parts[name] = (old[0] + float(w), old[1] + float(cpu))
        return wall, parts


def fmt(wall: float, parts: dict[str, tuple[float, float]]) -> str:
    """Wall time; CPU time of everything, of our program, our provider, the Kubernetes provider, and the rest
    (the engine and the language host). The program's wall time spans the whole deployment (it waits on the engine's
    registrations), so its CPU time is the share that counts."""
    cpu = {name: parts.get(name, (0.0, 0.0))[1] for name in
           ("total", "sophia-program", "pulumi-resource-sophia", "pulumi-resource-kubernetes")}
    rest = cpu["total"] - cpu["sophia-program"] - cpu["pulumi-resource-sophia"] - cpu["pulumi-resource-kubernetes"]
    return (f"{wall:7.2f} s wall | CPU {cpu['total']:6.2f} s: program {cpu['sophia-program']:5.2f}, "
            f"sophia provider {cpu['pulumi-resource-sophia']:5.2f}, kubernetes provider "
            f"{cpu['pulumi-resource-kubernetes']:6.2f}, engine+host {rest:6.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", default=["dev", "100", "1000"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-checkpoints", action="store_true",
                        help="PULUMI_SKIP_CHECKPOINTS=true: one state write per command, not one per step")
    args = parser.parse_args()
    if args.skip_checkpoints:
        # The file backend rewrites the whole state (MBs at 1,000 services) after every step: quadratic in the stack.
        os.environ["PULUMI_SKIP_CHECKPOINTS"] = "true"
    for target in args.targets:
        try:
            b = Bench(target)
        except h.Failure as e:
            sys.exit(f"bench: {e}")
        try:
            rows = [("up (create)", *b.timed("up", "--yes", "--skip-preview"))]
            for _ in range(args.repeat):
                rows.append(("preview (no change)", *b.timed("preview")))
                rows.append(("up (no change)", *b.timed("up", "--yes", "--skip-preview")))
            b.pulumi("config", "set", "--secret", b.rotate, "rotated-value-for-the-benchmark-0123456789")
            rows.append(("preview (rotation)", *b.timed("preview")))
            rows.append(("up (rotation)", *b.timed("up", "--yes", "--skip-preview")))
            rows.append(("destroy", *b.timed("destroy", "--yes", "--skip-preview")))
            print(f"## {target} (stack {b.stack})", flush=True)
            for label in dict.fromkeys(r[0] for r in rows):
                got = [r for r in rows if r[0] == label]
                med = sorted(range(len(got)), key=lambda i: got[i][1])[len(got) // 2]
                walls = ", ".join(f"{r[1]:.2f}" for r in got)
                print(f"{label:20} median {fmt(got[med][1], got[med][2])}   (runs: {walls} s)", flush=True)
        except h.Failure as e:
            sys.exit(f"bench: {e}")
        finally:
            b.close(h.logger("bench"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
