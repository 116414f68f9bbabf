//! `sophia render --stack NAME [--cwd DIR] [--out DIR] [--show-secrets]` (pinned interface): the exact Kubernetes
//! objects the program registers for a stack (same builder, [`crate::k8s::desired_objects`]), as YAML documents.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::config::StackConfig;
use crate::k8s::{self, Catalog, Provenance, StackObjects, render};
use crate::value::Reveal;

/// Arguments of `sophia render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The stack and its project directory.
    #[command(flatten)]
    pub target: super::StackArgs,
    /// Write one file per object into this directory instead of printing a YAML stream.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print Secret data instead of redacting it.
    #[arg(long)]
    pub show_secrets: bool,
}

/// Builds the stack's objects from the project at `cwd`: stack config, catalog, hash key, provenance from the
/// environment (kept for the SecretHash inputs; no rendered object shows it, so a render does not depend on who runs
/// it, and a rendered pod template has no `sophia.dev/changed-*` record: that comes from the engine's state). Decrypting the stack's secrets is recorded in the audit log as `operation` (`revealed` when the
/// caller will print them). Shared with `sophia impact` and `sophia status`.
pub(crate) fn build(
    cwd: &std::path::Path,
    stack: &str,
    operation: &str,
    revealed: bool,
) -> anyhow::Result<StackObjects> {
    Ok(build_with_config(cwd, stack, operation, revealed)?.1)
}

/// [`build`], also returning the stack's config.
pub(crate) fn build_with_config(
    cwd: &std::path::Path,
    stack: &str,
    operation: &str,
    revealed: bool,
) -> anyhow::Result<(StackConfig, StackObjects)> {
    crate::output::errln!("{}", crate::config::environment_source());
    let config = super::audit_log::load_stack(cwd, stack, operation, revealed)?;
    let catalog = Catalog::load(cwd)?;
    let key = k8s::hash_key(&config)?;
    let objects = k8s::desired_objects(&catalog, &config, &key, &Provenance::from_env())
        .with_context(|| format!("building the objects of stack `{stack}`"))?;
    super::audit_log::record(
        operation,
        format!("stack:{stack}"),
        super::audit_log::secret_keys(&config),
        revealed,
    )?;
    Ok((config, objects))
}

/// Whether `name` is one render writes (`<apiVersion>-<kind>-...yaml` for the kinds it renders): only such entries
/// of an existing output directory are replaced or dropped as stale (a removed service); anything else is kept.
fn rendered_name(name: &str) -> bool {
    ["v1-namespace-", "v1-secret-", "apps_v1-deployment-"]
        .iter()
        .any(|prefix| name.starts_with(prefix))
        && name.ends_with(".yaml")
}

/// Writes one file per document into `dir`, so the directory is exactly the stack's objects plus whatever else it
/// held (entries not named the way render names them), and `sophia impact` over it sees removals.
///
/// All or nothing: the files are written into a fresh directory beside `dir` (mode 0700, as it may hold plaintext
/// under `--show-secrets`), the other entries of an existing `dir` are hard-linked in (the originals stay put until
/// the swap), and only then is the new directory renamed into place and the old one removed. A failure part-way
/// removes the new directory and leaves `dir` as it was, so no partial set and no stray plaintext remain. The files
/// are created new inside a directory this process just made, so a symlink planted in `dir` is never followed: it
/// is replaced (a rendered name) or kept as a link (any other name). A `dir` that is itself a symlink is written
/// where it points.
pub(crate) fn write_directory(dir: &Path, docs: &[render::Document]) -> anyhow::Result<()> {
    let existing = match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => Some(meta),
        Ok(_) => anyhow::bail!("--out {}: exists and is not a directory", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let target = match existing {
        Some(_) => {
            std::fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?
        }
        None => dir.to_path_buf(),
    };
    let (parent, name) = match (target.parent(), target.file_name()) {
        (Some(parent), Some(name)) => (
            if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            },
            name.to_string_lossy().into_owned(),
        ),
        _ => anyhow::bail!(
            "--out {}: not a directory that can be replaced",
            dir.display()
        ),
    };
    std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.render-"))
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    for doc in docs {
        let file_name = Path::new(&doc.file_name);
        if file_name.components().count() != 1 || file_name.file_name().is_none() {
            anyhow::bail!(
                "object file name {:?} is not a plain file name",
                doc.file_name
            );
        }
        write_new(
            &staging.path().join(file_name),
            render::to_yaml(&doc.manifest).as_bytes(),
        )
        .with_context(|| format!("writing {} (into {})", doc.file_name, target.display()))?;
    }
    if let Some(meta) = &existing {
        for entry in
            std::fs::read_dir(&target).with_context(|| format!("reading {}", target.display()))?
        {
            let entry = entry.with_context(|| format!("reading {}", target.display()))?;
            if entry.file_name().to_str().is_some_and(rendered_name) {
                continue;
            }
            link_tree(&entry.path(), &staging.path().join(entry.file_name()))
                .with_context(|| format!("keeping {}", entry.path().display()))?;
        }
        std::fs::set_permissions(staging.path(), meta.permissions())
            .with_context(|| format!("setting the permissions of {}", target.display()))?;
    }
    swap_into_place(staging, &target, existing.is_some(), parent, &name)
}

/// Creates `path` (which must not exist; never through a symlink) holding `bytes`.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Recreates `from` at `to` without copying file contents: directories made anew, everything else (files and
/// symlinks, never followed) hard-linked.
fn link_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(from)?;
    if !meta.is_dir() {
        return std::fs::hard_link(from, to);
    }
    std::fs::create_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        link_tree(&entry.path(), &to.join(entry.file_name()))?;
    }
    std::fs::set_permissions(to, meta.permissions())
}

/// Renames the filled `staging` directory to `target`, moving an existing `target` aside first and removing it after;
/// on failure `target` is put back and `staging` removed.
fn swap_into_place(
    staging: tempfile::TempDir,
    target: &Path,
    existed: bool,
    parent: &Path,
    name: &str,
) -> anyhow::Result<()> {
    if !existed {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // A new output directory gets the usual directory mode, not the staging directory's 0700.
            std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("setting the permissions of {}", target.display()))?;
        }
        std::fs::rename(staging.path(), target)
            .with_context(|| format!("moving the rendered objects to {}", target.display()))?;
        // Renamed away: nothing left for the guard to remove.
        let _ = staging.keep();
        return Ok(());
    }
    // An empty directory to rename the old one over (rename replaces an empty directory), so its name is unique.
    let aside = tempfile::Builder::new()
        .prefix(&format!(".{name}.old-"))
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    let aside = aside.keep();
    if let Err(e) = std::fs::rename(target, &aside) {
        let _ = std::fs::remove_dir(&aside);
        return Err(e).with_context(|| format!("moving {} aside", target.display()));
    }
    if let Err(e) = std::fs::rename(staging.path(), target) {
        let restored = std::fs::rename(&aside, target);
        return Err(e).with_context(|| match restored {
            Ok(()) => format!("moving the rendered objects to {}", target.display()),
            Err(_) => format!(
                "moving the rendered objects to {} (the previous contents are in {})",
                target.display(),
                aside.display()
            ),
        });
    }
    let _ = staging.keep();
    // The old directory held the previous render (maybe plaintext) and links to the entries kept.
    std::fs::remove_dir_all(&aside).with_context(|| {
        format!(
            "removing the previous contents of {} (moved to {})",
            target.display(),
            aside.display()
        )
    })
}

/// Runs `sophia render`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let objects = build(
        &args.target.cwd,
        &args.target.stack,
        "render",
        args.show_secrets,
    )?;
    let reveal = if args.show_secrets {
        Reveal::Revealed
    } else {
        Reveal::Redacted
    };
    let docs = render::documents(&objects, reveal);
    match &args.out {
        None => {
            let stream = render::to_stream(&docs);
            crate::output::write_bytes(crate::output::Stream::Stdout, stream.as_bytes())?;
        }
        Some(dir) => {
            write_directory(dir, &docs)?;
            crate::output::errln!(
                "wrote {} objects for {} services to {}",
                docs.len(),
                objects.services.len(),
                dir.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "canary-plaintext-7f3a";

    fn doc(file_name: &str, value: &str) -> render::Document {
        render::Document {
            file_name: file_name.to_owned(),
            manifest: serde_json::json!({"kind": "Secret", "stringData": {"K": value}}),
        }
    }

    /// Every file under `dir` (symlinks not followed), with its contents.
    fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                found.extend(files_under(&path));
            } else if meta.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                found.push((path, bytes));
            }
        }
        found
    }

    #[test]
    fn a_failure_part_way_leaves_the_directory_as_it_was_and_no_plaintext() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("rendered");
        write_directory(&out, &[doc("v1-secret-ns-a.yaml", "old")]).unwrap();
        std::fs::write(out.join("notes.txt"), "kept\n").unwrap();
        // The third document collides with the first: its write fails after two files holding the canary exist.
        let docs = [
            doc("v1-secret-ns-a.yaml", CANARY),
            doc("v1-secret-ns-b.yaml", CANARY),
            doc("v1-secret-ns-a.yaml", CANARY),
        ];
        let err = write_directory(&out, &docs).unwrap_err();
        assert!(
            format!("{err:#}").contains("writing v1-secret-ns-a.yaml"),
            "{err:#}"
        );
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["notes.txt", "v1-secret-ns-a.yaml"]);
        let old = std::fs::read_to_string(out.join("v1-secret-ns-a.yaml")).unwrap();
        assert!(old.contains("old"), "{old}");
        // Nothing else beside it: the staging directory is gone with the plaintext it held.
        let siblings: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(siblings.len(), 1);
        for (path, bytes) in files_under(root.path()) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(!text.contains(CANARY), "{} holds plaintext", path.display());
        }
    }

    #[test]
    fn rerender_replaces_rendered_files_drops_stale_ones_and_keeps_the_rest() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("a/b/rendered");
        write_directory(
            &out,
            &[
                doc("v1-secret-ns-a.yaml", "1"),
                doc("v1-secret-ns-b.yaml", "1"),
            ],
        )
        .unwrap();
        std::fs::create_dir(out.join("notes")).unwrap();
        std::fs::write(out.join("notes/readme.md"), "kept\n").unwrap();
        write_directory(&out, &[doc("v1-secret-ns-a.yaml", "2")]).unwrap();
        let mut names: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["notes", "v1-secret-ns-a.yaml"]);
        assert_eq!(
            std::fs::read_to_string(out.join("notes/readme.md")).unwrap(),
            "kept\n"
        );
        assert!(
            std::fs::read_to_string(out.join("v1-secret-ns-a.yaml"))
                .unwrap()
                .contains('2')
        );
        assert_eq!(
            std::fs::read_dir(root.path().join("a/b")).unwrap().count(),
            1
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlink_inside_the_directory_is_never_followed() {
        let root = tempfile::tempdir().unwrap();
        let outside = root.path().join("outside.txt");
        std::fs::write(&outside, "untouched\n").unwrap();
        let out = root.path().join("rendered");
        std::fs::create_dir(&out).unwrap();
        // One link under a name render writes, one under another name.
        std::os::unix::fs::symlink(&outside, out.join("v1-secret-ns-a.yaml")).unwrap();
        std::os::unix::fs::symlink(&outside, out.join("link.txt")).unwrap();
        write_directory(&out, &[doc("v1-secret-ns-a.yaml", CANARY)]).unwrap();
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "untouched\n");
        let written = out.join("v1-secret-ns-a.yaml");
        assert!(std::fs::symlink_metadata(&written).unwrap().is_file());
        assert!(std::fs::read_to_string(&written).unwrap().contains(CANARY));
        assert!(
            std::fs::symlink_metadata(out.join("link.txt"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_output_directory_is_written_where_it_points() {
        let root = tempfile::tempdir().unwrap();
        let real = root.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = root.path().join("out");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_directory(&link, &[doc("v1-secret-ns-a.yaml", "x")]).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(real.join("v1-secret-ns-a.yaml").is_file());
    }
}
