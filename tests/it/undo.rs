//! `shelflife undo --run ID`: the reverse of a run, planned from its audit events and applied
//! like any plan. Deletes lose their delete markers, archives and tiers are copied back, tags
//! and legal holds are put back; a permanent delete and COMPLIANCE retention are listed as
//! impossible to undo, and a key written after the run is left alone.

use crate::helpers::*;
use shelflife::storage::s3::{BucketOptions, PutOptions, S3Store};
use shelflife::storage::ObjectStore;
use sqlx::PgPool;
use std::collections::BTreeMap;

fn run_ok(pool: &PgPool, dir: &PolicyDir, args: &[&str]) -> String {
    let out = shelflife(pool, dir.path(), args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
    stdout(&out)
}

fn rules(archive: &str) -> String {
    format!(
        "    - {{ name: drop, when: {{ key: {{ prefix: d/ }} }}, then: delete }}
    - {{ name: purge, when: {{ key: {{ prefix: p/ }} }}, then: {{ delete: {{ permanent: true }} }} }}
    - {{ name: cool, when: {{ key: {{ prefix: t/ }} }}, then: {{ tier: {{ storageClass: {}, force: true }} }} }}
    - {{ name: away, when: {{ key: {{ prefix: r/ }} }}, then: {{ archive: {{ bucket: {archive}, prefix: old/, force: true }} }} }}
    - {{ name: label, when: {{ key: {{ prefix: g/ }} }}, then: {{ tag: {{ set: {{ stage: archived }}, remove: [team] }} }} }}
    - {{ name: hold, when: {{ key: {{ prefix: h/ }} }}, then: {{ legalHold: on }} }}
    - {{ name: seal, when: {{ key: {{ prefix: l/ }} }}, then: {{ lock: {{ mode: COMPLIANCE, retainFor: 1d }} }} }}
",
        cold()
    )
}

const KEYS: [&str; 8] = ["d/1", "d/2", "p/1", "t/1", "r/1", "g/1", "h/1", "l/1"];

async fn seed_keys(store: &S3Store, bucket: &str) {
    let tagged = PutOptions {
        tags: BTreeMap::from([("team".to_string(), "ml".to_string())]),
        ..PutOptions::default()
    };
    for key in KEYS {
        let body = format!("{key}: the data").into_bytes();
        store
            .put_object(bucket, key, body, &tagged)
            .await
            .expect("put");
    }
}

fn undo_plan_id(text: &str) -> String {
    let rest = text.split("Undo plan ").nth(1).expect("an undo plan");
    rest.split_whitespace().next().unwrap().to_string()
}

#[sqlx::test]
async fn a_run_is_undone_and_what_cannot_be_is_listed(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "undo", BucketOptions::OBJECT_LOCK).await;
    let archive = new_bucket(&store, "undo-arch", BucketOptions::VERSIONED).await;
    seed_keys(&store, &bucket).await;
    let d1 = versions(&store, &bucket)
        .await
        .into_iter()
        .find(|v| v.key == "d/1");
    let dir = PolicyDir::new(&policy_yaml("ops", &bucket, "", &rules(&archive)));
    run_ok(&pool, &dir, &["scan"]);
    run_ok(&pool, &dir, &["plan"]);
    let applied = run_ok(&pool, &dir, &["apply", "--yes"]);
    assert!(applied.contains("total: 8 done"), "{applied}");
    let run: i64 = sqlx::query_scalar("SELECT max(id) FROM runs WHERE command = 'apply'")
        .fetch_one(&pool)
        .await
        .unwrap();
    // After the run, someone writes d/2 again: the undo must not remove anything over it.
    put(&store, &bucket, "d/2", "d/2: written after the run").await;

    let planned = run_ok(&pool, &dir, &["undo", "--run", &run.to_string()]);
    assert!(
        planned.contains("8 events of things done read"),
        "{planned}"
    );
    assert!(
        planned.contains("cannot be brought back: 2 keys"),
        "{planned}"
    );
    assert!(planned.contains("was deleted permanently"), "{planned}");
    assert!(
        planned.contains("Object Lock retention is never shortened"),
        "{planned}"
    );
    let id = undo_plan_id(&planned);
    let undone = run_ok(&pool, &dir, &["apply", "--plan", &id, "--yes"]);
    assert!(
        undone.contains("total: 5 done, 0 skipped, 1 changed since plan, 2 blocked, 0 failed"),
        "{undone}"
    );

    let mut live = live_keys(&store, &bucket).await;
    live.sort();
    assert_eq!(live, ["d/1", "d/2", "g/1", "h/1", "l/1", "r/1", "t/1"]);
    let now = versions(&store, &bucket).await;
    let d1_now = now.iter().find(|v| v.key == "d/1" && v.is_latest);
    assert_eq!(
        d1_now.map(|v| &v.version_id),
        d1.as_ref().map(|v| &v.version_id),
        "the delete marker removed: the very version is current again"
    );
    assert_eq!(
        read(&store, &bucket, "d/2").await,
        b"d/2: written after the run"
    );
    assert_eq!(read(&store, &bucket, "r/1").await, b"r/1: the data");
    assert_eq!(
        live_keys(&store, &archive).await,
        ["old/r/1"],
        "the archive copy stays"
    );
    let tiered = store.head(&bucket, "t/1", None).await.unwrap();
    assert_ne!(tiered.storage_class.as_deref(), Some(cold()), "tiered back");
    let tags = store.get_tags(&bucket, "g/1", None).await.unwrap();
    assert_eq!(
        tags,
        BTreeMap::from([("team".to_string(), "ml".to_string())])
    );
    let held = store.head(&bucket, "h/1", None).await.unwrap();
    assert!(!held.legal_hold, "the legal hold released");

    // Each undo event names the event it reverses.
    let linked: i64 = count(
        &pool,
        "SELECT count(*) FROM audit_events u JOIN audit_events o \
           ON o.seq = (u.state_after->>'undoes')::bigint \
         WHERE u.action = 'undo' AND u.outcome = 'done' AND o.key = u.key AND o.outcome = 'done'",
    )
    .await;
    assert_eq!(linked, 5);
    let verified = shelflife(&pool, dir.path(), &["audit", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", describe(&verified));

    // Where did r/1 go, and where did it come back from?
    let url = format!("s3://{bucket}/r/1");
    let located = run_ok(&pool, &dir, &["locate", &url]);
    assert!(located.contains("rule away: archive done"), "{located}");
    assert!(
        located.contains(&format!("→ s3://{archive}/old/r/1 version ")),
        "{located}"
    );
    assert!(
        located.contains("rule copy back from archive: undo done"),
        "{located}"
    );
    assert!(located.contains("now: version "), "{located}");
    let arrived = run_ok(&pool, &dir, &["locate", &format!("s3://{archive}/old/r/1")]);
    assert!(
        arrived.contains(&format!("archived here from s3://{bucket}/r/1")),
        "{arrived}"
    );
    let json = run_ok(
        &pool,
        &dir,
        &["locate", &format!("s3://{bucket}/p/1"), "--format", "json"],
    );
    let json: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(json["now"]["exists"], false, "{json}");
    let outcomes: Vec<&str> = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["done", "blocked"],
        "the purge, then the undo that could not"
    );
    // The report shows undos as their own action, step by step.
    let out = tempfile::tempdir().unwrap();
    let path = out.path().to_str().unwrap();
    run_ok(
        &pool,
        &dir,
        &[
            "report", "--format", "html", "--format", "csv", "--out", path,
        ],
    );
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    for row in [
        "<td>copy back from archive</td><td>undo</td><td>done</td>",
        "<td>remove delete marker</td><td>undo</td><td>changed</td>",
        "<td>lock</td><td>undo</td><td>blocked</td>",
    ] {
        assert!(html.contains(row), "{row} in the HTML report");
    }
    let csv = std::fs::read_to_string(out.path().join("events.csv")).unwrap();
    assert_eq!(
        csv.lines().filter(|l| l.contains(",undo,")).count(),
        8,
        "{csv}"
    );
    let nothing = shelflife(&pool, dir.path(), &["undo", "--run", "999999"]);
    assert_eq!(nothing.status.code(), Some(2), "{}", describe(&nothing));
}

/// An archive into GLACIER is undone by thawing the archive copy first: the first apply asks
/// for the thaw and leaves the item `thawing`, a later apply finds it thawed and copies it back.
/// (moto implements RestoreObject and `x-amz-restore`; Ceph has no GLACIER class.)
#[sqlx::test]
async fn an_archive_in_glacier_is_thawed_then_copied_back_by_a_second_apply(pool: PgPool) {
    if on_ceph() {
        return;
    }
    let store = store().await;
    let bucket = new_bucket(&store, "thaw", BucketOptions::VERSIONED).await;
    let archive = new_bucket(&store, "thaw-arch", BucketOptions::VERSIONED).await;
    put(&store, &bucket, "r/1", "r/1: the data").await;
    let rules = format!("    - {{ name: deep, when: {{ key: {{ prefix: r/ }} }}, then: {{ archive: {{ bucket: {archive}, storageClass: GLACIER, force: true }} }} }}\n");
    let dir = PolicyDir::new(&policy_yaml("cold", &bucket, "", &rules));
    run_ok(&pool, &dir, &["scan"]);
    run_ok(&pool, &dir, &["plan"]);
    run_ok(&pool, &dir, &["apply", "--yes"]);
    assert_eq!(live_keys(&store, &bucket).await, Vec::<String>::new());
    let run: i64 = sqlx::query_scalar("SELECT max(id) FROM runs WHERE command = 'apply'")
        .fetch_one(&pool)
        .await
        .unwrap();
    let run = run.to_string();

    let frozen = run_ok(&pool, &dir, &["undo", "--run", &run]);
    assert!(
        frozen.contains("must be thawed first (pass --thaw-days N)"),
        "{frozen}"
    );
    let planned = run_ok(
        &pool,
        &dir,
        &[
            "undo",
            "--run",
            &run,
            "--thaw-days",
            "2",
            "--thaw-tier",
            "bulk",
        ],
    );
    let id = undo_plan_id(&planned);
    let first = run_ok(&pool, &dir, &["apply", "--plan", &id, "--yes"]);
    assert!(
        first.contains("1 thawing (apply again once thawed)"),
        "{first}"
    );
    assert_eq!(
        live_keys(&store, &bucket).await,
        Vec::<String>::new(),
        "nothing copied yet"
    );
    let thawed = store.head(&archive, "r/1", None).await.unwrap();
    assert!(thawed.thaw.is_some(), "RestoreObject was sent: {thawed:?}");
    let located = run_ok(&pool, &dir, &["locate", &format!("s3://{bucket}/r/1")]);
    assert!(
        located.contains(&format!("thawing: plan {id} asked for a thaw")),
        "{located}"
    );

    let second = run_ok(&pool, &dir, &["apply", "--plan", &id, "--yes"]);
    assert!(second.contains("total: 1 done"), "{second}");
    assert_eq!(read(&store, &bucket, "r/1").await, b"r/1: the data");
    let events: Vec<(String, Option<i64>)> = sqlx::query_as(
        "SELECT outcome, item_id FROM audit_events WHERE action = 'undo' ORDER BY seq",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].0, "thawing");
    assert_eq!(events[0].1, None, "the thaw is not the item's final event");
    assert_eq!(events[1].0, "done");
    assert!(events[1].1.is_some());
    let state: String = sqlx::query_scalar("SELECT state FROM plans WHERE id = $1")
        .bind(id.parse::<i64>().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "applied");
}
