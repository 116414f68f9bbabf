//! `sophia config show`, `render` and `impact` on a stack whose `environment:` list lives in Pulumi Cloud (the
//! double on loopback, logged in through `PULUMI_BACKEND_URL` and `PULUMI_ACCESS_TOKEN`): they say on stderr which
//! source they used, agree with the local evaluation of the same definitions, name the organisation, project and
//! environment on 401, 403 and 404, and never print the token (searched plain, base64 and hex).

use std::path::Path;
use std::process::{Command, Output};

use sophia::cloud::double::{Double, Fault, FaultKind};

use super::cloud::{TOKEN, assert_no_leak};
use super::util::{bin, project_root};

const DEV_PASSPHRASE: &str = "sophia-dev-example-passphrase";
/// Placeholder secrets of the example's `sophia/dev` environment.
const DEV_SECRETS: [&str; 3] = [
    "serpapi-dev-placeholder",
    "pplx-dev-placeholder",
    "sk-ant-dev-placeholder",
];

/// The example project with its stack file switched from the local declaration (`sophia-secrets:environments`) to
/// Pulumi's own `environment:` list, as a stack on Pulumi Cloud has it.
fn cloud_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = project_root();
    for file in ["Pulumi.yaml", "services.yaml"] {
        std::fs::copy(root.join(file), dir.path().join(file)).unwrap();
    }
    let stack = std::fs::read_to_string(root.join("Pulumi.dev.yaml")).unwrap();
    let declaration = "  sophia-secrets:environments:\n    - sophia/dev\n";
    assert!(
        stack.contains(declaration),
        "the example declares its environments"
    );
    std::fs::write(
        dir.path().join("Pulumi.dev.yaml"),
        format!(
            "environment:\n  - sophia/dev\n{}",
            stack.replace(declaration, "")
        ),
    )
    .unwrap();
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

/// A double holding the project's `environments/` in organisation `acme` (the account's default).
fn seeded(project: &Path) -> Double {
    let d = Double::start(0, TOKEN, "acme").unwrap();
    assert_eq!(
        d.seed_dir("acme", &project.join("environments")).unwrap(),
        3
    );
    d
}

/// `sophia ARGS --cwd PROJECT`, logged in to `cloud` (URL, token) or not logged in at all.
fn sophia(args: &[&str], project: &Path, cloud: Option<(&Double, &str)>) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin("sophia"));
    cmd.args(args)
        .arg("--cwd")
        .arg(project)
        .env_clear()
        .env("HOME", home.path())
        .env("SOPHIA_AUDIT_LOG", home.path().join("audit.jsonl"))
        .env("PULUMI_CONFIG_PASSPHRASE", DEV_PASSPHRASE);
    if let Some((d, token)) = cloud {
        cmd.env("PULUMI_BACKEND_URL", d.url())
            .env("PULUMI_ACCESS_TOKEN", token);
    }
    cmd.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn cloud_source(d: &Double) -> String {
    format!(
        "environments: `environment:` list from Pulumi Cloud at {}\n",
        d.url()
    )
}

const LOCAL_SOURCE: &str = "environments: local environments/ directory\n";

#[test]
fn config_show_render_and_impact_through_pulumi_cloud_agree_with_the_local_evaluation() {
    let project = cloud_project();
    let p = project.path();
    let d = seeded(p);
    let mut outputs = Vec::new();
    for args in [
        &["config", "show", "--stack", "dev"][..],
        &[
            "config",
            "show",
            "--stack",
            "dev",
            "--json",
            "--show-secrets",
        ],
        &["render", "--stack", "dev"],
        &["render", "--stack", "dev", "--show-secrets"],
    ] {
        d.clear_requests();
        let cloud = sophia(args, p, Some((&d, TOKEN)));
        let local = sophia(args, p, None);
        for (o, source) in [
            (&cloud, cloud_source(&d)),
            (&local, LOCAL_SOURCE.to_owned()),
        ] {
            assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
            assert!(
                text(&o.stderr).starts_with(&source),
                "{args:?} says which source it used: {}",
                text(&o.stderr)
            );
        }
        assert_eq!(text(&cloud.stdout), text(&local.stdout), "{args:?}");
        assert!(!text(&cloud.stdout).is_empty());
        // The values came from the double: the stack's environment was opened there, in the default organisation.
        let paths: Vec<String> = d.requests().into_iter().map(|r| r.path).collect();
        assert!(
            paths
                .iter()
                .any(|p| p.starts_with("/api/esc/environments/acme/sophia/dev/open")),
            "{args:?}: {paths:?}"
        );
        if !args.contains(&"--show-secrets") {
            for s in DEV_SECRETS {
                assert!(!text(&cloud.stdout).contains(s), "{args:?} redacts {s}");
            }
        }
        outputs.push(cloud);
    }
    let shown: serde_json::Value = serde_json::from_slice(&outputs[1].stdout).unwrap();
    assert_eq!(shown["sophia-secrets:namespace"], "sophia-dev", "{shown}");
    assert_eq!(
        shown["sophia-secrets:serpapi-key"],
        "serpapi-dev-placeholder"
    );

    // impact against the stack rendered now: nothing rolls while Cloud holds what the files hold ...
    let before = p.join("before.yaml");
    std::fs::write(&before, &outputs[2].stdout).unwrap();
    let b = before.to_str().unwrap();
    let same = sophia(
        &["impact", b, "--stack", "dev", "--format", "json"],
        p,
        Some((&d, TOKEN)),
    );
    assert!(same.status.success(), "{}", text(&same.stderr));
    assert!(
        text(&same.stderr).starts_with(&cloud_source(&d)),
        "{}",
        text(&same.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&same.stdout).unwrap();
    assert_eq!(json["affected"], 0, "{json}");
    // ... and once a value changes in Pulumi Cloud only, impact sees it there while the local evaluation does not.
    let dev = std::fs::read_to_string(p.join("environments/sophia/dev.yaml")).unwrap();
    let rotated = dev.replace("serpapi-dev-placeholder", "serpapi-ROTATED-in-cloud");
    assert_ne!(dev, rotated);
    d.put_environment("acme", "sophia", "dev", &rotated);
    let cloud = sophia(&["impact", b, "--stack", "dev"], p, Some((&d, TOKEN)));
    let local = sophia(&["impact", b, "--stack", "dev"], p, None);
    let (c, l) = (text(&cloud.stdout), text(&local.stdout));
    assert!(
        c.contains("roll sophia-dev/mcp-research: secrets; changed SERPAPI_API_KEY")
            && c.contains("roll sophia-dev/mcp-search: secrets; changed SERPAPI_API_KEY"),
        "{c}"
    );
    assert!(!l.contains("roll "), "the local files did not change: {l}");
    assert!(text(&local.stderr).starts_with(LOCAL_SOURCE));
    for o in outputs.iter().chain([&same, &cloud, &local]) {
        assert_no_leak(&text(&o.stdout), false);
        assert_no_leak(&text(&o.stderr), false);
    }
    assert!(!c.contains("serpapi-ROTATED-in-cloud") && !c.contains("serpapi-dev-placeholder"));
}

#[test]
fn stack_commands_name_organisation_project_and_environment_on_401_403_and_404() {
    let project = cloud_project();
    let p = project.path();
    let before = p.join("before.yaml");
    std::fs::write(
        &before,
        sophia(&["render", "--stack", "dev"], p, None).stdout,
    )
    .unwrap();
    let b = before.to_str().unwrap();
    let commands: [&[&str]; 3] = [
        &["config", "show", "--stack", "dev"],
        &["render", "--stack", "dev"],
        &["impact", b, "--stack", "dev"],
    ];
    let wrong_token = "pul-canary-token-wrong-0000";
    let d = seeded(p);
    // An environment missing from the organisation.
    let empty = Double::start(0, TOKEN, "acme").unwrap();
    for args in commands {
        let check = |o: &Output, needles: &[&str]| {
            let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
            assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
            assert_eq!(stdout, "", "{args:?}: nothing on stdout");
            for n in needles {
                assert!(stderr.contains(n), "{args:?}: {n:?} in {stderr}");
            }
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert!(!stderr.contains(wrong_token), "{stderr}");
            assert_no_leak(&format!("{stdout}{stderr}"), false);
            for s in DEV_SECRETS {
                assert!(!stderr.contains(s));
            }
        };
        let unauthorized = sophia(args, p, Some((&d, wrong_token)));
        check(
            &unauthorized,
            &[
                "environment sophia/dev",
                "(401)",
                &d.url(),
                "PULUMI_ACCESS_TOKEN",
            ],
        );
        d.inject(Fault {
            kind: FaultKind::Status { code: 403 },
            path: "/acme/sophia/dev/open".into(),
        });
        let forbidden = sophia(args, p, Some((&d, TOKEN)));
        check(&forbidden, &["(403)", "environment acme/sophia/dev"]);
        let missing = sophia(args, p, Some((&empty, TOKEN)));
        check(
            &missing,
            &["environment acme/sophia/dev not found", "(404)"],
        );
    }
}
