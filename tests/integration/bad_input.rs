//! The bad-input suite: the `sophia` CLI run as a hostile or unlucky user would, on a copy of the example project.
//! Each case is a command, the files it is given, where its standard output goes, the exit code it must end with, a
//! substring its message must hold naming the fault, and then every canary secret of the example is looked for,
//! plain, base64 and hex, in standard output, standard error and every file the command wrote or changed. A case
//! that does not exit within [`TIMEOUT`] (a FIFO read that blocks) fails.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::util::{assert_no_canary, bin, project_root};

const DEV_PASSPHRASE: &str = "sophia-dev-example-passphrase";
/// Placeholder secret values of the dev example (environments/sophia/dev.yaml, Pulumi.dev.yaml).
const CANARIES: [&str; 4] = [
    "dev-placeholder-password",
    "serpapi-dev-placeholder",
    "pplx-dev-placeholder",
    "sk-ant-dev-placeholder",
];
const TIMEOUT: Duration = Duration::from_secs(60);

/// Where a case's standard output goes.
#[derive(Clone, Copy, Debug)]
enum Stdout {
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
}

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

fn deep_json(levels: usize) -> String {
    format!("{}{}", "[".repeat(levels), "]".repeat(levels))
}

const CASES: &[Case] = &[
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
    },
    Case {
        name: "an impact input is /dev/zero",
        args: &["impact", "/dev/zero", "--stack", "dev"],
        setup: no_setup,
        stdout: Stdout::Read,
        code: 1,
        message: "/dev/zero: not a regular file (it is a character device)",
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
    },
    // Output failures: a closed pipe is a quiet exit, any other write error a clean error.
    Case {
        name: "config show into a closed pipe",
        args: &["config", "show", "--stack", "dev"],
        setup: no_setup,
        stdout: Stdout::Closed,
        code: 0,
        message: "",
    },
    Case {
        name: "config show into a full disk",
        args: &["config", "show", "--stack", "dev"],
        setup: no_setup,
        stdout: Stdout::Full,
        code: 1,
        message: "error: writing to standard output: No space left on device",
    },
    Case {
        name: "render into a closed pipe",
        args: &["render", "--stack", "dev"],
        setup: no_setup,
        stdout: Stdout::Closed,
        code: 0,
        message: "",
    },
    Case {
        name: "render --show-secrets into a full disk",
        args: &["render", "--stack", "dev", "--show-secrets"],
        setup: no_setup,
        stdout: Stdout::Full,
        code: 1,
        message: "error: writing to standard output: No space left on device",
    },
    Case {
        name: "esc open into a closed pipe",
        args: &["esc", "open", "sophia/dev"],
        setup: no_setup,
        stdout: Stdout::Closed,
        code: 0,
        message: "",
    },
    Case {
        name: "esc open into a full disk",
        args: &["esc", "open", "sophia/dev", "--format", "dotenv"],
        setup: no_setup,
        stdout: Stdout::Full,
        code: 1,
        message: "error: writing to standard output: No space left on device",
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
            );
            arg(path)
        },
        stdout: Stdout::Full,
        code: 1,
        message: "error: writing to standard output: No space left on device",
    },
];

/// A copy of the example project (stack `dev`, its environments, catalog).
fn project_copy() -> tempfile::TempDir {
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

struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `sophia` in `dir` with a clean environment (its audit log and home inside `dir`).
fn run(dir: &Path, args: &[&str], extra: &[String], stdout: Stdout) -> Ran {
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

#[test]
fn bad_input_cases() {
    let mut failures = Vec::new();
    for case in CASES {
        let project = project_copy();
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
        let ran = run(project.path(), case.args, &extra, case.stdout);
        let what = format!("case `{}` (sophia {:?} {extra:?})", case.name, case.args);
        if ran.code != Some(case.code) {
            failures.push(format!(
                "{what}: exit {:?}, want {}; stderr: {}",
                ran.code, case.code, ran.stderr
            ));
            continue;
        }
        if ran.stderr.contains("panicked") || !ran.stderr.contains(case.message) {
            failures.push(format!(
                "{what}: stderr does not hold {:?}: {}",
                case.message, ran.stderr
            ));
            continue;
        }
        for canary in CANARIES {
            assert_no_canary(&format!("{what} stdout"), &ran.stdout, canary);
            assert_no_canary(&format!("{what} stderr"), &ran.stderr, canary);
            for file in regular_files(project.path()) {
                let bytes = std::fs::read(&file).unwrap();
                if before.get(&file) == Some(&bytes) {
                    continue;
                }
                assert_no_canary(
                    &format!("{what} file {}", file.display()),
                    &String::from_utf8_lossy(&bytes),
                    canary,
                );
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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
