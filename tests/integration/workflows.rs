//! The GitHub Actions workflows under `.github/workflows/`: actionlint (built by `scripts/install-toolchain.sh` from
//! its Go module) finds nothing, every action is pinned by commit, and the organisation secrets are the ones used.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::util::project_root;

/// The workflow files, sorted.
fn workflows() -> Vec<PathBuf> {
    let dir = project_root().join(".github/workflows");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files
}

/// actionlint from the toolchain cache, building it (a small Go module, well under a minute) when Go is here.
/// `None` only when neither the cached binary nor Go is available outside CI; under CI that is a failure.
fn actionlint() -> Option<PathBuf> {
    let script = project_root().join("scripts/install-toolchain.sh");
    let mode = if which("go") { None } else { Some("--check") };
    let output = Command::new("bash")
        .arg(&script)
        .args(mode)
        .arg("actionlint")
        .output()
        .expect("running scripts/install-toolchain.sh");
    if !output.status.success() {
        let why = format!(
            "actionlint is not available (go missing and not cached): {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
        return None;
    }
    let dir = String::from_utf8(output.stdout).unwrap();
    let bin = Path::new(dir.trim()).join("actionlint");
    assert!(
        bin.is_file(),
        "install-toolchain.sh printed {dir:?}, which has no actionlint"
    );
    Some(bin)
}

fn which(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(cmd).is_file()))
}

fn run_actionlint(bin: &Path, files: &[PathBuf], cwd: &Path) -> (bool, String) {
    let output = Command::new(bin)
        .args(["-no-color", "-oneline"])
        .args(files)
        .current_dir(cwd)
        .output()
        .expect("running actionlint");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn actionlint_accepts_the_workflows() {
    let Some(bin) = actionlint() else { return };
    let files = workflows();
    assert!(
        files.len() >= 2,
        "expected preview and deploy workflows, found {files:?}"
    );
    let (ok, out) = run_actionlint(&bin, &files, &project_root());
    assert!(ok, "actionlint found problems:\n{out}");
}

/// The linter is live: the same binary rejects a workflow with a typo in an expression and an unknown runner key.
#[test]
fn actionlint_rejects_a_broken_workflow() {
    let Some(bin) = actionlint() else { return };
    let dir = tempfile::tempdir().unwrap();
    let wf = dir.path().join(".github/workflows");
    std::fs::create_dir_all(&wf).unwrap();
    let broken = wf.join("broken.yml");
    std::fs::write(
        &broken,
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.evnt.name }}\n        \
         shell: bash\n        timout-minutes: 3\n",
    )
    .unwrap();
    let (ok, out) = run_actionlint(&bin, &[broken], dir.path());
    assert!(!ok, "actionlint accepted a broken workflow:\n{out}");
    assert!(
        out.contains("broken.yml:"),
        "actionlint output names no file:line:\n{out}"
    );
}

/// Every `uses:` of a remote action names a full commit SHA and says which release it is, so a moved tag cannot
/// change what runs; local reusable workflows (`./...`) are exempt.
#[test]
fn actions_are_pinned_by_commit() {
    let mut checked = 0;
    for file in workflows() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let Some((_, rest)) = line.split_once("uses: ") else {
                continue;
            };
            if rest.starts_with("./") {
                continue;
            }
            let (action, comment) = rest.split_once(" # ").unwrap_or((rest, ""));
            let (_, sha) = action.split_once('@').unwrap_or((action, ""));
            let at = format!("{}:{}", file.display(), n + 1);
            assert!(
                sha.len() == 40
                    && sha
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()),
                "{at}: {action} is not pinned by a full commit SHA"
            );
            assert!(
                comment.starts_with('v'),
                "{at}: {action} has no `# vX.Y.Z` comment naming the release"
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} pinned actions found");
}

/// The workflows use the organisation's deployment secrets (SPEC.md, "The problem") and the stack passphrase, and
/// production deploys through its protected environment.
#[test]
fn workflows_use_the_organisation_secrets() {
    let all: String = workflows()
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    for secret in [
        "PULUMI_ACCESS_TOKEN",
        "LAMBDA_API_KEY",
        "DOCKERHUB_TOKEN",
        "DNSIMPLE_API_TOKEN",
        "PULUMI_CONFIG_PASSPHRASE",
    ] {
        assert!(
            all.contains(&format!("secrets.{secret}")),
            "no workflow uses secrets.{secret}"
        );
    }
    let deploy =
        std::fs::read_to_string(project_root().join(".github/workflows/deploy.yml")).unwrap();
    let production = deploy
        .split("\n  production:\n")
        .nth(1)
        .expect("deploy.yml has a production job");
    assert!(
        production.contains("needs: dev"),
        "production must wait for dev"
    );
    assert!(
        production.contains("stack: production"),
        "production job must target the production stack/environment"
    );
    let up =
        std::fs::read_to_string(project_root().join(".github/workflows/pulumi-up.yml")).unwrap();
    assert!(
        up.contains("environment: ${{ inputs.stack }}"),
        "pulumi up must run in the stack's environment"
    );
}

fn workflow(name: &str) -> serde_json::Value {
    let path = project_root().join(".github/workflows").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The scheduled rotation: cron and manual dispatch with stack/environment/paths, `sophia esc rotate` with the
/// environment passphrase, a push of the rotated file, then the deploy through pulumi-up.yml at that commit with
/// binaries from build.yml (reused, not copied), serialized with deploy.yml, and the access log uploaded.
#[test]
fn rotate_workflow_rotates_commits_and_deploys_through_pulumi_up() {
    let rotate = workflow("rotate.yml");
    let on = &rotate["on"];
    assert!(
        on["schedule"].as_array().is_some_and(|s| !s.is_empty()),
        "rotate.yml has no cron schedule: {on}"
    );
    let inputs = &on["workflow_dispatch"]["inputs"];
    for input in ["stack", "environment", "paths"] {
        assert!(
            inputs.get(input).is_some(),
            "rotate.yml dispatch lacks input {input}: {inputs}"
        );
    }
    assert_eq!(
        rotate["concurrency"]["group"],
        workflow("deploy.yml")["concurrency"]["group"],
        "a rotation must never run beside a deploy"
    );
    assert_eq!(rotate["concurrency"]["cancel-in-progress"], false);

    let jobs = rotate["jobs"].as_object().unwrap();
    assert_eq!(jobs["build"]["uses"], "./.github/workflows/build.yml");
    let job = &jobs["rotate"];
    assert_eq!(
        job["permissions"]["contents"], "write",
        "the rotate job pushes the rotated state"
    );
    let steps = job["steps"].as_array().unwrap();
    let step = |needle: &str| {
        steps
            .iter()
            .position(|s| s["run"].as_str().is_some_and(|r| r.contains(needle)))
            .unwrap_or_else(|| panic!("rotate.yml's rotate job has no step running {needle:?}"))
    };
    let rotating = step("sophia esc rotate");
    assert_eq!(
        steps[rotating]["env"]["SOPHIA_ESC_PASSPHRASE"],
        "${{ secrets.SOPHIA_ESC_PASSPHRASE }}"
    );
    let pushing = step("push origin HEAD:main");
    let verifying = step("sophia audit log --verify");
    assert!(
        rotating < pushing && pushing < verifying,
        "rotate, then push, then verify the access log"
    );
    assert!(
        steps.iter().any(|s| s["with"]["path"]
            .as_str()
            .is_some_and(|p| p.contains("sophia-audit.jsonl"))),
        "rotate.yml does not upload the access log"
    );

    let deploy = &jobs["deploy"];
    assert_eq!(deploy["uses"], "./.github/workflows/pulumi-up.yml");
    assert_eq!(deploy["with"]["ref"], "${{ needs.rotate.outputs.commit }}");
    assert_eq!(deploy["secrets"], "inherit");
    let text =
        std::fs::read_to_string(project_root().join(".github/workflows/rotate.yml")).unwrap();
    assert!(
        !text.contains("pulumi up --stack"),
        "rotate.yml must deploy through pulumi-up.yml, not its own copy"
    );

    let up = workflow("pulumi-up.yml");
    assert!(up["on"]["workflow_call"]["inputs"].get("ref").is_some());
    let checkout = &up["jobs"]["up"]["steps"][0];
    assert_eq!(
        checkout["with"]["ref"], "${{ inputs.ref }}",
        "pulumi-up.yml must deploy the commit it is given"
    );
    assert_eq!(
        workflow("deploy.yml")["jobs"]["build"]["uses"],
        "./.github/workflows/build.yml"
    );
}
