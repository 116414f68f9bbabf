"""What the end-to-end tests and benchmarks share: a temporary copy of the project with its own Pulumi home and
file backend, commands run with their output and time recorded, preconditions that skip instead of fail, bounded
waiting, and the scan for secret values (plain, base64, hex) in everything a run printed or wrote.

Used by tests/e2e/e2e.py, tests/e2e/bench.py, tests/e2e/cluster/cluster_e2e.py and tests/e2e/cluster/bench_rotation.py.
Standard library only. Secret values stay in the calling process: no message here quotes one, and a failed command
is named by its first words only (a value may follow, as in `pulumi config set --secret KEY VALUE`).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
# The binaries under test; SOPHIA_E2E_BIN_DIR points elsewhere (scripts/test.sh: the debug build, one Rust build in CI;
# tests/e2e/selftest.sh: stand-ins).
RELEASE = Path(os.environ.get("SOPHIA_E2E_BIN_DIR") or ROOT / "target" / "release").resolve()
# What a copy of the project leaves out: build outputs, local state, and the fuzz crate (large, never deployed).
COPY_IGNORE = (".git", "target", ".venv", "out", ".pulumi", "__pycache__", "fuzz")
# Pulumi without a terminal or the network: a missing plugin is an error, never a download attempt.
PULUMI_ENV = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
    "PULUMI_SKIP_CONFIRMATIONS": "true",
    "NO_COLOR": "1",
}
# How many leading words of a command a failure message shows.
SHOWN_WORDS = 4

T = TypeVar("T")


class Skip(Exception):
    """A precondition this run cannot meet (not a failure of what it tests)."""


class Failure(Exception):
    """What the test asserts did not hold."""


def logger(prefix: str) -> Callable[[str], None]:
    """A log function whose lines start with `prefix: ` (tests/e2e/selftest.sh reads them by that prefix)."""

    def log(msg: str) -> None:
        print(f"{prefix}: {msg}", flush=True)

    return log


def shown(cmd: Iterable[object]) -> str:
    """A command as failure messages name it: its first words, never an argument that may be a secret value."""
    words = [Path(str(w)).name if i == 0 else str(w) for i, w in enumerate(cmd)]
    return " ".join(words[:SHOWN_WORDS]) + (" ..." if len(words) > SHOWN_WORDS else "")


class Session:
    """A temporary directory holding a copy of the project (`project`), a Pulumi home and a file backend (`state`);
    every command's output is kept in `outputs` for the leak scan, and its wall time in `timings`."""

    def __init__(self, prefix: str, keep: bool, env: Mapping[str, str] | None = None) -> None:
        self.keep = keep
        self.tmp = Path(tempfile.mkdtemp(prefix=prefix))
        self.project = self.tmp / "project"
        self.outputs: list[str] = []
        self.timings: list[tuple[str, float]] = []
        self.env = {**os.environ, "PULUMI_HOME": str(self.tmp / "pulumi-home"), **PULUMI_ENV, **(env or {})}

    def run(self, label: str, cmd: list, *, expect: int | None = 0, timeout: float = 900,
            env: Mapping[str, str] | None = None, unset: Iterable[str] = (), record: bool = True, tail: int = 6000,
            **kw) -> subprocess.CompletedProcess:
        """Runs `cmd` in the session's environment (plus `env`, less `unset`), keeps its output and time; its exit code
        must be `expect` (None: any). `record=False` for output that holds plaintext by design: it is then not a log
        to scan, and a failure shows its stderr only."""
        run_env = {k: v for k, v in {**self.env, **(env or {})}.items() if k not in set(unset)}
        start = time.monotonic()
        proc = subprocess.run([str(c) for c in cmd], env=run_env, capture_output=True, text=True, timeout=timeout, **kw)
        self.timings.append((label, time.monotonic() - start))
        out = proc.stdout + proc.stderr
        if record:
            self.outputs.append(out)
        if expect is not None and proc.returncode != expect:
            # The output may be shown: Pulumi and kubectl print secrets masked; the leak scan covers it too.
            want = "" if expect == 0 else f", expected {expect}"
            shown_out = out if record else proc.stderr
            raise Failure(f"`{shown(cmd)}` ({label}) exited {proc.returncode}{want}:\n{shown_out[-tail:]}")
        return proc

    def pulumi(self, *args: str, label: str = "", env: Mapping[str, str] | None = None, ok: bool = True,
               record: bool = True, timeout: float = 900) -> str:
        """`pulumi ARGS` in the project, non-interactive and without colour; returns its stdout. `ok=False`: it must
        fail."""
        cmd = ["pulumi", *args, "--non-interactive", "--color", "never"]
        proc = self.run("pulumi " + (label or " ".join(args[:2])), cmd, cwd=self.project, env=env,
                        expect=0 if ok else None, record=record, timeout=timeout)
        if not ok and proc.returncode == 0:
            raise Failure(f"`{shown(cmd)}` succeeded but should have failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
        return proc.stdout

    def set_secret_from_stdin(self, key: str, value: str, label: str = "") -> None:
        """`pulumi config set --secret KEY` with the value on stdin, for a value (a private key, say) that must never
        be a command-line argument."""
        self.run("pulumi " + (label or f"config set --secret {key}"),
                 ["pulumi", "config", "set", "--secret", key, "--non-interactive"],
                 input=value, cwd=self.project, timeout=120, tail=2000)

    def login_file_backend(self) -> None:
        """`pulumi login` to a file backend in `state/` (whose directory must exist beforehand)."""
        (self.tmp / "state").mkdir(exist_ok=True)
        self.pulumi("login", f"file://{self.tmp / 'state'}")

    def state_files(self) -> list[Path]:
        return [p for p in sorted((self.tmp / "state").rglob("*")) if p.is_file()]

    def close(self, log: Callable[[str], None]) -> None:
        if self.keep:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def check_preconditions(tools: Iterable[str], binaries: Iterable[str], install_hint: str) -> None:
    """Skips when a tool is not on PATH or a binary under test is missing."""
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise Skip(f"not on PATH: {', '.join(missing)} ({install_hint})")
    absent = [b for b in binaries if not (RELEASE / b).is_file()]
    if absent:
        raise Skip(f"release binaries missing: {', '.join(absent)} (cargo build --release --bins)")


def link_binaries(project: Path, binaries: Iterable[str]) -> None:
    """Pulumi.yaml names ./target/release for the program and our provider; the copy links the binaries under test."""
    release = project / "target" / "release"
    release.mkdir(parents=True, exist_ok=True)
    for b in binaries:
        (release / b).symlink_to(RELEASE / b)


def copy_project(dest: Path, binaries: Iterable[str] = (), extra_ignore: Iterable[str] = ()) -> None:
    """The work tree without build outputs and local state, into `dest`, with the binaries under test linked."""
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(*COPY_IGNORE, *extra_ignore), symlinks=True)
    link_binaries(dest, binaries)


def wait_until(what: str, attempt: Callable[[], tuple[bool, T]], timeout: float, interval: float = 1.0,
               gave_up: Callable[[], str | None] | None = None) -> T:
    """Calls `attempt` until it returns (True, value), every `interval` seconds for at most `timeout`; returns the
    value. Fails naming `what` it waited for and the last value seen, on timeout or as soon as `gave_up` returns a
    reason (a process the wait depends on has exited, say)."""
    deadline = time.monotonic() + timeout
    while True:
        done, value = attempt()
        if done:
            return value
        reason = gave_up() if gave_up else None
        if reason:
            raise Failure(f"gave up waiting for {what}: {reason}; last seen: {value}")
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout:.0f} s waiting for {what}; last seen: {value}")
        time.sleep(interval)


def needles(value: str, hex_too: bool = False) -> set[str]:
    """The forms a secret value may leak in: plain, base64 (a Kubernetes Secret's data) and, with `hex_too`, hex."""
    forms = {value, base64.b64encode(value.encode()).decode()}
    if hex_too:
        forms.add(value.encode().hex())
    return forms


def file_texts(roots: Iterable[Path], relative_to: Path) -> dict[str, str]:
    """Every file under `roots`, as text, by its path relative to `relative_to`: haystacks for `check_no_leak`."""
    return {str(p.relative_to(relative_to)): p.read_text(errors="replace")
            for root in roots for p in sorted(root.rglob("*")) if p.is_file()}


def check_no_leak(known: Iterable[str], haystacks: Mapping[str, str], hex_too: bool = False) -> None:
    """No known secret value, in any of its forms, in any haystack; the failure names the place and the value's length
    only."""
    for value in known:
        forms = needles(value, hex_too)
        for where, text in haystacks.items():
            if any(n in text for n in forms):
                raise Failure(f"a secret value (of length {len(value)}) appears in {where}")


def decode_secret(doc: Mapping) -> dict[str, str]:
    """A Kubernetes Secret's values in plaintext (data is base64, stringData is not); kept in this process only."""
    data = {k: base64.b64decode(v).decode(errors="replace") for k, v in (doc.get("data") or {}).items()}
    data.update(doc.get("stringData") or {})
    return data


def report_timings(log: Callable[[str], None], timings: Iterable[tuple[str, float]], omit: str = "") -> None:
    for label, seconds in timings:
        if not (omit and label.startswith(omit)):
            log(f"  {seconds:7.2f} s  {label}")


def skip(log: Callable[[str], None], reason: str) -> int:
    """The exit code of a skipped run: 0, or 1 with SOPHIA_E2E_REQUIRE set (scripts/test.sh requires the run)."""
    log(f"skipped: {reason}")
    if os.environ.get("SOPHIA_E2E_REQUIRE"):
        return 1
    log("0 passed, 0 failed, 1 skipped")
    return 0
