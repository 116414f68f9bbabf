"""End to end with Pulumi's real engine: `pulumi up`, a no-op `up`, `pulumi config set --secret`, `preview --diff`,
and provenance: a deploy by someone else from another commit that changes no secret is a "same" step that keeps the
recorded deployer and commit; the rotation records its own.

Needs a Pulumi CLI with the Go language host beside it (`$SOPHIA_PULUMI_BIN`, or `pulumi` on `$PATH`); skipped
otherwise. The program is a Python-SDK program run through the Go host's `runtime.options.binary` (the same route the
project's Rust program takes), so no Python language host is needed. State lives in a temporary file backend with the
passphrase secrets provider; PULUMI_HOME is temporary too.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

from conftest import BIN

SECRETS = [
    "sk-PLAINTEXT-first",
    "sk-PLAINTEXT-rotated",
    "postgres://PLAINTEXT@db",
    "e2e-hash-key-0123456789abcdef",
    "e2e-rotated-hash-key-0123456789",
]


def find_pulumi():
    explicit = os.environ.get("SOPHIA_PULUMI_BIN")
    candidates = [explicit] if explicit else []
    candidates.append(shutil.which("pulumi"))
    candidates += sorted(str(p) for p in pathlib.Path.home().glob(".cache/sophia-toolchain/pulumi-*/bin/pulumi"))
    for c in candidates:
        if c and os.access(c, os.X_OK) and (pathlib.Path(c).parent / "pulumi-language-go").exists():
            return c
    return None


PULUMI = find_pulumi()

PROGRAM = textwrap.dedent(
    """
    import asyncio, json, os
    import pulumi
    from pulumi.runtime import config, settings, stack

    settings.configure(settings.Settings(
        project=os.environ["PULUMI_PROJECT"], stack=os.environ["PULUMI_STACK"],
        monitor=os.environ["PULUMI_MONITOR"], engine=os.environ["PULUMI_ENGINE"],
        parallel=int(os.environ.get("PULUMI_PARALLEL", "4")), dry_run=os.environ.get("PULUMI_DRY_RUN") == "true",
        organization=os.environ.get("PULUMI_ORGANIZATION", "organization")))
    config.set_all_config(json.loads(os.environ.get("PULUMI_CONFIG", "{}")),
                          json.loads(os.environ.get("PULUMI_CONFIG_SECRET_KEYS", "[]")))

    class SecretHash(pulumi.CustomResource):
        def __init__(self, name, data, scope):
            super().__init__("sophia:index:SecretHash", name,
                             {"data": data, "scope": scope, "changedBy": os.environ.get("DEPLOYER"),
                              "commit": os.environ.get("COMMIT"), "hash": None, "keys": None, "keyHashes": None})

    def main():
        cfg = pulumi.Config()
        h = SecretHash("api", {"OPENAI_API_KEY": cfg.require_secret("openai-key"),
                               "DATABASE_URL": pulumi.Output.secret("postgres://PLAINTEXT@db")}, "sophia/api")
        pulumi.export("hash", h.hash)
        pulumi.export("keyHashes", h.keyHashes)
        pulumi.export("changedBy", h.changedBy)
        pulumi.export("commit", h.commit)

    asyncio.run(stack.run_in_stack(main))
    """
)


@pytest.mark.skipif(PULUMI is None, reason="no Pulumi CLI with pulumi-language-go found (set SOPHIA_PULUMI_BIN)")
def test_up_noop_rotate_preview_diff(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "program.py").write_text(PROGRAM)
    launcher = project / "program.sh"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$(dirname "$0")/program.py"\n')
    launcher.chmod(0o755)
    (project / "Pulumi.yaml").write_text(
        "name: sophia-provider-e2e\n"
        "runtime:\n  name: go\n  options:\n    binary: ./program.sh\n"
        f"plugins:\n  providers:\n    - name: sophia\n      path: {BIN.parent}\n"
    )
    env = dict(os.environ)
    extra_path = [str(pathlib.Path(PULUMI).parent)] + [p for p in ["/usr/local/go/bin"] if os.path.isdir(p)]
    env.update(
        PATH=os.pathsep.join(extra_path + [env.get("PATH", "")]),
        PULUMI_HOME=str(tmp_path / "home"),
        PULUMI_BACKEND_URL=f"file://{tmp_path / 'state'}",
        PULUMI_CONFIG_PASSPHRASE="e2e-passphrase",
        PULUMI_SKIP_UPDATE_CHECK="1",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
    )
    (tmp_path / "state").mkdir()
    outputs = []

    def pulumi(*args, deployer="alice", commit="c1"):
        run_env = {**env, "DEPLOYER": deployer, "COMMIT": commit}
        r = subprocess.run([PULUMI, *args, "--non-interactive"], cwd=project, env=run_env, capture_output=True, text=True, timeout=300)
        outputs.append(r.stdout + r.stderr)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    pulumi("stack", "init", "dev")
    pulumi("config", "set", "--secret", "sophia:hashKey", "e2e-hash-key-0123456789abcdef")
    pulumi("config", "set", "--secret", "openai-key", "sk-PLAINTEXT-first")
    first = pulumi("up", "--yes", "--skip-preview")
    assert "2 created" in first and "hmac-sha256:" in first
    again = pulumi("up", "--yes")
    assert "2 unchanged" in again, "a no-op up changes nothing"

    def recorded():
        out = json.loads(pulumi("stack", "output", "--json"))
        return out["changedBy"], out["commit"]

    assert recorded() == ("alice", "c1")
    # Another deployer, another commit, no secret changed: the preview shows nothing and the up changes nothing.
    later = dict(deployer="bob", commit="c2")
    preview = pulumi("preview", "--diff", **later)
    assert "changedBy" not in preview and "bob" not in preview, preview
    assert "2 unchanged" in pulumi("up", "--yes", "--expect-no-changes", **later)
    assert recorded() == ("alice", "c1"), "a no-op deploy keeps the record of the last change"

    pulumi("config", "set", "--secret", "openai-key", "sk-PLAINTEXT-rotated")
    preview = pulumi("preview", "--diff")
    resource = preview[preview.index("sophia:index:SecretHash") : preview.index("--outputs:--")]
    assert "~ keyHashes: {" in resource and "~ OPENAI_API_KEY:" in resource, preview
    assert "DATABASE_URL" not in resource, "only the rotated key is shown"
    assert "- keyHashes" not in preview and "replace" not in preview
    update = pulumi("up", "--yes", "--skip-preview", deployer="carol", commit="c3")
    assert "1 updated" in update
    assert recorded() == ("carol", "c3"), "the rotation records who deployed it"

    # A new hashKey changes every fingerprint: an in-place update listing every key, never a replacement.
    pulumi("config", "set", "--secret", "sophia:hashKey", "e2e-rotated-hash-key-0123456789")
    preview = pulumi("preview", "--diff")
    resource = preview[preview.index("sophia:index:SecretHash") : preview.index("--outputs:--")]
    assert "~ OPENAI_API_KEY" in resource and "~ DATABASE_URL" in resource, preview
    assert "replace" not in preview
    assert "1 updated" in pulumi("up", "--yes", "--skip-preview")

    export = pulumi("stack", "export")
    for text in outputs + [export]:
        for s in SECRETS:
            assert s not in text, "a secret value reached CLI output or state in plaintext"
