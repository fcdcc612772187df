//! `shelflife restore`: a versioned prefix brought back to a moment, in place, through the
//! ordinary plan → apply path. Overwritten keys get the old content back as a new version;
//! keys only deleted since lose their delete markers (no copy: the old version id is current
//! again); keys created since are kept and listed, or (`--remove-newer`) hidden by a marker;
//! a key written between the restore plan and its apply is left alone (`changed since plan`).

use crate::helpers::*;
use chrono::{DateTime, Utc};
use shelflife::storage::s3::{BucketOptions, PutOptions, S3Store};
use shelflife::storage::ObjectStore;
use sqlx::PgPool;

const KEEP_ALL: &str = "    - { name: nothing, when: { key: { prefix: zzz/ } }, then: keep }\n";

fn run_ok(pool: &PgPool, dir: &PolicyDir, args: &[&str]) -> String {
    let out = shelflife(pool, dir.path(), args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
    stdout(&out)
}

/// `shelflife restore --policy models --as-of MOMENT ARGS...`, which must succeed: its stdout.
fn restore_to(pool: &PgPool, dir: &PolicyDir, moment: DateTime<Utc>, args: &[&str]) -> String {
    let as_of = moment.to_rfc3339();
    let mut all = vec!["restore", "--policy", "models", "--as-of", as_of.as_str()];
    all.extend_from_slice(args);
    run_ok(pool, dir, &all)
}

/// Waits long enough that what is written next has a later Last-Modified (whole seconds on
/// some servers) than everything written before; the moment everything before was written.
async fn moment_after(store: &S3Store, bucket: &str) -> DateTime<Utc> {
    let newest = versions(store, bucket)
        .await
        .iter()
        .map(|v| v.last_modified)
        .max()
        .expect("versions");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    newest
}

fn version_of(all: &[shelflife::storage::ObjectVersion], key: &str) -> Option<String> {
    all.iter()
        .find(|v| v.key == key && v.is_latest)
        .and_then(|v| v.version_id.clone())
}

fn plan_id(text: &str) -> String {
    let rest = text.split("Restore plan ").nth(1).expect("a restore plan");
    rest.split_whitespace().next().unwrap().to_string()
}

/// The state at the moment: a/over, a/gone, a/gone-twice, a/same, a/raced, b/other. After it:
/// a/over overwritten, a/gone deleted, a/gone-twice deleted, recreated and deleted again,
/// a/raced overwritten, a/new created, b/other overwritten (outside `--prefix a/`).
async fn history(store: &S3Store, bucket: &str) -> DateTime<Utc> {
    let cold = PutOptions {
        storage_class: Some(cold().into()),
        content: shelflife::storage::ContentHeaders {
            content_type: Some("application/x-checkpoint".into()),
            ..Default::default()
        },
        ..PutOptions::default()
    };
    store
        .put_object(bucket, "a/over", b"over: as it was".to_vec(), &cold)
        .await
        .expect("put");
    for key in ["a/gone", "a/gone-twice", "a/same", "a/raced", "b/other"] {
        put(store, bucket, key, &format!("{key}: as it was")).await;
    }
    let moment = moment_after(store, bucket).await;
    put(store, bucket, "a/over", "over: overwritten").await;
    delete(store, bucket, "a/gone", None).await;
    delete(store, bucket, "a/gone-twice", None).await;
    put(store, bucket, "a/gone-twice", "recreated").await;
    delete(store, bucket, "a/gone-twice", None).await;
    put(store, bucket, "a/raced", "raced: overwritten").await;
    put(store, bucket, "a/new", "created after").await;
    put(store, bucket, "b/other", "other: overwritten").await;
    moment
}

#[sqlx::test]
async fn a_prefix_comes_back_as_it_was_and_later_writes_survive(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "restore", BucketOptions::VERSIONED).await;
    let moment = history(&store, &bucket).await;
    let gone_version = versions(&store, &bucket)
        .await
        .into_iter()
        .find(|v| v.key == "a/gone" && !v.is_delete_marker)
        .and_then(|v| v.version_id);
    let dir = PolicyDir::new(&policy_yaml("models", &bucket, "", KEEP_ALL));

    // No inventory yet: the restore scans first.
    let planned = restore_to(&pool, &dir, moment, &["--prefix", "a/"]);
    assert!(planned.contains("copy back"), "{planned}");
    assert!(planned.contains("5 keys changed since then"), "{planned}");
    assert!(
        planned.contains("newer, kept: 1 keys") && planned.contains("\"a/new\""),
        "{planned}"
    );
    assert!(
        planned.contains(": 4 objects (") && planned.contains("to bring back or remove"),
        "{planned}"
    );
    let id = plan_id(&planned);
    // Written after the restore was planned: never covered by the old version.
    put(&store, &bucket, "a/raced", "raced: written after the plan").await;

    let applied = run_ok(&pool, &dir, &["apply", "--plan", &id, "--yes"]);
    assert!(
        applied.contains("total: 3 done, 0 skipped, 1 changed since plan"),
        "{applied}"
    );
    for (key, body) in [
        ("a/over", "over: as it was"),
        ("a/gone", "a/gone: as it was"),
        ("a/gone-twice", "a/gone-twice: as it was"),
        ("a/same", "a/same: as it was"),
        ("a/raced", "raced: written after the plan"),
        ("a/new", "created after"),
        ("b/other", "other: overwritten"),
    ] {
        assert_eq!(read(&store, &bucket, key).await, body.as_bytes(), "{key}");
    }
    let all = versions(&store, &bucket).await;
    assert_eq!(
        version_of(&all, "a/gone"),
        gone_version,
        "markers removed, the old version current again, nothing copied"
    );
    let head = store.head(&bucket, "a/over", None).await.expect("head");
    assert_eq!(head.storage_class.as_deref(), Some(cold()), "class kept");
    assert_eq!(
        head.content.content_type.as_deref(),
        Some("application/x-checkpoint"),
        "content headers kept"
    );
    let events: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT key, rule, outcome FROM audit_events WHERE action = 'restore' ORDER BY key",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let expected = [
        ("a/gone", "remove delete markers", "done"),
        ("a/gone-twice", "copy back", "done"),
        ("a/over", "copy back", "done"),
        ("a/raced", "copy back", "changed"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(k, r, o)| (k.to_string(), r.to_string(), o.to_string()))
        .collect();
    assert_eq!(events, expected);
    let reason: String =
        sqlx::query_scalar("SELECT reason FROM audit_events WHERE outcome = 'changed'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(
        reason.starts_with("changed since plan: version "),
        "{reason}"
    );
    let verified = shelflife(&pool, dir.path(), &["audit", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", describe(&verified));
}

#[sqlx::test]
async fn remove_newer_hides_keys_created_since_and_deletes_no_version(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "restore-newer", BucketOptions::VERSIONED).await;
    let moment = history(&store, &bucket).await;
    let before = versions(&store, &bucket).await;
    let dir = PolicyDir::new(&policy_yaml("models", &bucket, "", KEEP_ALL));
    run_ok(&pool, &dir, &["scan"]);
    let out = restore_to(&pool, &dir, moment, &["--remove-newer", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    let lines = plan["actions"].as_array().unwrap();
    let objects = |rule: &str| {
        lines.iter().find(|l| l["rule"] == rule).unwrap()["objects"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(objects("copy back"), 4, "{plan}");
    assert_eq!(objects("remove delete markers"), 1);
    assert_eq!(objects("remove newer"), 1);
    assert_eq!(plan["restore"]["newer_kept"]["objects"], 0);
    let id = plan["plan_id"].as_i64().unwrap().to_string();

    run_ok(&pool, &dir, &["apply", "--plan", &id, "--yes"]);
    let mut live = live_keys(&store, &bucket).await;
    live.sort();
    assert_eq!(
        live,
        [
            "a/gone",
            "a/gone-twice",
            "a/over",
            "a/raced",
            "a/same",
            "b/other"
        ]
    );
    assert_eq!(
        read(&store, &bucket, "b/other").await,
        b"b/other: as it was"
    );
    let after = versions(&store, &bucket).await;
    for version in before.iter().filter(|v| !v.is_delete_marker) {
        assert!(
            after.iter().any(|a| a.version_id == version.version_id),
            "version {:?} of {} was deleted",
            version.version_id,
            version.key
        );
    }
    // Applied again: nothing left to do, nothing acted on twice.
    let again = run_ok(&pool, &dir, &["apply", "--plan", &id, "--yes"]);
    assert!(again.contains("nothing left to do"), "{again}");
}

#[sqlx::test]
async fn an_unversioned_bucket_or_a_prefix_outside_the_target_is_refused(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "restore-flat", BucketOptions::default()).await;
    put(&store, &bucket, "a/k", "x").await;
    let spec =
        "  target: { storage: local, bucket: BUCKET, prefixes: [a/] }\n".replace("BUCKET", &bucket);
    let yaml = policy_yaml("flat", &bucket, "", KEEP_ALL).replace(
        &format!("  target: {{ storage: local, bucket: {bucket} }}\n"),
        &spec,
    );
    let dir = PolicyDir::new(&yaml);
    let refused = |args: &[&str], why: &str| {
        let out = shelflife(&pool, dir.path(), args);
        assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(why), "{}", describe(&out));
    };
    let flat = ["restore", "--policy", "flat", "--as-of"];
    refused(&[&flat[..], &["-1h"]].concat(), "has no object versions");
    refused(
        &[&flat[..], &["-1h", "--prefix", "b/"]].concat(),
        "is not inside policy flat's target",
    );
    refused(&[&flat[..], &["+1h"]].concat(), "is in the future");
}

/// A restore apply killed (SIGKILL) at ten moments resumes to every key restored exactly once:
/// one copy per overwritten key, every marker of a deleted key gone, one event per item.
#[sqlx::test]
async fn a_restore_killed_at_ten_moments_restores_each_key_exactly_once(pool: PgPool) {
    use crate::resilience::{apply_killed_at_ten_moments, assert_one_event_per_item, open_items};
    let store = store().await;
    let bucket = new_bucket(&store, "restore-killed", BucketOptions::VERSIONED).await;
    let keys: Vec<String> = (0..60).map(|i| format!("k/{i:03}")).collect();
    for key in &keys {
        put(&store, &bucket, key, &format!("{key}: as it was")).await;
    }
    let moment = moment_after(&store, &bucket).await;
    for (i, key) in keys.iter().enumerate() {
        match i % 2 {
            0 => drop(put(&store, &bucket, key, "overwritten").await),
            _ => delete(&store, &bucket, key, None).await,
        }
    }
    let dir = PolicyDir::new(&policy_yaml("models", &bucket, "", KEEP_ALL));
    let planned = restore_to(&pool, &dir, moment, &[]);
    let id: i64 = plan_id(&planned).parse().unwrap();

    apply_killed_at_ten_moments(&pool, &dir, id).await;

    assert_eq!(open_items(&pool, id).await, 0);
    assert_one_event_per_item(&pool, id).await;
    let done = format!("SELECT count(*) FROM plan_items WHERE plan_id = {id} AND state = 'done'");
    assert_eq!(count(&pool, &done).await, 60);
    let retried = format!("SELECT count(*) FROM plan_items WHERE plan_id = {id} AND attempts > 1");
    assert!(
        count(&pool, &retried).await > 0,
        "kills caught items mid-way"
    );
    let all = versions(&store, &bucket).await;
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            read(&store, &bucket, key).await,
            format!("{key}: as it was").as_bytes()
        );
        let of_key: Vec<_> = all.iter().filter(|v| &v.key == key).collect();
        let expected = if i % 2 == 0 { 3 } else { 1 };
        assert_eq!(of_key.len(), expected, "{key}: {of_key:?}");
    }
}

/// A version in GLACIER cannot be copied until thawed: without `--thaw-days` the restore lists
/// it with the flag to pass, and its apply records it as blocked, never copied. (Ceph has no
/// GLACIER class.)
#[sqlx::test]
async fn a_frozen_version_is_listed_as_not_restorable_without_a_thaw(pool: PgPool) {
    if on_ceph() {
        return;
    }
    let store = store().await;
    let bucket = new_bucket(&store, "restore-frozen", BucketOptions::VERSIONED).await;
    let glacier = PutOptions {
        storage_class: Some("GLACIER".into()),
        ..PutOptions::default()
    };
    store
        .put_object(&bucket, "m/frozen", b"deep".to_vec(), &glacier)
        .await
        .expect("put");
    let moment = moment_after(&store, &bucket).await;
    put(&store, &bucket, "m/frozen", "overwritten").await;
    let dir = PolicyDir::new(&policy_yaml("models", &bucket, "", KEEP_ALL));
    let planned = restore_to(&pool, &dir, moment, &[]);
    assert!(
        planned.contains("cannot be brought back: 1 keys")
            && planned.contains(
                "is in GLACIER and must be thawed before it can be copied (pass --thaw-days N)"
            ),
        "{planned}"
    );
    let applied = run_ok(
        &pool,
        &dir,
        &["apply", "--plan", &plan_id(&planned), "--yes"],
    );
    assert!(
        applied.contains("0 done, 0 skipped, 0 changed since plan, 1 blocked"),
        "{applied}"
    );
    assert_eq!(read(&store, &bucket, "m/frozen").await, b"overwritten");
}

/// The shell lines of the README's "Bringing data back" example, in order.
fn readme_example() -> Vec<String> {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let section = readme
        .split("## Bringing data back")
        .nth(1)
        .expect("the README has the section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("an sh block");
    block
        .lines()
        .filter(|l| l.starts_with("shelflife "))
        .map(str::to_string)
        .collect()
}

/// The README's example, run line by line against a fresh bucket: its moment, bucket, run and
/// plan ids replaced by this test's own.
#[sqlx::test]
async fn the_readme_example_of_bringing_data_back_runs(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "readme", BucketOptions::VERSIONED).await;
    put(&store, &bucket, "runs/run-07/step-001000.ckpt", "step 1000").await;
    put(
        &store,
        &bucket,
        "runs/run-07/latest.ckpt",
        "latest as it was",
    )
    .await;
    let moment = moment_after(&store, &bucket).await;
    put(&store, &bucket, "runs/run-07/latest.ckpt", "clobbered").await;
    let rules =
        "    - { name: expire, when: { key: { glob: \"runs/*/step-*.ckpt\" } }, then: delete }\n";
    let yaml = policy_yaml("checkpoints", &bucket, "", rules).replace(
        &format!("bucket: {bucket} }}"),
        &format!("bucket: {bucket}, prefix: runs/ }}"),
    );
    let dir = PolicyDir::new(&yaml);
    run_ok(&pool, &dir, &["scan"]);
    run_ok(&pool, &dir, &["plan"]);
    run_ok(&pool, &dir, &["apply", "--yes"]);
    let run: i64 = sqlx::query_scalar("SELECT max(id) FROM runs WHERE command = 'apply'")
        .fetch_one(&pool)
        .await
        .unwrap();

    let mut last = String::new();
    let lines = readme_example();
    assert_eq!(lines.len(), 5, "{lines:?}");
    for line in lines {
        let args: Vec<String> = line
            .split_whitespace()
            .skip(1)
            .map(|word| match word {
                "2026-12-05T12:00:00Z" => moment.to_rfc3339(),
                "17" => run.to_string(),
                "42" | "43" => last
                    .split(" plan ")
                    .nth(1)
                    .and_then(|rest| rest.split_whitespace().next())
                    .expect("the plan printed by the line before")
                    .to_string(),
                other => other.replace("s3://checkpoints/", &format!("s3://{bucket}/")),
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        last = run_ok(&pool, &dir, &args);
    }
    assert!(last.contains("rule expire: delete done"), "{last}");
    assert_eq!(
        read(&store, &bucket, "runs/run-07/latest.ckpt").await,
        b"latest as it was"
    );
    assert_eq!(
        read(&store, &bucket, "runs/run-07/step-001000.ckpt").await,
        b"step 1000"
    );
}

/// `--to-bucket`: the state of the moment copied elsewhere; the bucket itself is not touched,
/// and an object already at a copy's key is never overwritten.
#[sqlx::test]
async fn a_side_copy_holds_the_state_of_the_moment_and_touches_nothing_in_place(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "restore-side", BucketOptions::VERSIONED).await;
    let scratch = new_bucket(&store, "restore-scratch", BucketOptions::default()).await;
    let moment = history(&store, &bucket).await;
    put(&store, &scratch, "then/a/same", "someone else's").await;
    let before = versions(&store, &bucket).await;
    let dir = PolicyDir::new(&policy_yaml("models", &bucket, "", KEEP_ALL));
    let planned = restore_to(
        &pool,
        &dir,
        moment,
        &["--to-bucket", &scratch, "--to-prefix", "then/"],
    );
    assert!(
        planned.contains(&format!("copied into s3://{scratch}/then/")),
        "{planned}"
    );
    assert!(planned.contains(": 6 objects ("), "{planned}");
    let applied = run_ok(
        &pool,
        &dir,
        &["apply", "--plan", &plan_id(&planned), "--yes"],
    );
    assert!(applied.contains("total: 5 done, 1 skipped"), "{applied}");
    for (key, body) in [
        ("then/a/over", "over: as it was"),
        ("then/a/gone", "a/gone: as it was"),
        ("then/a/gone-twice", "a/gone-twice: as it was"),
        ("then/a/raced", "a/raced: as it was"),
        ("then/b/other", "b/other: as it was"),
        ("then/a/same", "someone else's"),
    ] {
        assert_eq!(read(&store, &scratch, key).await, body.as_bytes(), "{key}");
    }
    assert_eq!(
        live_keys(&store, &scratch).await.len(),
        6,
        "nothing for a/new"
    );
    assert_eq!(
        versions(&store, &bucket).await,
        before,
        "the bucket itself untouched"
    );
}
