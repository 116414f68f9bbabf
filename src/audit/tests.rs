//! Unit tests of the access log: the chain, its checks, and concurrent appends.

use super::*;

fn event(n: usize) -> AccessEvent {
    AccessEvent {
        operation: "config show".into(),
        target: format!("stack:dev{n}"),
        keys: vec!["sophia-secrets:b".into(), "sophia-secrets:a".into()],
        revealed: n.is_multiple_of(2),
        outcome: Outcome::Success,
    }
}

fn log_of(n: usize) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/audit.jsonl");
    for i in 0..n {
        record_to(&path, event(i), "user:alice").unwrap();
    }
    (dir, path)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn broken_line(path: &Path) -> usize {
    match verify(path) {
        Err(AuditError::Broken { line, .. }) => line,
        other => panic!("expected a broken chain, got {other:?}"),
    }
}

#[test]
fn appended_entries_chain_and_verify() {
    let (_dir, path) = log_of(3);
    let entries = verify(&path).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].prev, GENESIS);
    assert_eq!(entries[1].prev, entries[0].hash);
    assert_eq!(entries[2].seq, 3);
    assert_eq!(entries[0].keys, ["sophia-secrets:a", "sophia-secrets:b"]);
    assert_eq!(entries[0].actor, "user:alice");
    assert!(entries[0].time.ends_with('Z'));
    assert_eq!(verify(&path.with_extension("absent")).unwrap(), []);
}

#[test]
fn a_changed_entry_is_detected() {
    let (_dir, path) = log_of(3);
    let mut l = lines(&path);
    l[1] = l[1].replace("stack:dev1", "stack:devX");
    write(&path, &l);
    assert_eq!(broken_line(&path), 2);
}

#[test]
fn a_changed_entry_with_a_recomputed_hash_breaks_the_next_link() {
    let (_dir, path) = log_of(3);
    let mut entries = read(&path).unwrap();
    entries[0].actor = "user:mallory".into();
    entries[0].hash = entries[0].content_hash();
    let l: Vec<String> = entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    write(&path, &l);
    assert_eq!(broken_line(&path), 2);
}

#[test]
fn a_removed_or_reordered_entry_is_detected() {
    let (_dir, path) = log_of(4);
    let original = lines(&path);
    write(
        &path,
        &[
            original[0].clone(),
            original[2].clone(),
            original[3].clone(),
        ],
    );
    assert_eq!(broken_line(&path), 2);
    write(
        &path,
        &[
            original[0].clone(),
            original[2].clone(),
            original[1].clone(),
            original[3].clone(),
        ],
    );
    assert_eq!(broken_line(&path), 2);
    write(&path, &original[1..]);
    assert_eq!(broken_line(&path), 1);
    write(&path, &original);
    assert_eq!(verify(&path).unwrap().len(), 4);
}

#[test]
fn a_malformed_line_is_named() {
    let (_dir, path) = log_of(2);
    let mut l = lines(&path);
    l.insert(1, "not json".into());
    write(&path, &l);
    match verify(&path) {
        Err(e @ AuditError::Malformed { line: 2, .. }) => assert!(e.to_string().contains("line 2")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn entries_longer_than_a_read_block_chain_to_the_last_one() {
    // The last entry is found by reading the log backwards in blocks: entries of many blocks, blank lines after
    // the last one and a malformed last line must all be handled as a whole-file read would.
    let (_dir, path) = log_of(0);
    let big = |n: usize| AccessEvent {
        keys: (0..20_000)
            .map(|k| format!("values.svc{n}.key{k}"))
            .collect(),
        ..event(n)
    };
    record_to(&path, big(0), "user:alice").unwrap();
    record_to(&path, big(1), "user:alice").unwrap();
    let mut text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().all(|l| l.len() > 3 * 64 * 1024));
    text.push_str("\n\r\n");
    std::fs::write(&path, &text).unwrap();
    let third = record_to(&path, event(2), "user:alice").unwrap();
    let entries = verify(&path).unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(third.seq, 3);
    assert_eq!(third.prev, entries[1].hash);
    std::fs::write(&path, text + "not json\n").unwrap();
    match record_to(&path, event(3), "user:alice") {
        Err(AuditError::Malformed { line: 5, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn concurrent_appends_keep_one_chain() {
    let (_dir, path) = log_of(0);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    record_to(&path, event(t * 100 + i), "user:bob").unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(verify(&path).unwrap().len(), 200);
}

#[test]
fn secret_paths_name_only_the_secrets() {
    let v = Value::Object(
        [
            ("plain".to_owned(), Value::string("x")),
            (
                "db".to_owned(),
                Value::Object([("pw".to_owned(), Value::secret(Value::string("CANARY")))].into()),
            ),
            (
                "list".to_owned(),
                Value::Array(vec![Value::Null, Value::secret(Value::string("CANARY"))]),
            ),
        ]
        .into(),
    );
    assert_eq!(secret_paths(&v), ["db.pw", "list[1]"]);
}
