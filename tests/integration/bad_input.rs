//! The bad-input suite: the `sophia` CLI run as a hostile or unlucky user would, on a copy of the example project.
//! Each case is a command, the files it is given, where its standard output goes, the exit code it must end with, a
//! substring its message must hold naming the fault, and then every canary secret of the example is looked for,
//! plain, base64 and hex, in standard output, standard error and every file the command wrote or changed. A case
//! that does not exit within [`TIMEOUT`] (a FIFO read that blocks) fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::util::{bin, find_canary, project_root};

const DEV_PASSPHRASE: &str = "sophia-dev-example-passphrase";
/// Placeholder secret values of the dev example (environments/sophia/dev.yaml, Pulumi.dev.yaml).
/// `CANARY` is planted by the cases themselves, as a secret value inside a bad input.
const CANARIES: [&str; 5] = [
    "dev-placeholder-password",
    "serpapi-dev-placeholder",
    "pplx-dev-placeholder",
    "sk-ant-dev-placeholder",
    CANARY,
];
const CANARY: &str = "canary-bad-input-v7q2";
const TIMEOUT: Duration = Duration::from_secs(60);

/// Where a case's standard output goes.
#[derive(Clone, Copy, Debug)]
pub(super) enum Stdout {
    /// A pipe that is read to the end.
    Read,
    /// A pipe whose reader is gone before the command writes (`sophia ... | head -c0`).
    Closed,
    /// `/dev/full`: every write fails with "no space left on device".
    Full,
}

/// How a case prepares the project copy at `dir` (and returns extra arguments, paths inside it).
type Setup = fn(&Path) -> Vec<String>;

struct Case {
    name: &'static str,
    args: &'static [&'static str],
    setup: Setup,
    stdout: Stdout,
    code: i32,
    /// Must appear in standard error (empty: anything, but no panic).
    message: &'static str,
    /// Files written into the project copy before `setup` runs (path relative to it, contents).
    files: &'static [(&'static str, &'static str)],
    /// Environment variables set (an empty value removes the variable).
    env: &'static [(&'static str, &'static str)],
}

/// The fields most cases share: a command reading its output to the end and failing with exit code 1.
const BASE: Case = Case {
    name: "",
    args: &[],
    setup: no_setup,
    stdout: Stdout::Read,
    code: 1,
    message: "",
    files: &[],
    env: &[],
};

fn no_setup(_: &Path) -> Vec<String> {
    Vec::new()
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

fn arg(path: PathBuf) -> Vec<String> {
    vec![path.to_str().unwrap().to_owned()]
}

/// Makes `path` one byte longer than the limit on input files (sparse: no disk used).
fn oversize(path: &Path) {
    let file = std::fs::File::create(path).unwrap();
    file.set_len(sophia::input::MAX_INPUT_BYTES + 1).unwrap();
}

/// Replaces the first `from` in the project file `rel` with `to`.
fn edit(dir: &Path, rel: &str, from: &str, to: &str) {
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from:?} not in {rel}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// Replaces the whole line of `rel` that starts with `prefix` with `line`.
fn edit_line(dir: &Path, rel: &str, prefix: &str, line: &str) {
    let path = dir.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    let old = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap()
        .to_owned();
    std::fs::write(&path, text.replacen(&old, line, 1)).unwrap();
}

/// Replaces the line after the one holding `marker` in the stack file with `line`.
fn edit_after(dir: &Path, marker: &str, line: &str) {
    let path = dir.join("Pulumi.dev.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.contains(marker)).unwrap() + 1;
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out[at] = line.to_owned();
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
}

/// Sets the ciphertext of the stack's `openai-key` (line 15 of the stack file).
fn edit_secure(dir: &Path, secure: &str) {
    edit_line(
        dir,
        "Pulumi.dev.yaml",
        "    secure: v1:jMrUIlewaPDXzPRp:",
        &format!("    secure: {secure}"),
    );
}

fn deep_json(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

const CASES: &[Case] = &[
    // Command-line arguments.
    Case {
        name: "an unknown flag",
        args: &["render", "--stack", "dev", "--bogus"],
        message: "unexpected argument '--bogus'",
        ..BASE
    },
    Case {
        name: "a missing required flag",
        args: &["render"],
        message: "--stack <STACK>",
        ..BASE
    },
    Case {
        name: "an unknown subcommand",
        args: &["frobnicate"],
        message: "unrecognized subcommand 'frobnicate'",
        ..BASE
    },
    Case {
        name: "an unknown config subcommand",
        args: &["config", "frobnicate"],
        message: "unrecognized subcommand 'frobnicate'",
        ..BASE
    },
    Case {
        name: "a flag given twice",
        args: &["config", "show", "--stack", "dev", "--json", "--json"],
        message: "'--json' cannot be used multiple times",
        ..BASE
    },
    Case {
        name: "a flag without its value",
        args: &["render", "--stack"],
        message: "a value is required for '--stack <STACK>'",
        ..BASE
    },
    Case {
        name: "impact with an unknown format",
        args: &["impact", "x.json", "--format", "xml"],
        message: "invalid value 'xml' for '--format <FORMAT>'",
        ..BASE
    },
    Case {
        name: "esc open with an unknown format",
        args: &["esc", "open", "sophia/dev", "--format", "xml"],
        message: "invalid value 'xml' for '--format <FORMAT>'",
        ..BASE
    },
    Case {
        name: "audit log with a non-numeric --since",
        args: &["audit", "log", "--since", "abc"],
        message: "invalid value 'abc' for '--since <UNIX_SECONDS>'",
        ..BASE
    },
    Case {
        name: "impact without inputs",
        args: &["impact"],
        message: "<OLD>",
        ..BASE
    },
    Case {
        name: "esc open without an environment",
        args: &["esc", "open"],
        message: "<ENV>",
        ..BASE
    },
    Case {
        name: "a stack with no stack file",
        args: &["render", "--stack", "nope"],
        message: "stack file ./Pulumi.nope.yaml not found",
        ..BASE
    },
    Case {
        name: "config show of a stack with no stack file",
        args: &["config", "show", "--stack", "nope"],
        message: "Pulumi.nope.yaml not found",
        ..BASE
    },
    Case {
        name: "--cwd that does not exist",
        args: &["render", "--stack", "dev", "--cwd", "/nonexistent-sophia"],
        message: "no Pulumi.yaml in /nonexistent-sophia",
        ..BASE
    },
    Case {
        name: "--cwd that is a file",
        args: &["render", "--stack", "dev", "--cwd", "Pulumi.yaml"],
        message: "no Pulumi.yaml in Pulumi.yaml",
        ..BASE
    },
    Case {
        name: "an impact input that does not exist",
        args: &["impact", "nope.json", "--stack", "dev"],
        message: "reading nope.json: No such file or directory",
        ..BASE
    },
    Case {
        name: "an impact input that is a dangling symlink",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            std::os::unix::fs::symlink(dir.join("gone.json"), dir.join("state.json")).unwrap();
            arg(dir.join("state.json"))
        },
        message: "state.json: No such file or directory",
        ..BASE
    },
    Case {
        name: "an impact input that links to /dev/zero",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            std::os::unix::fs::symlink("/dev/zero", dir.join("state.json")).unwrap();
            arg(dir.join("state.json"))
        },
        message: "state.json: not a regular file (it is a character device)",
        ..BASE
    },
    Case {
        name: "an impact input that is a symlink loop",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            std::os::unix::fs::symlink(dir.join("b.json"), dir.join("a.json")).unwrap();
            std::os::unix::fs::symlink(dir.join("a.json"), dir.join("b.json")).unwrap();
            arg(dir.join("a.json"))
        },
        message: "a.json",
        ..BASE
    },
    Case {
        name: "an environment that does not exist",
        args: &["esc", "open", "sophia/nope"],
        message: "environments/sophia/nope.yaml: No such file or directory",
        ..BASE
    },
    Case {
        name: "an environment name that climbs out",
        args: &["esc", "open", "../../etc/passwd"],
        message: "invalid environment name \"../../etc/passwd\"",
        ..BASE
    },
    Case {
        name: "an environment name without a project",
        args: &["esc", "open", "dev"],
        message: "reading environment \"dev\" from environments/dev.yaml: No such file",
        ..BASE
    },
    Case {
        name: "an --environments directory that does not exist",
        args: &[
            "esc",
            "open",
            "sophia/dev",
            "--environments",
            "/nonexistent-sophia",
        ],
        message: "/nonexistent-sophia",
        ..BASE
    },
    Case {
        name: "the audit log is a directory",
        args: &["audit", "log", "--file", "."],
        message: "not a regular file (it is a directory)",
        ..BASE
    },
    Case {
        name: "the audit log links to /dev/zero",
        args: &["audit", "log", "--verify", "--file"],
        setup: |dir| {
            std::os::unix::fs::symlink("/dev/zero", dir.join("log.jsonl")).unwrap();
            arg(dir.join("log.jsonl"))
        },
        message: "log.jsonl: not a regular file (it is a character device)",
        ..BASE
    },
    Case {
        name: "the audit log is not JSON lines",
        args: &["audit", "log", "--verify", "--file", "log.jsonl"],
        files: &[("log.jsonl", "not json\n")],
        message: "audit log log.jsonl, line 1: not an audit entry",
        ..BASE
    },
    Case {
        name: "Pulumi.yaml is missing",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            std::fs::remove_file(dir.join("Pulumi.yaml")).unwrap();
            Vec::new()
        },
        message: "no Pulumi.yaml in .",
        ..BASE
    },
    Case {
        name: "Pulumi.yaml is a directory",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            std::fs::remove_file(dir.join("Pulumi.yaml")).unwrap();
            std::fs::create_dir(dir.join("Pulumi.yaml")).unwrap();
            Vec::new()
        },
        message: "Pulumi.yaml",
        ..BASE
    },
    Case {
        name: "Pulumi.yaml is a FIFO",
        args: &["config", "show", "--stack", "dev"],
        setup: |dir| {
            mkfifo(&dir.join("Pulumi.yaml"));
            Vec::new()
        },
        message: "no Pulumi.yaml in .",
        ..BASE
    },
    Case {
        name: "the stack file is a directory",
        args: &["config", "show", "--stack", "dev"],
        setup: |dir| {
            std::fs::remove_file(dir.join("Pulumi.dev.yaml")).unwrap();
            std::fs::create_dir(dir.join("Pulumi.dev.yaml")).unwrap();
            Vec::new()
        },
        message: "Pulumi.dev.yaml: not a regular file (it is a directory)",
        ..BASE
    },
    Case {
        name: "the stack file over the size limit",
        args: &["config", "show", "--stack", "dev"],
        setup: |dir| {
            oversize(&dir.join("Pulumi.dev.yaml"));
            Vec::new()
        },
        message: "Pulumi.dev.yaml: larger than the 16 MiB limit on input files",
        ..BASE
    },
    Case {
        name: "services.yaml is missing",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            std::fs::remove_file(dir.join("services.yaml")).unwrap();
            Vec::new()
        },
        message: "services.yaml: No such file or directory",
        ..BASE
    },
    Case {
        name: "services.yaml is a directory",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            std::fs::remove_file(dir.join("services.yaml")).unwrap();
            std::fs::create_dir(dir.join("services.yaml")).unwrap();
            Vec::new()
        },
        message: "services.yaml: not a regular file (it is a directory)",
        ..BASE
    },
    Case {
        name: "services.yaml links to /dev/zero",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            std::fs::remove_file(dir.join("services.yaml")).unwrap();
            std::os::unix::fs::symlink("/dev/zero", dir.join("services.yaml")).unwrap();
            Vec::new()
        },
        message: "services.yaml: not a regular file (it is a character device)",
        ..BASE
    },
    Case {
        name: "services.yaml over the size limit",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            oversize(&dir.join("services.yaml"));
            Vec::new()
        },
        message: "services.yaml: larger than the 16 MiB limit on input files",
        ..BASE
    },
    Case {
        name: "an environment file over the size limit",
        args: &["esc", "open", "sophia/dev"],
        setup: |dir| {
            oversize(&dir.join("environments/sophia/dev.yaml"));
            Vec::new()
        },
        message: "dev.yaml: larger than the 16 MiB limit on input files",
        ..BASE
    },
    Case {
        name: "an environment file is a directory",
        args: &["esc", "open", "sophia/dev"],
        setup: |dir| {
            std::fs::remove_file(dir.join("environments/sophia/dev.yaml")).unwrap();
            std::fs::create_dir(dir.join("environments/sophia/dev.yaml")).unwrap();
            Vec::new()
        },
        message: "dev.yaml: not a regular file (it is a directory)",
        ..BASE
    },
    Case {
        name: "an imported environment links to /dev/zero",
        args: &["esc", "open", "sophia/dev"],
        setup: |dir| {
            std::fs::remove_file(dir.join("environments/sophia/common.yaml")).unwrap();
            std::os::unix::fs::symlink("/dev/zero", dir.join("environments/sophia/common.yaml"))
                .unwrap();
            Vec::new()
        },
        message: "common.yaml: not a regular file (it is a character device)",
        ..BASE
    },
    // Project and stack files.
    Case {
        name: "Pulumi.yaml is not YAML",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.yaml", "name: [\n")],
        message: "Pulumi.yaml:2:1: while parsing a node",
        ..BASE
    },
    Case {
        name: "Pulumi.yaml has no name",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.yaml", "runtime: yaml\n")],
        message: "Pulumi.yaml:1:1: project is missing a 'name' attribute",
        ..BASE
    },
    Case {
        name: "Pulumi.yaml's name is a list",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.yaml", "name: [a]\nruntime: yaml\n")],
        message: "Pulumi.yaml:1:7: `name` must be a non-empty string",
        ..BASE
    },
    Case {
        name: "the stack file is not YAML",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.dev.yaml", "config:\n  a: [\n")],
        message: "Pulumi.dev.yaml:3:1: while parsing a node",
        ..BASE
    },
    Case {
        name: "the stack file indents with a tab",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.dev.yaml", "config:\n\tsophia-secrets:a: 1\n")],
        message: "Pulumi.dev.yaml:2:2: tabs disallowed",
        ..BASE
    },
    Case {
        name: "the stack's config is a list",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.dev.yaml", "config:\n  - a\n")],
        message: "Pulumi.dev.yaml:2:3: `config` must be a mapping",
        ..BASE
    },
    Case {
        name: "the stack's config is a number",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.dev.yaml", "config: 5\n")],
        message: "Pulumi.dev.yaml:1:9: `config` must be a mapping",
        ..BASE
    },
    Case {
        name: "the stack file is a list",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.dev.yaml", "- a\n")],
        message: "Pulumi.dev.yaml:1:1: stack file must be a mapping",
        ..BASE
    },
    Case {
        name: "the stack file has a duplicate key",
        args: &["config", "show", "--stack", "dev"],
        files: &[(
            "Pulumi.dev.yaml",
            "config:\n  sophia-secrets:a: 1\n  sophia-secrets:a: 2\n",
        )],
        message: "Pulumi.dev.yaml:3:3: duplicate key `sophia-secrets:a` (first set on line 2)",
        ..BASE
    },
    Case {
        name: "the stack file has a duplicate top-level key",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.dev.yaml", "config: {}\nconfig: {}\n")],
        message: "Pulumi.dev.yaml:2:1: duplicate key `config`",
        ..BASE
    },
    Case {
        name: "a config key with two namespaces",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.dev.yaml", "config:\n  \"a:b:c\": 1\n")],
        message: "Pulumi.dev.yaml:2:3: could not parse `a:b:c` as a configuration key",
        ..BASE
    },
    Case {
        name: "YAML aliases in the stack file",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.dev.yaml", "a: &a [x, x]\nb: [*a, *a]\nconfig: {}\n")],
        message: "Pulumi.dev.yaml:2:5: YAML aliases are not supported",
        ..BASE
    },
    Case {
        name: "the stack file is binary",
        args: &["config", "show", "--stack", "dev"],
        files: &[(
            "Pulumi.dev.yaml",
            "config:\n  sophia-secrets:a: \u{0}\u{1}\u{2}\n",
        )],
        message: "Pulumi.dev.yaml",
        ..BASE
    },
    Case {
        name: "the stack file is not UTF-8",
        args: &["config", "show", "--stack", "dev"],
        setup: |dir| {
            std::fs::write(
                dir.join("Pulumi.dev.yaml"),
                b"config:\n  sophia-secrets:a: \xff\xfe\n",
            )
            .unwrap();
            Vec::new()
        },
        message: "Pulumi.dev.yaml: stream did not contain valid UTF-8",
        ..BASE
    },
    Case {
        name: "the stack file holds two documents",
        args: &["config", "show", "--stack", "dev"],
        files: &[("Pulumi.dev.yaml", "config: {}\n---\nconfig: {}\n")],
        message: "Pulumi.dev.yaml:2:1: expected a single YAML document",
        ..BASE
    },
    Case {
        name: "a secure value that is not base64",
        args: &["config", "show", "--stack", "dev", "--show-secrets"],
        setup: |dir| {
            edit_secure(dir, "v1:jMrUIlewaPDXzPRp:!!!notbase64");
            Vec::new()
        },
        message: "Pulumi.dev.yaml:15: malformed secure value for `sophia-secrets:openai-key`: malformed ciphertext: ciphertext is not base64",
        ..BASE
    },
    Case {
        name: "a truncated secure value",
        args: &["config", "show", "--stack", "dev", "--show-secrets"],
        setup: |dir| {
            edit_secure(dir, "v1:jMrUIlewaPDXzPRp:2DNePowQXev");
            Vec::new()
        },
        message: "Pulumi.dev.yaml:15: malformed secure value for `sophia-secrets:openai-key`",
        ..BASE
    },
    Case {
        name: "a secure value without its nonce",
        args: &["config", "show", "--stack", "dev", "--show-secrets"],
        setup: |dir| {
            edit_secure(dir, "garbage");
            Vec::new()
        },
        message: "Pulumi.dev.yaml:15: malformed secure value for `sophia-secrets:openai-key`: malformed ciphertext: expected v1:<nonce>:<ciphertext>",
        ..BASE
    },
    Case {
        name: "a secure value whose ciphertext was altered",
        args: &["config", "show", "--stack", "dev", "--show-secrets"],
        setup: |dir| {
            edit_secure(
                dir,
                "v1:jMrUIlewaPDXzPRp:3DNePowQXevESKzr19UmiXvRDxODAqxClByXikV28hbOOyQc+UNzSBNU+Y+VfWsZzrnRiRy4+DWC",
            );
            Vec::new()
        },
        message: "sophia-secrets:openai-key",
        ..BASE
    },
    Case {
        name: "a secure value under another stack's salt",
        args: &["config", "show", "--stack", "dev", "--show-secrets"],
        setup: |dir| {
            edit(
                dir,
                "Pulumi.dev.yaml",
                "encryptionsalt: v1:BBiB+qkPW5w=:",
                "encryptionsalt: v1:CCiB+qkPW5w=:",
            );
            Vec::new()
        },
        message: "Pulumi.dev.yaml",
        ..BASE
    },
    Case {
        name: "a malformed encryption salt",
        args: &["config", "show", "--stack", "dev", "--show-secrets"],
        setup: |dir| {
            edit_line(
                dir,
                "Pulumi.dev.yaml",
                "encryptionsalt:",
                "encryptionsalt: v1:zz",
            );
            Vec::new()
        },
        message: "Pulumi.dev.yaml: encryptionsalt: malformed encryptionsalt: expected v1:<salt>:<check value>",
        ..BASE
    },
    Case {
        name: "a stack with secrets and no salt",
        args: &["config", "show", "--stack", "dev", "--show-secrets"],
        setup: |dir| {
            edit_line(dir, "Pulumi.dev.yaml", "encryptionsalt:", "");
            Vec::new()
        },
        message: "cannot be decrypted offline",
        ..BASE
    },
    Case {
        name: "the wrong passphrase",
        args: &["config", "show", "--stack", "dev", "--show-secrets"],
        env: &[("PULUMI_CONFIG_PASSPHRASE", "wrong-passphrase")],
        message: "incorrect passphrase for ./Pulumi.dev.yaml",
        ..BASE
    },
    Case {
        name: "the wrong passphrase when rendering",
        args: &["render", "--stack", "dev"],
        env: &[("PULUMI_CONFIG_PASSPHRASE", "wrong-passphrase")],
        message: "incorrect passphrase for ./Pulumi.dev.yaml",
        ..BASE
    },
    Case {
        name: "no passphrase",
        args: &["render", "--stack", "dev"],
        env: &[("PULUMI_CONFIG_PASSPHRASE", "")],
        message: "PULUMI_CONFIG_PASSPHRASE",
        ..BASE
    },
    Case {
        name: "a passphrase file that does not exist",
        args: &["render", "--stack", "dev"],
        env: &[
            ("PULUMI_CONFIG_PASSPHRASE", ""),
            ("PULUMI_CONFIG_PASSPHRASE_FILE", "/nonexistent-sophia/pass"),
        ],
        message: "/nonexistent-sophia/pass",
        ..BASE
    },
    Case {
        name: "a passphrase file that is /dev/zero",
        args: &["render", "--stack", "dev"],
        env: &[
            ("PULUMI_CONFIG_PASSPHRASE", ""),
            ("PULUMI_CONFIG_PASSPHRASE_FILE", "/dev/zero"),
        ],
        message: "/dev/zero: not a regular file (it is a character device)",
        ..BASE
    },
    Case {
        name: "the stack names an environment that does not exist",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(
                dir,
                "Pulumi.dev.yaml",
                "    - sophia/dev",
                "    - sophia/nope",
            );
            Vec::new()
        },
        message: "unknown ESC environment `sophia/nope` (no ./environments/sophia/nope.yaml); declared by the stack's `sophia-secrets:environments`",
        ..BASE
    },
    Case {
        name: "the stack names an environment outside environments/",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(dir, "Pulumi.dev.yaml", "    - sophia/dev", "    - ../x");
            Vec::new()
        },
        message: "`../x`",
        ..BASE
    },
    Case {
        name: "the stack's environments is a number",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(dir, "Pulumi.dev.yaml", "\n    - sophia/dev", " 5");
            Vec::new()
        },
        message: "sophia-secrets:environments",
        ..BASE
    },
    Case {
        name: "a hash key that is too short",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit_after(dir, "hashKey:", "    short-key");
            Vec::new()
        },
        message: "`sophia-secrets:hashKey` is not a usable hash key",
        ..BASE
    },
    Case {
        name: "a hash key that is a map",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit_after(dir, "hashKey:", "    a: 1");
            Vec::new()
        },
        message: "sophia-secrets:hashKey",
        ..BASE
    },
    Case {
        name: "a secret namespace in the stack file",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(
                dir,
                "Pulumi.dev.yaml",
                "  sophia-secrets:openai-key:",
                "  sophia-secrets:namespace:",
            );
            Vec::new()
        },
        message: "`sophia-secrets:namespace`",
        ..BASE
    },
    Case {
        name: "a namespace that is not a DNS label",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(
                dir,
                "environments/sophia/dev.yaml",
                "namespace: sophia-dev",
                "namespace: Sophia_Dev",
            );
            Vec::new()
        },
        message: "namespace",
        ..BASE
    },
    Case {
        name: "a namespace that is a list",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(
                dir,
                "environments/sophia/dev.yaml",
                "namespace: sophia-dev",
                "namespace: [a]",
            );
            Vec::new()
        },
        message: "configuration key 'namespace' must be of type 'string'",
        ..BASE
    },
    // ESC environment documents, opened directly and through a stack.
    Case {
        name: "an environment that is not YAML",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a: [\n  s:\n    fn::secret: canary-bad-input-v7q2\n",
        )],
        message: "environments/x/e.yaml:",
        ..BASE
    },
    Case {
        name: "an environment indented with a tab",
        args: &["esc", "open", "x/e"],
        files: &[("environments/x/e.yaml", "values:\n\ta: 1\n")],
        message: "environments/x/e.yaml:2:1: error: yaml: line 2: tabs disallowed",
        ..BASE
    },
    Case {
        name: "an environment that is a list",
        args: &["esc", "open", "x/e"],
        files: &[("environments/x/e.yaml", "- 1\n")],
        message: "environments/x/e.yaml:1:1: error: environment must be an object",
        ..BASE
    },
    Case {
        name: "values that are a list",
        args: &["esc", "open", "x/e"],
        files: &[("environments/x/e.yaml", "values:\n  - 1\n")],
        message: "environments/x/e.yaml:2:3: error: values must be an object",
        ..BASE
    },
    Case {
        name: "a duplicate key in values",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::secret: canary-bad-input-v7q2\n  a: 2\n",
        )],
        message: "environments/x/e.yaml:4:3: error: duplicate key \"a\"",
        ..BASE
    },
    Case {
        name: "YAML aliases in an environment",
        args: &["esc", "open", "x/e"],
        files: &[("environments/x/e.yaml", "values:\n  a: &x 1\n  b: *x\n")],
        message: "environments/x/e.yaml:3:6: error: alias nodes are not supported",
        ..BASE
    },
    Case {
        name: "an unknown builtin",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::frobnicate: 1\n",
        )],
        message: "environments/x/e.yaml:3:5: error: 'fn::' is a reserved prefix",
        ..BASE
    },
    Case {
        name: "two builtins in one object",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::toJSON: 1\n    fn::toBase64: x\n",
        )],
        message: "\"fn::toJSON\" must be the only key within its containing object",
        ..BASE
    },
    Case {
        name: "fn::secret beside another key",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::secret: canary-bad-input-v7q2\n    b: 1\n",
        )],
        message: "environments/x/e.yaml:3:5: error: illegal call to builtin function: \"fn::secret\" must be the only key",
        ..BASE
    },
    Case {
        name: "fn::secret of a number",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::secret: 5\n",
        )],
        message: "environments/x/e.yaml:3:17: error: secret values must be string literals",
        ..BASE
    },
    Case {
        name: "fn::secret with a ciphertext that is not base64",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::secret:\n      ciphertext: '!!!'\n",
        )],
        message: "environments/x/e.yaml:3:5: error: invalid ciphertext",
        ..BASE
    },
    Case {
        name: "fn::secret with a truncated ciphertext",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::secret:\n      ciphertext: ZZZZ\n",
        )],
        message: "environments/x/e.yaml:3:5: error: invalid ciphertext",
        ..BASE
    },
    Case {
        name: "fn::fromBase64 of invalid base64",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::fromBase64: '%%%'\n",
        )],
        message: "environments/x/e.yaml:3:",
        ..BASE
    },
    Case {
        name: "fn::fromBase64 of a number",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::fromBase64: 5\n",
        )],
        message: "environments/x/e.yaml:3:21: error: expected string, got number",
        ..BASE
    },
    // Decoded lossily (U+FFFD), as ESC's own JSON output does with such bytes.
    Case {
        name: "fn::fromBase64 of bytes that are not UTF-8",
        args: &["esc", "open", "x/e"],
        code: 0,
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::fromBase64: //79\n",
        )],
        ..BASE
    },
    Case {
        name: "fn::fromJSON of invalid JSON",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::fromJSON: '{nope'\n",
        )],
        message: "environments/x/e.yaml:3:",
        ..BASE
    },
    Case {
        name: "fn::fromJSON of a secret that is invalid JSON",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  s:\n    fn::secret: '{\"k\": canary-bad-input-v7q2'\n  a:\n    fn::fromJSON: ${s}\n",
        )],
        message: "environments/x/e.yaml:5:",
        ..BASE
    },
    Case {
        name: "fn::fromJSON of a list",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::fromJSON: [1]\n",
        )],
        message: "environments/x/e.yaml:3:19: error: expected string, got array",
        ..BASE
    },
    Case {
        name: "fn::join of a number",
        args: &["esc", "open", "x/e"],
        files: &[("environments/x/e.yaml", "values:\n  a:\n    fn::join: 5\n")],
        message: "environments/x/e.yaml:3:15: error: the argument to fn::join must be a two-valued list",
        ..BASE
    },
    Case {
        name: "fn::join of a list of numbers",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::join: [',', [1, {b: 2}]]\n",
        )],
        message: "environments/x/e.yaml:3:",
        ..BASE
    },
    Case {
        name: "fn::split with one argument",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::split: [x]\n",
        )],
        message: "environments/x/e.yaml:3:16: error: the argument to fn::split must be a two-valued list",
        ..BASE
    },
    Case {
        name: "fn::toBase64 of a list",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::toBase64: [1]\n",
        )],
        message: "environments/x/e.yaml:3:",
        ..BASE
    },
    Case {
        name: "fn::open of an unknown provider",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::open::nope: {}\n",
        )],
        message: "environments/x/e.yaml:3:5: error: fn::open::nope needs Pulumi Cloud; the offline evaluator has no provider \"nope\"",
        ..BASE
    },
    Case {
        name: "fn::rotate of an unknown rotator",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a:\n    fn::rotate::nope: {}\n",
        )],
        message: "environments/x/e.yaml:3:5: error: no rotator \"nope\"",
        ..BASE
    },
    Case {
        name: "a reference cycle",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  a: ${b}\n  b: ${a}\n  s:\n    fn::secret: canary-bad-input-v7q2\n",
        )],
        message: "environments/x/e.yaml:2:",
        ..BASE
    },
    Case {
        name: "a value that refers to itself",
        args: &["esc", "open", "x/e"],
        files: &[("environments/x/e.yaml", "values:\n  a: ${a}\n")],
        message: "environments/x/e.yaml:2:",
        ..BASE
    },
    Case {
        name: "a reference to an unknown property",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  s:\n    fn::secret: canary-bad-input-v7q2\n  a: ${nope}\n",
        )],
        message: "environments/x/e.yaml:4:8: error: unknown property \"nope\"",
        ..BASE
    },
    Case {
        name: "a reference past the end of a list",
        args: &["esc", "open", "x/e"],
        files: &[("environments/x/e.yaml", "values:\n  a: [1]\n  b: ${a[5]}\n")],
        message: "environments/x/e.yaml:3:",
        ..BASE
    },
    Case {
        name: "a property access on a secret string",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "values:\n  s:\n    fn::secret: canary-bad-input-v7q2\n  b: ${s.x}\n",
        )],
        message: "environments/x/e.yaml:4:",
        ..BASE
    },
    Case {
        name: "an unterminated interpolation",
        args: &["esc", "open", "x/e"],
        files: &[("environments/x/e.yaml", "values:\n  a: ${nope\n")],
        message: "environments/x/e.yaml:2:",
        ..BASE
    },
    Case {
        name: "an import that does not exist",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "imports:\n  - x/nope\nvalues:\n  a: 1\n",
        )],
        message: "environments/x/e.yaml:2:5: error: environment \"x/nope\" not found",
        ..BASE
    },
    Case {
        name: "imports that are not a list",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "imports: x/nope\nvalues:\n  a: 1\n",
        )],
        message: "environments/x/e.yaml:1:10: error: imports must be a list",
        ..BASE
    },
    Case {
        name: "an environment that imports itself",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "imports:\n  - x/e\nvalues:\n  a: 1\n",
        )],
        message: "environments/x/e.yaml:2:5: error: cyclic import of x/e",
        ..BASE
    },
    Case {
        name: "an import cycle through a second environment",
        args: &["esc", "open", "x/e"],
        files: &[
            (
                "environments/x/e.yaml",
                "imports:\n  - x/f\nvalues:\n  a: 1\n",
            ),
            (
                "environments/x/f.yaml",
                "imports:\n  - x/e\nvalues:\n  b: 1\n",
            ),
        ],
        message: "cyclic import of x/e",
        ..BASE
    },
    Case {
        name: "an import that climbs out",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "imports:\n  - ../../etc\nvalues:\n  a: 1\n",
        )],
        message: "environments/x/e.yaml:2:5: error: invalid environment name \"../../etc\"",
        ..BASE
    },
    Case {
        name: "an import that is a number",
        args: &["esc", "open", "x/e"],
        files: &[(
            "environments/x/e.yaml",
            "imports:\n  - 5\nvalues:\n  a: 1\n",
        )],
        message: "environments/x/e.yaml:2:",
        ..BASE
    },
    Case {
        name: "an imported environment with an error",
        args: &["esc", "open", "x/e"],
        files: &[
            (
                "environments/x/e.yaml",
                "imports:\n  - x/f\nvalues:\n  a: 1\n",
            ),
            ("environments/x/f.yaml", "values:\n  b: ${nope}\n"),
        ],
        message: "environments/x/f.yaml:2:",
        ..BASE
    },
    Case {
        name: "an environment nested 600 levels deep",
        args: &["esc", "open", "x/e"],
        setup: |dir| {
            let nested: String = (0..600)
                .map(|i| format!("{}k:\n", " ".repeat(i + 2)))
                .collect();
            std::fs::create_dir_all(dir.join("environments/x")).unwrap();
            std::fs::write(
                dir.join("environments/x/e.yaml"),
                format!("values:\n{nested}"),
            )
            .unwrap();
            Vec::new()
        },
        message: "environments/x/e.yaml:",
        ..BASE
    },
    Case {
        name: "an environment with a deep flow list",
        args: &["esc", "open", "x/e"],
        setup: |dir| {
            std::fs::create_dir_all(dir.join("environments/x")).unwrap();
            std::fs::write(
                dir.join("environments/x/e.yaml"),
                format!("values:\n  a: {}\n", deep_json(100_000)),
            )
            .unwrap();
            Vec::new()
        },
        message: "environments/x/e.yaml:",
        ..BASE
    },
    Case {
        name: "an unknown top-level key is a warning",
        args: &["esc", "open", "x/e"],
        code: 0,
        files: &[("environments/x/e.yaml", "valuez:\n  a: 1\n")],
        message: "environments/x/e.yaml:1:1: warning: Field 'valuez' does not exist",
        ..BASE
    },
    Case {
        name: "dotenv of an environment without environmentVariables prints nothing",
        args: &["esc", "open", "x/e", "--format", "dotenv"],
        code: 0,
        files: &[("environments/x/e.yaml", "values:\n  a: 1\n")],
        ..BASE
    },
    Case {
        name: "an environment variable that is an object holding a secret",
        args: &["esc", "open", "x/e", "--format", "shell"],
        code: 0,
        files: &[(
            "environments/x/e.yaml",
            "values:\n  environmentVariables:\n    A:\n      b:\n        fn::secret: canary-bad-input-v7q2\n",
        )],
        ..BASE
    },
    Case {
        name: "a stack whose environment has an error",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(
                dir,
                "environments/sophia/dev.yaml",
                "    log-level: debug",
                "    log-level: ${nope}",
            );
            Vec::new()
        },
        message: "dev.yaml:",
        ..BASE
    },
    Case {
        name: "a stack whose environment imports one that is missing",
        args: &["config", "show", "--stack", "dev"],
        setup: |dir| {
            std::fs::remove_file(dir.join("environments/sophia/common.yaml")).unwrap();
            Vec::new()
        },
        message: "sophia/common",
        ..BASE
    },
    // A `pulumiConfig` that is not an object would otherwise cost the stack every key it was meant to supply.
    Case {
        name: "pulumiConfig that is a list",
        args: &["config", "show", "--stack", "dev"],
        code: 1,
        message: "pulumiConfig: must be an object of config keys, got",
        setup: |dir| {
            std::fs::write(
                dir.join("environments/sophia/dev.yaml"),
                "values:\n  pulumiConfig: [1]\n",
            )
            .unwrap();
            Vec::new()
        },
        ..BASE
    },
    // The service catalog, services.yaml, and the stack's overrides of it.
    Case {
        name: "services.yaml is not YAML",
        args: &["render", "--stack", "dev"],
        files: &[("services.yaml", "services:\n  a: [\n")],
        message: "services.yaml: line 2 column 6: expected mapping start",
        ..BASE
    },
    Case {
        name: "services.yaml is empty",
        args: &["render", "--stack", "dev"],
        files: &[("services.yaml", "")],
        message: "services.yaml",
        ..BASE
    },
    Case {
        name: "services.yaml is a list",
        args: &["render", "--stack", "dev"],
        files: &[("services.yaml", "- a\n")],
        message: "services.yaml: line 1 column 1: expected mapping start",
        ..BASE
    },
    Case {
        name: "services that are a list",
        args: &["render", "--stack", "dev"],
        files: &[("services.yaml", "services:\n  - a\n")],
        message: "services.yaml: line 2 column 3: expected mapping start",
        ..BASE
    },
    Case {
        name: "a catalog without services",
        args: &["render", "--stack", "dev"],
        files: &[("services.yaml", "defaults:\n  replicas: 1\n")],
        message: "services",
        ..BASE
    },
    Case {
        name: "an unknown top-level key in services.yaml",
        args: &["render", "--stack", "dev"],
        files: &[("services.yaml", "servces:\n  a:\n    image: x:1\n")],
        message: "services.yaml: line 1 column 1: unknown field `servces`",
        ..BASE
    },
    Case {
        name: "a duplicate service",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  api:\n    image: x:1\n    env: {}\n  api:\n    image: x:2\n    env: {}\n",
        )],
        message: "services.yaml: line 5 column 3: duplicate mapping key: api",
        ..BASE
    },
    Case {
        name: "a service name with capitals",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  Api:\n    image: x:1\n    env: {}\n",
        )],
        message: "`Api`",
        ..BASE
    },
    Case {
        name: "a service name with an underscore",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  my_api:\n    image: x:1\n    env: {}\n",
        )],
        message: "`my_api`",
        ..BASE
    },
    Case {
        name: "a service name that is too long",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:\n    image: x:1\n    env: {}\n",
        )],
        message: "service `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa`: invalid name: must be no more than 63 characters",
        ..BASE
    },
    Case {
        name: "a service name that starts with a dash",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  -api:\n    image: x:1\n    env: {}\n",
        )],
        message: "`-api`",
        ..BASE
    },
    Case {
        name: "a service that is a string",
        args: &["render", "--stack", "dev"],
        files: &[("services.yaml", "services:\n  api: x:1\n")],
        message: "services.yaml: line 2 column 8: expected mapping start",
        ..BASE
    },
    Case {
        name: "a service without an image",
        args: &["render", "--stack", "dev"],
        files: &[("services.yaml", "services:\n  api:\n    env: {}\n")],
        message: "image",
        ..BASE
    },
    Case {
        name: "an image that is a list",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  api:\n    image: [x]\n    env: {}\n",
        )],
        message: "services.yaml: line 3 column 12",
        ..BASE
    },
    Case {
        name: "replicas that are a string",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  api:\n    image: x:1\n    replicas: two\n    env: {}\n",
        )],
        message: "services.yaml: line 4 column 15: invalid i64",
        ..BASE
    },
    Case {
        name: "negative replicas",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  api:\n    image: x:1\n    replicas: -1\n    env: {}\n",
        )],
        message: "service `api`: `replicas` must be between 0 and 10000 (is -1)",
        ..BASE
    },
    Case {
        name: "a port out of range",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  api:\n    image: x:1\n    port: 70000\n    env: {}\n",
        )],
        message: "service `api`: `port` must be between 1 and 65535 (is 70000)",
        ..BASE
    },
    Case {
        name: "an unknown key in a service",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  api:\n    image: x:1\n    imgae: y:1\n    env: {}\n",
        )],
        message: "services.yaml: line 4 column 5: unknown field `imgae`",
        ..BASE
    },
    Case {
        name: "env that is a list",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  api:\n    image: x:1\n    env: [a]\n",
        )],
        message: "services.yaml: line 4 column 10: expected mapping start",
        ..BASE
    },
    Case {
        name: "an env var name that is not a C identifier",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  api:\n    image: x:1\n    env:\n      \"A-B\": openai-key\n",
        )],
        message: "`A-B`",
        ..BASE
    },
    Case {
        name: "an env var whose config key is a map",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  api:\n    image: x:1\n    env:\n      A: {k: v}\n",
        )],
        message: "services.yaml: line 5 column 10:",
        ..BASE
    },
    Case {
        name: "an env var whose config key the stack lacks",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  api:\n    image: x:1\n    env:\n      A: no-such-key\n",
        )],
        message: "no-such-key",
        ..BASE
    },
    Case {
        name: "defaults that are a list",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "defaults: [1]\nservices:\n  api:\n    image: x:1\n    env: {}\n",
        )],
        message: "services.yaml: line 1 column 11: expected mapping start",
        ..BASE
    },
    Case {
        name: "a duplicate key inside a service",
        args: &["render", "--stack", "dev"],
        files: &[(
            "services.yaml",
            "services:\n  api:\n    image: x:1\n    image: x:2\n    env: {}\n",
        )],
        message: "services.yaml: line 4 column 5: duplicate mapping key: image",
        ..BASE
    },
    Case {
        name: "services.yaml indented with a tab",
        args: &["render", "--stack", "dev"],
        files: &[("services.yaml", "services:\n\tapi: {}\n")],
        message: "services.yaml: line 2 column 2: tabs disallowed",
        ..BASE
    },
    Case {
        name: "an override of a service the catalog lacks",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(
                dir,
                "environments/sophia/dev.yaml",
                "    log-level: debug\n",
                "    log-level: debug\n    services:\n      mcp-nope:\n        replicas: 2\n",
            );
            Vec::new()
        },
        message: "mcp-nope",
        ..BASE
    },
    Case {
        name: "an override with replicas as a string",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(
                dir,
                "environments/sophia/dev.yaml",
                "    log-level: debug\n",
                "    log-level: debug\n    services:\n      mcp-research:\n        replicas: many\n",
            );
            Vec::new()
        },
        message: "stack config `sophia-secrets:services`: expected `service: {image, replicas, env}` blocks: invalid type: string",
        ..BASE
    },
    Case {
        name: "an override with an unknown key",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(
                dir,
                "environments/sophia/dev.yaml",
                "    log-level: debug\n",
                "    log-level: debug\n    services:\n      mcp-research:\n        imag: x:1\n",
            );
            Vec::new()
        },
        message: "stack config `sophia-secrets:services`: expected `service: {image, replicas, env}` blocks: unknown field `imag`",
        ..BASE
    },
    Case {
        name: "overrides that are a list",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(
                dir,
                "environments/sophia/dev.yaml",
                "    log-level: debug\n",
                "    log-level: debug\n    services: [1]\n",
            );
            Vec::new()
        },
        message: "`sophia-secrets:services`",
        ..BASE
    },
    Case {
        name: "an override env var naming a secret directly",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(
                dir,
                "environments/sophia/dev.yaml",
                "    log-level: debug\n",
                "    log-level: debug\n    services:\n      mcp-research:\n        env:\n          X:\n            fn::secret: canary-bad-input-v7q2\n",
            );
            Vec::new()
        },
        message: "mcp-research.env",
        ..BASE
    },
    Case {
        name: "a secret replica count",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            edit(
                dir,
                "environments/sophia/dev.yaml",
                "    log-level: debug\n",
                "    log-level: debug\n    services:\n      mcp-research:\n        replicas:\n          fn::secret: canary-bad-input-v7q2\n",
            );
            Vec::new()
        },
        message: "mcp-research.replicas",
        ..BASE
    },
    // Impact inputs: state exports and renders.
    Case {
        name: "a state export that is not JSON",
        args: &["impact", "input-a.json", "input-a.json"],
        files: &[("input-a.json", "{\"deployment\": ")],
        message: "input-a.json: not a state export",
        ..BASE
    },
    Case {
        name: "a state export without resources",
        args: &["impact", "input-a.json", "input-a.json"],
        files: &[("input-a.json", "{\"deployment\": {}}")],
        message: "input-a.json: not a state export (`pulumi stack export` JSON with `deployment.resources`)",
        ..BASE
    },
    Case {
        name: "a state export whose resources are a map",
        args: &["impact", "input-a.json", "input-a.json"],
        files: &[("input-a.json", "{\"deployment\": {\"resources\": {}}}")],
        message: "input-a.json: not a state export",
        ..BASE
    },
    Case {
        name: "a state export whose hash is a number",
        args: &["impact", "input-a.json", "input-a.json"],
        files: &[(
            "input-a.json",
            "{\"deployment\": {\"resources\": [{\"type\": \"sophia:index:SecretHash\", \"urn\": \"urn:x\", \"inputs\": {\"scope\": \"ns/api\"}, \"outputs\": {\"hash\": 5}}]}}",
        )],
        message: "input-a.json: resource urn:x: output `hash` is not a string",
        ..BASE
    },
    Case {
        name: "a state export whose keyHashes are a list",
        args: &["impact", "input-a.json", "input-a.json"],
        files: &[(
            "input-a.json",
            "{\"deployment\": {\"resources\": [{\"type\": \"sophia:index:SecretHash\", \"urn\": \"urn:x\", \"inputs\": {\"scope\": \"ns/api\"}, \"outputs\": {\"keyHashes\": [\"canary-bad-input-v7q2\"]}}]}}",
        )],
        message: "resource urn:x: output `keyHashes`",
        ..BASE
    },
    Case {
        name: "a state export whose key hash is a number",
        args: &["impact", "input-a.json", "input-a.json"],
        files: &[(
            "input-a.json",
            "{\"deployment\": {\"resources\": [{\"type\": \"sophia:index:SecretHash\", \"urn\": \"urn:x\", \"inputs\": {\"scope\": \"ns/api\"}, \"outputs\": {\"keyHashes\": {\"K\": 5}}}]}}",
        )],
        message: "resource urn:x: output `keyHashes`",
        ..BASE
    },
    Case {
        name: "a state export that is a JSON list",
        args: &["impact", "input-a.json", "input-a.json"],
        files: &[("input-a.json", "[1, 2]")],
        message: "input-a.json: YAML document 1 is not a mapping",
        ..BASE
    },
    Case {
        name: "an empty impact input is an empty render",
        args: &["impact", "input-a.json", "input-a.json"],
        code: 0,
        files: &[("input-a.json", "")],
        ..BASE
    },
    Case {
        name: "an impact input that is not UTF-8",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            std::fs::write(
                dir.join("input-a.yaml"),
                b"kind: Secret\nmetadata: \xff\xfe\n",
            )
            .unwrap();
            arg(dir.join("input-a.yaml"))
        },
        message: "input-a.yaml",
        ..BASE
    },
    Case {
        name: "a render that is not YAML",
        args: &["impact", "input-a.yaml", "input-a.yaml"],
        files: &[(
            "input-a.yaml",
            "kind: Secret\nstringData:\n  K: \"canary-bad-input-v7q2\n  broken: [\n",
        )],
        message: "input-a.yaml",
        ..BASE
    },
    Case {
        name: "a render whose Secret's fingerprints are not JSON",
        args: &["impact", "input-a.yaml", "input-a.yaml"],
        files: &[(
            "input-a.yaml",
            "kind: Secret\nmetadata:\n  name: api-env\n  namespace: ns\n  labels:\n    app.kubernetes.io/name: api\n  annotations:\n    sophia.dev/key-fingerprints: \"{not json\"\nstringData:\n  K: canary-bad-input-v7q2\n",
        )],
        message: "Secret ns/api: annotation `sophia.dev/key-fingerprints` is not a JSON object of key fingerprints",
        ..BASE
    },
    Case {
        name: "a render whose Secret's fingerprints are a number",
        args: &["impact", "input-a.yaml", "input-a.yaml"],
        files: &[(
            "input-a.yaml",
            "kind: Secret\nmetadata:\n  name: api-env\n  namespace: ns\n  labels:\n    app.kubernetes.io/name: api\n  annotations:\n    sophia.dev/key-fingerprints: 5\n",
        )],
        message: "Secret ns/api: annotation `sophia.dev/key-fingerprints` is not a string",
        ..BASE
    },
    Case {
        name: "a render whose fingerprints are a JSON list",
        args: &["impact", "input-a.yaml", "input-a.yaml"],
        files: &[(
            "input-a.yaml",
            "kind: Secret\nmetadata:\n  name: api-env\n  namespace: ns\n  labels:\n    app.kubernetes.io/name: api\n  annotations:\n    sophia.dev/key-fingerprints: '[\"canary-bad-input-v7q2\"]'\n",
        )],
        message: "Secret ns/api: annotation `sophia.dev/key-fingerprints`",
        ..BASE
    },
    Case {
        name: "a render whose Deployment fingerprint is a number",
        args: &["impact", "input-a.yaml", "input-a.yaml"],
        files: &[(
            "input-a.yaml",
            "kind: Deployment\nmetadata:\n  name: api\n  namespace: ns\nspec:\n  template:\n    metadata:\n      annotations:\n        sophia.dev/secret-fingerprint: 5\n",
        )],
        message: "Deployment ns/api: pod template annotation `sophia.dev/secret-fingerprint` is not a string",
        ..BASE
    },
    Case {
        name: "a render whose Deployment fingerprint is empty",
        args: &["impact", "input-a.yaml", "input-a.yaml"],
        files: &[(
            "input-a.yaml",
            "kind: Deployment\nmetadata:\n  name: api\n  namespace: ns\nspec:\n  template:\n    metadata:\n      annotations:\n        sophia.dev/secret-fingerprint: ''\n",
        )],
        message: "Deployment ns/api: pod template annotation `sophia.dev/secret-fingerprint` is empty",
        ..BASE
    },
    Case {
        name: "a render that is a list",
        args: &["impact", "input-a.yaml", "input-a.yaml"],
        files: &[("input-a.yaml", "- kind: Secret\n")],
        message: "input-a.yaml: YAML document 1 is not a mapping",
        ..BASE
    },
    Case {
        name: "a render document that is a string",
        args: &["impact", "input-a.yaml", "input-a.yaml"],
        files: &[("input-a.yaml", "---\nkind: Namespace\n---\nSecret\n")],
        message: "input-a.yaml: YAML document 2 is not a mapping",
        ..BASE
    },
    Case {
        name: "a render directory holding a file that is not YAML",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            std::fs::create_dir(dir.join("input-r")).unwrap();
            std::fs::write(dir.join("input-r/v1-secret-x.yaml"), "kind: [\n").unwrap();
            arg(dir.join("input-r"))
        },
        message: "v1-secret-x.yaml",
        ..BASE
    },
    Case {
        name: "a render directory holding a file over the size limit",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            std::fs::create_dir(dir.join("input-r")).unwrap();
            oversize(&dir.join("input-r/v1-secret-x.yaml"));
            arg(dir.join("input-r"))
        },
        message: "v1-secret-x.yaml: larger than the 16 MiB limit on input files",
        ..BASE
    },
    Case {
        name: "a deep render document",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            std::fs::write(
                dir.join("input-a.yaml"),
                format!("kind: {}\n", deep_json(100_000)),
            )
            .unwrap();
            arg(dir.join("input-a.yaml"))
        },
        message: "input-a.yaml",
        ..BASE
    },
    Case {
        name: "a render of many documents with one broken",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            let mut docs: String = (0..2_000)
                .map(|i| format!("---\nkind: ConfigMap\nmetadata:\n  name: c{i}\n"))
                .collect();
            docs.push_str("---\nkind: Secret\nmetadata:\n  name: x-env\n  labels:\n    app.kubernetes.io/name: x\n  annotations:\n    sophia.dev/key-fingerprints: '{'\n");
            std::fs::write(dir.join("input-a.yaml"), docs).unwrap();
            arg(dir.join("input-a.yaml"))
        },
        message: "Secret default/x: annotation `sophia.dev/key-fingerprints`",
        ..BASE
    },
    Case {
        name: "impact against a stack with a broken stack file",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            std::fs::write(dir.join("Pulumi.dev.yaml"), "config: [\n").unwrap();
            std::fs::write(
                dir.join("input-a.json"),
                "{\"deployment\": {\"resources\": []}}",
            )
            .unwrap();
            arg(dir.join("input-a.json"))
        },
        message: "Pulumi.dev.yaml:",
        ..BASE
    },
    // Output targets.
    Case {
        name: "render --out onto a file",
        args: &[
            "render",
            "--stack",
            "dev",
            "--show-secrets",
            "--out",
            "Pulumi.yaml",
        ],
        message: "Pulumi.yaml",
        ..BASE
    },
    Case {
        name: "render --out under a file",
        args: &[
            "render",
            "--stack",
            "dev",
            "--show-secrets",
            "--out",
            "Pulumi.yaml/out",
        ],
        message: "Pulumi.yaml/out",
        ..BASE
    },
    Case {
        name: "render --out into a directory that cannot be written",
        args: &[
            "render",
            "--stack",
            "dev",
            "--show-secrets",
            "--out",
            "/proc/sophia-out",
        ],
        message: "creating a temporary directory in /proc",
        ..BASE
    },
    Case {
        name: "render --out onto /dev/null",
        args: &[
            "render",
            "--stack",
            "dev",
            "--show-secrets",
            "--out",
            "/dev/null",
        ],
        message: "/dev/null",
        ..BASE
    },
    Case {
        name: "render --out replaces a directory where an object's file goes",
        args: &["render", "--stack", "dev", "--out", "out"],
        code: 0,
        setup: |dir| {
            std::fs::create_dir_all(dir.join("out/v1-secret-sophia-dev-mcp-search-env.yaml"))
                .unwrap();
            Vec::new()
        },
        message: "wrote 9 objects for 4 services to out",
        ..BASE
    },
    Case {
        name: "render --out with a full standard output",
        args: &["render", "--stack", "dev", "--out", "out"],
        stdout: Stdout::Full,
        code: 0,
        ..BASE
    },
    Case {
        name: "config show --json into a full disk",
        args: &[
            "config",
            "show",
            "--stack",
            "dev",
            "--json",
            "--show-secrets",
        ],
        stdout: Stdout::Full,
        message: "error: writing to standard output: No space left on device",
        ..BASE
    },
    Case {
        name: "config show --show-secrets into a closed pipe",
        args: &["config", "show", "--stack", "dev", "--show-secrets"],
        stdout: Stdout::Closed,
        code: 0,
        ..BASE
    },
    Case {
        name: "esc open --show-secrets into a full disk",
        args: &[
            "esc",
            "open",
            "sophia/dev",
            "--show-secrets",
            "--format",
            "yaml",
        ],
        stdout: Stdout::Full,
        message: "error: writing to standard output: No space left on device",
        ..BASE
    },
    Case {
        name: "esc open --format shell into a closed pipe",
        args: &[
            "esc",
            "open",
            "sophia/dev",
            "--show-secrets",
            "--format",
            "shell",
        ],
        stdout: Stdout::Closed,
        code: 0,
        ..BASE
    },
    Case {
        name: "render --show-secrets into a closed pipe",
        args: &["render", "--stack", "dev", "--show-secrets"],
        stdout: Stdout::Closed,
        code: 0,
        ..BASE
    },
    Case {
        name: "impact --format json into a full disk",
        args: &["impact", "input-a.json", "input-a.json", "--format", "json"],
        files: &[("input-a.json", "{\"deployment\": {\"resources\": []}}")],
        stdout: Stdout::Full,
        message: "error: writing to standard output: No space left on device",
        ..BASE
    },
    Case {
        name: "help into a full disk",
        args: &["--help"],
        stdout: Stdout::Full,
        message: "error: writing to standard output: No space left on device",
        ..BASE
    },
    Case {
        name: "help into a closed pipe",
        args: &["--help"],
        stdout: Stdout::Closed,
        code: 0,
        ..BASE
    },
    Case {
        name: "the audit log cannot be written",
        args: &["config", "show", "--stack", "dev", "--show-secrets"],
        env: &[("SOPHIA_AUDIT_LOG", "/proc/sophia-audit.jsonl")],
        message: "/proc/sophia-audit.jsonl",
        ..BASE
    },
    Case {
        name: "the audit log is a directory when written",
        args: &["config", "show", "--stack", "dev", "--show-secrets"],
        env: &[("SOPHIA_AUDIT_LOG", "/tmp")],
        message: "/tmp",
        ..BASE
    },
    // Non-regular and oversized input files: a clear error naming the file, never a hang or an unbounded read.
    Case {
        name: "services.yaml is a FIFO",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            mkfifo(&dir.join("services.yaml"));
            Vec::new()
        },
        stdout: Stdout::Read,
        code: 1,
        message: "services.yaml: not a regular file (it is a FIFO)",
        ..BASE
    },
    Case {
        name: "the stack file is a FIFO",
        args: &["config", "show", "--stack", "dev"],
        setup: |dir| {
            mkfifo(&dir.join("Pulumi.dev.yaml"));
            Vec::new()
        },
        stdout: Stdout::Read,
        code: 1,
        message: "Pulumi.dev.yaml: not a regular file (it is a FIFO)",
        ..BASE
    },
    Case {
        name: "the stack file links to a character device",
        args: &["config", "show", "--stack", "dev"],
        setup: |dir| {
            std::fs::remove_file(dir.join("Pulumi.dev.yaml")).unwrap();
            std::os::unix::fs::symlink("/dev/zero", dir.join("Pulumi.dev.yaml")).unwrap();
            Vec::new()
        },
        stdout: Stdout::Read,
        code: 1,
        message: "Pulumi.dev.yaml: not a regular file (it is a character device)",
        ..BASE
    },
    Case {
        name: "an environment file is a FIFO",
        args: &["render", "--stack", "dev"],
        setup: |dir| {
            mkfifo(&dir.join("environments/sophia/dev.yaml"));
            Vec::new()
        },
        stdout: Stdout::Read,
        code: 1,
        message: "dev.yaml: not a regular file (it is a FIFO)",
        ..BASE
    },
    Case {
        name: "esc open of an environment that is a FIFO",
        args: &["esc", "open", "sophia/dev"],
        setup: |dir| {
            mkfifo(&dir.join("environments/sophia/dev.yaml"));
            Vec::new()
        },
        stdout: Stdout::Read,
        code: 1,
        message: "not a regular file (it is a FIFO)",
        ..BASE
    },
    Case {
        name: "an impact input is a FIFO",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            mkfifo(&dir.join("state.json"));
            arg(dir.join("state.json"))
        },
        stdout: Stdout::Read,
        code: 1,
        message: "state.json: not a regular file (it is a FIFO)",
        ..BASE
    },
    Case {
        name: "an impact input is /dev/zero",
        args: &["impact", "/dev/zero", "--stack", "dev"],
        setup: no_setup,
        stdout: Stdout::Read,
        code: 1,
        message: "/dev/zero: not a regular file (it is a character device)",
        ..BASE
    },
    Case {
        name: "an impact input over the size limit",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            let path = dir.join("state.json");
            let file = std::fs::File::create(&path).unwrap();
            file.set_len(sophia::input::MAX_INPUT_BYTES + 1).unwrap();
            arg(path)
        },
        stdout: Stdout::Read,
        code: 1,
        message: "state.json: larger than the 16 MiB limit on input files",
        ..BASE
    },
    Case {
        name: "a render directory holding a FIFO",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            let rendered = dir.join("rendered");
            std::fs::create_dir(&rendered).unwrap();
            mkfifo(&rendered.join("v1-secret-x.yaml"));
            arg(rendered)
        },
        stdout: Stdout::Read,
        code: 1,
        message: "v1-secret-x.yaml: not a regular file (it is a FIFO)",
        ..BASE
    },
    Case {
        name: "the audit log is a FIFO",
        args: &["audit", "log", "--file"],
        setup: |dir| {
            mkfifo(&dir.join("audit-fifo.jsonl"));
            arg(dir.join("audit-fifo.jsonl"))
        },
        stdout: Stdout::Read,
        code: 1,
        message: "audit-fifo.jsonl: not a regular file (it is a FIFO)",
        ..BASE
    },
    // Deep structures: a clear error, not a stack overflow.
    Case {
        name: "a deep fn::fromJSON",
        args: &["esc", "open", "sophia/deep"],
        setup: |dir| {
            let doc = format!(
                "values:\n  a:\n    fn::fromJSON: '{}'\n",
                deep_json(100_000)
            );
            std::fs::write(dir.join("environments/sophia/deep.yaml"), doc).unwrap();
            Vec::new()
        },
        stdout: Stdout::Read,
        code: 1,
        message: "decoding JSON string: JSON nests deeper than 200 levels",
        ..BASE
    },
    Case {
        name: "a deep flow value in the stack file",
        args: &["config", "show", "--stack", "dev"],
        setup: |dir| {
            let doc = format!("config:\n  sophia-secrets:deep: {}\n", deep_json(100_000));
            std::fs::write(dir.join("Pulumi.dev.yaml"), doc).unwrap();
            Vec::new()
        },
        stdout: Stdout::Read,
        code: 1,
        message: "Pulumi.dev.yaml:2:279: recursion limit exceeded",
        ..BASE
    },
    Case {
        name: "a deep block value in the stack file",
        args: &["config", "show", "--stack", "dev"],
        setup: |dir| {
            let nested: String = (0..1_000)
                .map(|i| format!("{}k:\n", " ".repeat(i + 4)))
                .collect();
            let doc = format!("config:\n  sophia-secrets:deep:\n{nested}");
            std::fs::write(dir.join("Pulumi.dev.yaml"), doc).unwrap();
            Vec::new()
        },
        stdout: Stdout::Read,
        code: 1,
        message: "Pulumi.dev.yaml:201:203: nests deeper than 200 levels",
        ..BASE
    },
    Case {
        name: "a deep state export",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            let path = dir.join("state.json");
            std::fs::write(&path, format!("{{\"deployment\": {}}}", deep_json(100_000))).unwrap();
            arg(path)
        },
        stdout: Stdout::Read,
        code: 1,
        message: "state.json",
        ..BASE
    },
    // Output failures: a closed pipe is a quiet exit, any other write error a clean error.
    Case {
        name: "config show into a closed pipe",
        args: &["config", "show", "--stack", "dev"],
        setup: no_setup,
        stdout: Stdout::Closed,
        code: 0,
        message: "",
        ..BASE
    },
    Case {
        name: "config show into a full disk",
        args: &["config", "show", "--stack", "dev"],
        setup: no_setup,
        stdout: Stdout::Full,
        code: 1,
        message: "error: writing to standard output: No space left on device",
        ..BASE
    },
    Case {
        name: "render into a closed pipe",
        args: &["render", "--stack", "dev"],
        setup: no_setup,
        stdout: Stdout::Closed,
        code: 0,
        message: "",
        ..BASE
    },
    Case {
        name: "render --show-secrets into a full disk",
        args: &["render", "--stack", "dev", "--show-secrets"],
        setup: no_setup,
        stdout: Stdout::Full,
        code: 1,
        message: "error: writing to standard output: No space left on device",
        ..BASE
    },
    Case {
        name: "esc open into a closed pipe",
        args: &["esc", "open", "sophia/dev"],
        setup: no_setup,
        stdout: Stdout::Closed,
        code: 0,
        message: "",
        ..BASE
    },
    Case {
        name: "esc open into a full disk",
        args: &["esc", "open", "sophia/dev", "--format", "dotenv"],
        setup: no_setup,
        stdout: Stdout::Full,
        code: 1,
        message: "error: writing to standard output: No space left on device",
        ..BASE
    },
    Case {
        name: "impact into a closed pipe",
        args: &["impact", "--stack", "dev", "--format", "markdown"],
        setup: |dir| {
            let path = dir.join("state.json");
            std::fs::write(
                &path,
                "{\"version\": 3, \"deployment\": {\"resources\": []}}",
            )
            .unwrap();
            arg(path)
        },
        stdout: Stdout::Closed,
        code: 0,
        message: "",
        ..BASE
    },
    Case {
        name: "impact into a full disk",
        args: &["impact", "--stack", "dev"],
        setup: |dir| {
            let path = dir.join("state.json");
            std::fs::write(
                &path,
                "{\"version\": 3, \"deployment\": {\"resources\": []}}",
            )
            .unwrap();
            arg(path)
        },
        stdout: Stdout::Full,
        code: 1,
        message: "error: writing to standard output: No space left on device",
        ..BASE
    },
    Case {
        name: "audit log into a full disk",
        args: &["audit", "log", "--file"],
        setup: |dir| {
            // One entry, from an earlier command writing the log.
            let path = dir.join("audit.jsonl");
            run(
                dir,
                &["config", "show", "--stack", "dev"],
                &[],
                Stdout::Read,
                &[],
            );
            arg(path)
        },
        stdout: Stdout::Full,
        code: 1,
        message: "error: writing to standard output: No space left on device",
        ..BASE
    },
];

/// A copy of the example project (stack `dev`, its environments, catalog).
pub(super) fn project_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = project_root();
    for file in ["Pulumi.yaml", "Pulumi.dev.yaml", "services.yaml"] {
        std::fs::copy(root.join(file), dir.path().join(file)).unwrap();
    }
    let envs = dir.path().join("environments/sophia");
    std::fs::create_dir_all(&envs).unwrap();
    for env in ["common", "dev", "production"] {
        std::fs::copy(
            root.join(format!("environments/sophia/{env}.yaml")),
            envs.join(format!("{env}.yaml")),
        )
        .unwrap();
    }
    dir
}

pub(super) struct Ran {
    pub(super) code: Option<i32>,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

/// Runs `sophia` in `dir` with a clean environment (its audit log and home inside `dir`).
pub(super) fn run(
    dir: &Path,
    args: &[&str],
    extra: &[String],
    stdout: Stdout,
    env: &[(&str, &str)],
) -> Ran {
    let mut command = Command::new(bin("sophia"));
    command
        .args(args)
        .args(extra)
        .current_dir(dir)
        .env_clear()
        .env("PULUMI_CONFIG_PASSPHRASE", DEV_PASSPHRASE)
        .env("HOME", dir)
        .env("SOPHIA_AUDIT_LOG", dir.join("audit.jsonl"))
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    for (name, value) in env {
        if value.is_empty() {
            command.env_remove(name);
        } else {
            command.env(name, value);
        }
    }
    match stdout {
        Stdout::Read | Stdout::Closed => command.stdout(Stdio::piped()),
        Stdout::Full => command.stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        ),
    };
    let mut child = command.spawn().unwrap();
    let out_pipe = child.stdout.take();
    let reader = match (stdout, out_pipe) {
        (Stdout::Read, Some(mut pipe)) => Some(std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })),
        // Closed before the command writes anything.
        (_, pipe) => {
            drop(pipe);
            None
        }
    };
    let mut err_pipe = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = err_pipe.read_to_end(&mut bytes);
        bytes
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sophia {args:?} did not exit within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    Ran {
        code: status.code(),
        stdout: reader.map(|r| text(r.join().unwrap())).unwrap_or_default(),
        stderr: text(err_reader.join().unwrap()),
    }
}

/// Every regular file under `dir` (symlinks and special files not followed or read).
fn regular_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            found.extend(regular_files(&path));
        } else if meta.is_file() && meta.len() <= sophia::input::MAX_INPUT_BYTES {
            found.push(path);
        }
    }
    found
}

/// The suite's size is part of its contract: at least 150 bad inputs over every surface, the CLI's here and the
/// provider's in `bad_input_grpc`.
#[test]
fn bad_input_suite_has_at_least_150_cases() {
    let total = CASES.len() + super::bad_input_grpc::CASES_COUNT;
    eprintln!(
        "bad-input cases: {} CLI, {} gRPC, {total} in all",
        CASES.len(),
        super::bad_input_grpc::CASES_COUNT
    );
    assert!(total >= 150, "{total} bad-input cases");
}

#[test]
fn bad_input_cases() {
    // Each case is a process waiting on its own files, so a few run at once; the cases share nothing.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut failures: Vec<(usize, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut found = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(case) = CASES.get(i) else {
                            return found;
                        };
                        found.extend(check_case(case).into_iter().map(|f| (i, f)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    failures.sort();
    let failures: Vec<String> = failures.into_iter().map(|(_, f)| f).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs one case; what is wrong with its outcome, if anything.
fn check_case(case: &Case) -> Vec<String> {
    let mut failures = Vec::new();
    {
        let project = project_copy();
        for (path, contents) in case.files {
            let path = project.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, contents).unwrap();
        }
        let extra = (case.setup)(project.path());
        // The inputs themselves may hold plaintext (an environment's `fn::secret` literals): only what the command
        // wrote or changed is scanned.
        let before: std::collections::BTreeMap<PathBuf, Vec<u8>> = regular_files(project.path())
            .into_iter()
            .map(|f| {
                let bytes = std::fs::read(&f).unwrap();
                (f, bytes)
            })
            .collect();
        let ran = run(project.path(), case.args, &extra, case.stdout, case.env);
        let what = format!("case `{}` (sophia {:?} {extra:?})", case.name, case.args);
        if ran.code != Some(case.code) {
            failures.push(format!(
                "{what}: exit {:?}, want {}; stderr: {}",
                ran.code, case.code, ran.stderr
            ));
            return failures;
        }
        if ran.stderr.contains("panicked") || !ran.stderr.contains(case.message) {
            failures.push(format!(
                "{what}: stderr does not hold {:?}: {}",
                case.message, ran.stderr
            ));
            return failures;
        }
        let mut outputs = vec![
            ("stdout".to_owned(), ran.stdout.clone()),
            ("stderr".to_owned(), ran.stderr.clone()),
        ];
        for file in regular_files(project.path()) {
            let bytes = std::fs::read(&file).unwrap();
            if before.get(&file) != Some(&bytes) {
                outputs.push((
                    file.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
        for (place, text) in &outputs {
            for canary in CANARIES {
                if let Some(form) = find_canary(text, canary) {
                    failures.push(format!("{what}: {place} holds a secret ({form})"));
                }
            }
        }
    }
    failures
}

/// `render --out` never writes through a symlink planted in the output directory, and a failed render leaves the
/// directory as it was (see the unit tests of the writer for a failure part-way).
#[test]
fn render_out_never_follows_a_symlink_out_of_the_directory() {
    let project = project_copy();
    let outside = project.path().join("outside.txt");
    std::fs::write(&outside, "untouched\n").unwrap();
    let out = project.path().join("rendered");
    std::fs::create_dir(&out).unwrap();
    let secret_file = out.join("v1-secret-sophia-dev-mcp-search-env.yaml");
    std::os::unix::fs::symlink(&outside, &secret_file).unwrap();
    let ran = run(
        project.path(),
        &["render", "--stack", "dev", "--show-secrets", "--out"],
        &arg(out.clone()),
        Stdout::Read,
        &[],
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "untouched\n");
    assert!(std::fs::symlink_metadata(&secret_file).unwrap().is_file());
    // Only the output directory and the project's own files: no staging directory left beside it.
    let mut names: Vec<String> = std::fs::read_dir(project.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    names.sort();
    assert!(names.is_empty(), "{names:?}");
}
