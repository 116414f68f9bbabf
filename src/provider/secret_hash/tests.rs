//! Tests of [`super`]: input validation, outputs, provenance and diffs of `SecretHash`.

use super::*;

fn key(s: &str) -> HashKey {
    HashKey::new(&SecretString::new(s)).unwrap()
}

fn props(data: &[(&str, Value)], scope: Option<&str>) -> BTreeMap<String, Value> {
    let mut p = BTreeMap::new();
    let map = data
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    p.insert("data".to_owned(), Value::secret(Value::Object(map)));
    if let Some(s) = scope {
        p.insert("scope".to_owned(), Value::string(s));
    }
    p
}

fn state(out: &Outputs) -> OldState {
    let decoded = wire::decode_struct(Some(&encode_outputs(out))).unwrap();
    OldState::from_props(&decoded, &BTreeMap::new())
}

#[test]
fn check_reports_every_bad_property_by_path() {
    let mut p = props(
        &[("A", Value::string("x")), ("B C", Value::Number(1.into()))],
        None,
    );
    p.insert("Scope".into(), Value::string("s"));
    let failures = check(p, None).unwrap_err();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0].property, "Scope");
    assert!(failures[0].reason.contains("did you mean `scope`"));
    assert_eq!(
        failures[1],
        Failure {
            property: "data[\"B C\"]".into(),
            reason: "expected a string, got number".into()
        }
    );
    let not_map = BTreeMap::from([("data".to_owned(), Value::Array(vec![]))]);
    assert_eq!(
        check(not_map, None).unwrap_err()[0].reason,
        "expected a map of string to string, got array"
    );
    assert_eq!(
        check(BTreeMap::new(), None).unwrap_err()[0].property,
        "data"
    );
}

#[test]
fn debug_output_never_shows_values() {
    let inputs = Inputs::parse(&props(
        &[("A", Value::string("hunter2-plaintext"))],
        Some("s"),
    ))
    .unwrap();
    assert!(!format!("{inputs:?}").contains("hunter2"));
    let decoded = wire::decode_struct(Some(&wire::encode_struct(&props(
        &[("A", Value::string("hunter2"))],
        None,
    ))));
    assert!(!format!("{decoded:?}").contains("hunter2"));
}

#[test]
fn check_marks_data_secret() {
    let mut p = BTreeMap::new();
    p.insert(
        "data".to_owned(),
        Value::from_json(&serde_json::json!({"K": "v"})),
    );
    let checked = check(p.clone(), None).unwrap();
    assert!(checked["data"].is_secret());
    assert!(
        !checked.contains_key("keyHashes"),
        "no key, nothing derived"
    );
    // With a key, the derived keyHashes joins the inputs (for the engine's diff display); a forged one is replaced.
    let k = key("0123456789abcdef");
    p.insert(
        "keyHashes".into(),
        Value::from_json(&serde_json::json!({"K": "forged"})),
    );
    let checked = check(p, Some(&k)).unwrap();
    let expected = fingerprint(&k, "", &BTreeMap::from([("K".to_owned(), "v")])).key_hashes;
    assert_eq!(
        checked["keyHashes"].as_object().unwrap()["K"].as_str(),
        Some(expected["K"].as_str())
    );
}

#[test]
fn partial_unknowns_keep_the_rest_known() {
    let k = key("0123456789abcdef");
    let inputs = Inputs::parse(&props(
        &[("A", Value::string("x")), ("B", Value::Unknown)],
        Some("s"),
    ))
    .unwrap();
    let out = compute(&k, &inputs);
    assert_eq!(out.hash, Known::Unknown);
    assert_eq!(out.keys, Known::Known(vec!["A".into(), "B".into()]));
    let Known::Known(kh) = &out.key_hashes else {
        panic!()
    };
    assert!(matches!(kh["A"], Known::Known(_)));
    assert_eq!(kh["B"], Known::Unknown);
}

#[test]
fn diff_names_exactly_the_changed_keys() {
    let k = key("0123456789abcdef");
    let old = compute(
        &k,
        &Inputs::parse(&props(
            &[
                ("A", Value::string("1")),
                ("B", Value::string("2")),
                ("C", Value::string("3")),
            ],
            None,
        ))
        .unwrap(),
    );
    let same = Inputs::parse(&props(
        &[
            ("C", Value::string("3")),
            ("B", Value::string("2")),
            ("A", Value::string("1")),
        ],
        None,
    ))
    .unwrap();
    assert!(diff(&k, &state(&old), &same).is_empty());
    let new = Inputs::parse(&props(
        &[
            ("A", Value::string("1")),
            ("B", Value::string("20")),
            ("D", Value::string("4")),
        ],
        None,
    ))
    .unwrap();
    let changes = diff(&k, &state(&old), &new);
    let summary: Vec<(&str, DiffKind)> =
        changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
    assert_eq!(
        summary,
        vec![
            ("keyHashes[\"B\"]", DiffKind::Update),
            ("keyHashes[\"C\"]", DiffKind::Delete),
            ("keyHashes[\"D\"]", DiffKind::Add)
        ]
    );
    assert_eq!(changed_roots(&changes), vec!["keyHashes"]);
}

fn with_provenance(
    mut p: BTreeMap<String, Value>,
    by: &str,
    commit: &str,
) -> BTreeMap<String, Value> {
    p.insert("changedBy".into(), Value::string(by));
    p.insert("commit".into(), Value::string(commit));
    p
}

fn provenance_of(out: &Outputs) -> Vec<(&'static str, Known<String>)> {
    out.provenance
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .collect()
}

#[test]
fn diff_ignores_provenance_and_update_takes_it_only_with_a_content_change() {
    let k = key("0123456789abcdef");
    let data = [("A", Value::string("1")), ("B", Value::string("2"))];
    let created = compute(
        &k,
        &Inputs::parse(&with_provenance(props(&data, Some("s")), "alice", "c1")).unwrap(),
    );
    assert_eq!(
        provenance_of(&created),
        [
            ("changedBy", Known::Known("alice".into())),
            ("commit", Known::Known("c1".into()))
        ]
    );
    let old = state(&created);
    assert_eq!(old.provenance["changedBy"], "alice");

    // Another deployer, another commit, no provenance at all: no diff, and an update keeps the stored record.
    let later = Inputs::parse(&with_provenance(props(&data, Some("s")), "bob", "c2")).unwrap();
    let bare = Inputs::parse(&props(&data, Some("s"))).unwrap();
    for news in [&later, &bare] {
        assert!(diff(&k, &old, news).is_empty());
        assert_eq!(
            provenance_of(&update(&k, &old, news)),
            provenance_of(&created)
        );
    }

    // A content change records the new deployer and commit, and only those given.
    let rotated = [("A", Value::string("10")), ("B", Value::string("2"))];
    let mut changed = with_provenance(props(&rotated, Some("s")), "carol", "c3");
    changed.insert("escRevision".into(), Value::string("7"));
    let changed = Inputs::parse(&changed).unwrap();
    assert_eq!(
        diff(&k, &old, &changed)
            .iter()
            .map(|c| c.path.as_str())
            .collect::<Vec<_>>(),
        ["keyHashes[\"A\"]"]
    );
    let updated = update(&k, &old, &changed);
    assert_eq!(
        provenance_of(&updated),
        [
            ("changedBy", Known::Known("carol".into())),
            ("commit", Known::Known("c3".into())),
            ("escRevision", Known::Known("7".into()))
        ]
    );
    let encoded = wire::decode_struct(Some(&encode_outputs(&updated))).unwrap();
    assert_eq!(encoded["changedBy"], Value::string("carol"));
    assert!(!encoded["changedBy"].is_secret());
    let unrecorded = update(
        &k,
        &old,
        &Inputs::parse(&props(&rotated, Some("s"))).unwrap(),
    );
    assert!(
        unrecorded.provenance.is_empty(),
        "a change without provenance records none"
    );
}

#[test]
fn provenance_must_be_plain_strings_and_failures_never_echo_them() {
    let mut p = props(&[("A", Value::string("x"))], None);
    p.insert("changedBy".into(), Value::Number(7.into()));
    p.insert(
        "commit".into(),
        Value::secret(Value::string("hunter2-commit")),
    );
    p.insert("changedby".into(), Value::string("hunter2-typo"));
    let failures = check(p, None).unwrap_err();
    let summary: Vec<(&str, &str)> = failures
        .iter()
        .map(|f| (f.property.as_str(), f.reason.as_str()))
        .collect();
    assert_eq!(summary.len(), 3, "{summary:?}");
    assert!(summary.contains(&("changedBy", "expected a string, got number")));
    assert!(
        summary
            .iter()
            .any(|(p, r)| *p == "commit" && r.contains("must not be secret"))
    );
    assert!(
        summary
            .iter()
            .any(|(p, r)| *p == "changedby" && r.contains("did you mean `changedBy`"))
    );
    assert!(!format!("{failures:?}").contains("hunter2"));
    // Unknown in a preview is fine (and makes the inputs unknown), null is absent.
    let mut p = props(&[("A", Value::string("x"))], None);
    p.insert("changedBy".into(), Value::Unknown);
    p.insert("commit".into(), Value::Null);
    let inputs = Inputs::parse(&p).unwrap();
    assert!(inputs.has_unknowns());
    assert_eq!(inputs.provenance.len(), 1);
}

#[test]
fn scope_change_is_an_input_diff() {
    let k = key("0123456789abcdef");
    let old = compute(
        &k,
        &Inputs::parse(&props(&[("A", Value::string("1"))], Some("a"))).unwrap(),
    );
    let new = Inputs::parse(&props(&[("A", Value::string("1"))], Some("b"))).unwrap();
    let changes = diff(&k, &state(&old), &new);
    assert_eq!(
        changes[0],
        Change {
            path: "scope".into(),
            kind: DiffKind::Update,
            input_diff: true
        }
    );
    assert_eq!(changed_roots(&changes), vec!["keyHashes", "scope"]);
}

#[test]
fn a_secret_scope_comes_back_as_a_secret_output() {
    let mut p = props(&[("A", Value::string("x"))], None);
    p.insert(
        "scope".into(),
        Value::secret(Value::string("ns/canary-scope-4711")),
    );
    let inputs = Inputs::parse(&p).unwrap();
    for out in [
        compute(&key("0123456789abcdef0123456789abcdef"), &inputs),
        unknown_outputs(&inputs),
    ] {
        let decoded = wire::decode_struct(Some(&encode_outputs(&out))).unwrap();
        assert!(decoded["scope"].is_secret(), "{:?}", decoded.keys());
        for (name, value) in &decoded {
            if name != "scope" {
                assert!(
                    !value
                        .to_json(crate::value::Reveal::Revealed)
                        .to_string()
                        .contains("canary")
                );
            }
        }
    }
    let plain = Inputs::parse(&props(&[("A", Value::string("x"))], Some("ns/api"))).unwrap();
    let out = compute(&key("0123456789abcdef0123456789abcdef"), &plain);
    let decoded = wire::decode_struct(Some(&encode_outputs(&out))).unwrap();
    assert!(!decoded["scope"].is_secret());
}
