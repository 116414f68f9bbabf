//! `sophia esc rotate --cloud [ORG/]PROJECT/ENV [PATH...]`: asks Pulumi Cloud to rotate the environment's rotators
//! (all of them when no path is given). Output contract shared with the local rotation: one stdout line per path,
//! `PATH: succeeded|failed|not-evaluated`, sorted by path; exit 0 only when every path succeeded. A path the service
//! did not report on is `not-evaluated`; failures' messages go to stderr.

use crate::output::{errln, outln};
use std::process::ExitCode;

/// Runs `sophia esc rotate --cloud`.
pub fn run(env: &str, paths: &[String]) -> anyhow::Result<ExitCode> {
    let client = crate::cloud::logged_in_client()?;
    let outcomes = crate::cloud::block_on(async {
        let env = client.env_ref(env).await?;
        client.rotate(&env, paths).await
    })??;
    let lines = outcome_lines(paths, &outcomes);
    let mut all_ok = !lines.is_empty();
    for (path, status, error) in &lines {
        outln!("{path}: {status}")?;
        if let Some(e) = error {
            errln!("{path}: {e}");
        }
        all_ok &= *status == "succeeded";
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `(path, status, error)` per requested path (or per reported path when none was requested), sorted.
fn outcome_lines(
    requested: &[String],
    outcomes: &[crate::cloud::RotationOutcome],
) -> Vec<(String, &'static str, Option<String>)> {
    let status = |o: &crate::cloud::RotationOutcome| {
        if o.status == "succeeded" {
            "succeeded"
        } else {
            "failed"
        }
    };
    let mut lines: Vec<_> = if requested.is_empty() {
        outcomes
            .iter()
            .map(|o| (o.path.clone(), status(o), o.error.clone()))
            .collect()
    } else {
        requested
            .iter()
            .map(|p| match outcomes.iter().find(|o| &o.path == p) {
                Some(o) => (p.clone(), status(o), o.error.clone()),
                None => (p.clone(), "not-evaluated", None),
            })
            .collect()
    };
    lines.sort();
    lines.dedup();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::RotationOutcome;

    #[test]
    fn unreported_paths_are_not_evaluated() {
        let o = vec![
            RotationOutcome {
                path: "b".into(),
                status: "failed".into(),
                error: Some("x".into()),
            },
            RotationOutcome {
                path: "a".into(),
                status: "succeeded".into(),
                error: None,
            },
        ];
        let lines = outcome_lines(&["c".into(), "a".into(), "b".into()], &o);
        let got: Vec<_> = lines.iter().map(|(p, s, _)| format!("{p}: {s}")).collect();
        assert_eq!(got, ["a: succeeded", "b: failed", "c: not-evaluated"]);
    }
}
