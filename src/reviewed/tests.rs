use super::file::{PlanFile, PlanFileError, PlanKey, FORMAT};
use super::*;
use converge_modules::{Change, Plan, Step, WriteOptions};

fn plan_writing(content: &str, mode: Option<u32>) -> Plan {
    let mut options = WriteOptions::default();
    options.attributes.mode = mode;
    Plan {
        changes: vec![Change::content("/etc/x", None, Some(content.into()))],
        steps: vec![Step::WriteFile {
            path: "/etc/x".into(),
            content: content.as_bytes().to_vec(),
            options,
        }],
        ..Plan::default()
    }
}

fn planned(key: &str, plan: &Plan, no_log: bool) -> PlannedTask {
    let content = TaskContent::of(plan);
    PlannedTask {
        key: key.into(),
        name: "write x".into(),
        module: "copy".into(),
        decision: Decision::Changed,
        reason: None,
        fingerprint: content.fingerprint(),
        secret: is_secret(&content, no_log),
        content: Some(content),
    }
}

fn plan_file(tasks: Vec<PlannedTask>) -> PlanFile {
    PlanFile {
        format: FORMAT,
        converge_version: "test".into(),
        created_unix: 0,
        workdir: "/".into(),
        run: serde_json::json!({}),
        inputs: Default::default(),
        hosts: [("h1".to_string(), tasks)].into_iter().collect(),
        sealed: None,
    }
}

#[test]
fn the_same_fresh_plan_applies_the_saved_steps_and_a_different_one_is_drift() {
    let saved = plan_writing("a\n", None);
    let review = Review::new(
        [(
            "h1".to_string(),
            vec![planned("site.yml:3:7#0", &saved, false)],
        )]
        .into_iter()
        .collect(),
        false,
    );
    match review.verdict("h1", "site.yml:3:7#0", &plan_writing("a\n", None)) {
        Verdict::Apply(plan) => assert_eq!(plan.steps, saved.steps),
        other => panic!("{other:?}"),
    }
    match review.verdict("h1", "site.yml:3:7#0", &plan_writing("b\n", None)) {
        Verdict::Drifted { planned, now } => {
            assert_eq!(planned, saved.changes);
            assert_ne!(now, planned);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        review.verdict("h1", "site.yml:9:7#0", &saved),
        Verdict::NotReviewed(_)
    ));
}

#[test]
fn no_log_and_private_files_are_secret_and_only_sealed_with_a_key() {
    assert!(is_secret(&TaskContent::of(&plan_writing("x", None)), true));
    assert!(is_secret(
        &TaskContent::of(&plan_writing("x", Some(0o600))),
        false
    ));
    assert!(!is_secret(
        &TaskContent::of(&plan_writing("x", Some(0o644))),
        false
    ));

    let secret = planned(
        "site.yml:3:7#0",
        &plan_writing("hunter2-password\n", None),
        true,
    );
    let mut plan = plan_file(vec![secret.clone()]);
    assert!(matches!(
        plan.clone().seal_secrets(None),
        Err(PlanFileError::SecretsWithoutKey { .. })
    ));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key"), "a long plan passphrase\n").unwrap();
    let key = PlanKey::read(&dir.path().join("key")).unwrap();
    plan.seal_secrets(Some(&key)).unwrap();
    let path = dir.path().join("plan.json");
    plan.write(&path, Some(&key)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(!text.contains("aHVudGVyMi"), "base64 of the secret: {text}");

    let mut read = PlanFile::read(&path, Some(&key), None).unwrap();
    assert_eq!(read.hosts["h1"][0].content, None);
    read.unseal(&key).unwrap();
    assert_eq!(read.hosts["h1"][0].content, secret.content);
}

#[test]
fn an_edited_plan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    let plan = plan_file(vec![planned(
        "site.yml:3:7#0",
        &plan_writing("a\n", None),
        false,
    )]);
    let digest = plan.write(&path, None).unwrap();
    assert!(PlanFile::read(&path, None, Some(&digest)).is_ok());
    assert!(PlanFile::read(&path, None, Some(&"0".repeat(64))).is_err());

    // An edit that does not recompute the digest.
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("/etc/x", "/etc/y")).unwrap();
    assert!(matches!(
        PlanFile::read(&path, None, None),
        Err(PlanFileError::Tampered { .. })
    ));

    // With a key, even a recomputed digest does not help: the MAC needs the key.
    std::fs::write(dir.path().join("key"), "k3y\n").unwrap();
    let key = PlanKey::read(&dir.path().join("key")).unwrap();
    plan.write(&path, Some(&key)).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("write x", "write y")).unwrap();
    assert!(matches!(
        PlanFile::read(&path, Some(&key), None),
        Err(PlanFileError::Tampered { .. })
    ));
}
