//! Every action of the engine in one run through the CLI, on whichever backend the suite runs
//! against (moto, or Ceph's RADOS Gateway): scan (live listing, versions) → plan → apply of a
//! delete, a noncurrent cleanup, a tier, an archive, a lock and a legal hold → audit verify →
//! report; the end state is read back by listing the server.

use crate::helpers::*;
use chrono::{Duration, Utc};
use shelflife::storage::s3::{BucketOptions, S3Store};
use shelflife::storage::{LockMode, ObjectStore};
use sqlx::PgPool;

fn rules(vault: &str) -> String {
    format!(
        "    - {{ name: scratch, when: {{ key: {{ prefix: scratch/ }} }}, then: delete }}
    - name: old-models
      when: {{ key: {{ prefix: models/ }}, version: noncurrent }}
      then: delete
    - name: cold-ckpt
      when: {{ key: {{ prefix: ckpt/ }} }}
      then: {{ tier: {{ storageClass: {cold}, force: true }} }}
    - {{ name: vault-logs, when: {{ key: {{ prefix: logs/ }} }}, then: {{ archive: {{ bucket: {vault} }} }} }}
    - name: retain
      when: {{ key: {{ prefix: release/ }} }}
      then: {{ lock: {{ mode: GOVERNANCE, retainFor: 30d }} }}
    - {{ name: hold, when: {{ key: {{ prefix: legal/ }} }}, then: {{ legalHold: on }} }}
",
        cold = cold()
    )
}

/// A versioned bucket with Object Lock holding one key per rule, three versions of a model and
/// a key no rule takes; and an empty archive bucket.
async fn seeded(store: &S3Store) -> (String, String) {
    let bucket = new_bucket(store, "e2e", BucketOptions::OBJECT_LOCK).await;
    let vault = new_bucket(store, "e2e-vault", BucketOptions::default()).await;
    for (key, body) in [
        ("scratch/tmp.json", "scratch"),
        ("models/m.bin", "v1"),
        ("models/m.bin", "v2"),
        ("models/m.bin", "v3"),
        ("ckpt/step-100.ckpt", "weights"),
        ("logs/2026-01-01.jsonl", "{\"req\": 1}"),
        ("release/model-1.0.bin", "released"),
        ("legal/case-17.pdf", "evidence"),
        ("keep/README", "untouched"),
    ] {
        put(store, &bucket, key, body).await;
    }
    (bucket, vault)
}

#[sqlx::test]
async fn every_action_from_scan_to_report_leaves_the_server_as_the_plan_said(pool: PgPool) {
    let store = store().await;
    let (bucket, vault) = seeded(&store).await;
    let before = versions(&store, &bucket).await;
    let dir = PolicyDir::new(&policy_yaml("e2e", &bucket, "", &rules(&vault)));
    for args in [
        &["validate"][..],
        &["scan"],
        &["plan"],
        &["apply", "--yes"],
        &["audit", "verify"],
    ] {
        let out = shelflife(&pool, dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
    }

    let after = versions(&store, &bucket).await;
    let of = |key: &str| after.iter().filter(|v| v.key == key).collect::<Vec<_>>();
    let latest_is_marker = |key: &str| of(key).iter().any(|v| v.is_latest && v.is_delete_marker);
    assert!(latest_is_marker("scratch/tmp.json"), "{after:#?}");
    assert_eq!(
        of("scratch/tmp.json").len(),
        2,
        "a marker over the kept version"
    );
    let models = of("models/m.bin");
    assert_eq!(models.len(), 1, "only the current model stays: {models:#?}");
    assert_eq!(read(&store, &bucket, "models/m.bin").await, b"v3");
    let ckpt = store
        .head(&bucket, "ckpt/step-100.ckpt", None)
        .await
        .unwrap();
    assert_eq!(ckpt.storage_class.as_deref(), Some(cold()));
    assert_eq!(
        read(&store, &bucket, "ckpt/step-100.ckpt").await,
        b"weights"
    );
    // An archive deletes the version it copied (by its id), not the key: no marker.
    assert!(of("logs/2026-01-01.jsonl").is_empty(), "the source is gone");
    assert_eq!(live_keys(&store, &vault).await, ["logs/2026-01-01.jsonl"]);
    assert_eq!(
        read(&store, &vault, "logs/2026-01-01.jsonl").await,
        b"{\"req\": 1}"
    );
    let release = store
        .head(&bucket, "release/model-1.0.bin", None)
        .await
        .unwrap();
    let retention = release.retention.expect("retention set");
    assert_eq!(retention.mode, LockMode::Governance);
    let until = Utc::now() + Duration::days(30);
    assert!(
        (retention.retain_until - until).num_hours().abs() <= 1,
        "{retention:?}"
    );
    let legal = store
        .head(&bucket, "legal/case-17.pdf", None)
        .await
        .unwrap();
    assert!(legal.legal_hold);
    let untouched = |list: &[shelflife::storage::ObjectVersion]| {
        list.iter()
            .filter(|v| v.key == "keep/README")
            .map(|v| (v.version_id.clone(), v.etag.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(untouched(&after), untouched(&before));

    let out = tempfile::tempdir().unwrap();
    let path = out.path().to_str().unwrap();
    let reported = shelflife(
        &pool,
        dir.path(),
        &["report", "--format", "jsonl", "--out", path],
    );
    assert_eq!(reported.status.code(), Some(0), "{}", describe(&reported));
    let events = std::fs::read_to_string(out.path().join("events.jsonl")).unwrap();
    let mut done: Vec<(String, String)> = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["outcome"] == "done" && e["plan_id"].is_i64())
        .map(|e| {
            (
                e["rule"].as_str().unwrap().into(),
                e["key"].as_str().unwrap().into(),
            )
        })
        .collect();
    done.sort();
    let expected = [
        ("cold-ckpt", "ckpt/step-100.ckpt"),
        ("hold", "legal/case-17.pdf"),
        ("old-models", "models/m.bin"),
        ("old-models", "models/m.bin"),
        ("retain", "release/model-1.0.bin"),
        ("scratch", "scratch/tmp.json"),
        ("vault-logs", "logs/2026-01-01.jsonl"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(r, k)| (r.to_string(), k.to_string()))
        .collect();
    assert_eq!(
        done, expected,
        "one done event per action, as the plan said"
    );
}
