//! The command line as users and CronJobs see it: output, and exit codes.

use crate::helpers::*;
use shelflife::storage::s3::BucketOptions;
use sqlx::PgPool;

const EXPIRE_ALL_TMP: &str =
    "    - name: drop-tmp\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";

#[test]
fn the_example_policies_in_the_repository_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
    let loaded = shelflife::policy::load(&[dir]).unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(loaded.set.policies.len() >= 2);
}

#[test]
fn an_invalid_policy_file_exits_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "apiVersion: shelflife.dev/v1\nkind: Policy\nmetadata: { name: bad }\nspec:\n  target: { storage: local, bucket: b }\n  rules:\n    - name: r\n      when: { age: { olderThan: 30 days } }\n      then: delete\n";
    std::fs::write(dir.path().join("bad.yaml"), bad).unwrap();
    let output = std::process::Command::new(binary())
        .args(["validate", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let text = stdout(&output);
    let file = dir.path().join("bad.yaml");
    assert!(
        text.contains(&format!("{}:8:33: bad/r: invalid duration", file.display())),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{}:5:22: bad: unknown storage \"local\"",
            file.display()
        )),
        "{text}"
    );
}

#[test]
fn validate_json_reports_the_same_diagnostics_for_ci() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.yaml"),
        "apiVersion: shelflife.dev/v1\nkind: Poliyc\nmetadata: { name: x }\nspec: {}\n",
    )
    .unwrap();
    let output = std::process::Command::new(binary())
        .args(["validate", "--format", "json", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["diagnostics"][0]["line"], 2);
    assert!(report["diagnostics"][0]["message"]
        .as_str()
        .unwrap()
        .contains("unknown kind \"Poliyc\""));
}

#[sqlx::test]
async fn the_whole_pipeline_runs_from_the_command_line(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "cli", BucketOptions::default()).await;
    put(&store, &bucket, "tmp/a", "a").await;
    put(&store, &bucket, "tmp/b", "b").await;
    put(&store, &bucket, "keep/c", "c").await;
    let dir = PolicyDir::new(&policy_yaml("tmp", &bucket, "", EXPIRE_ALL_TMP));
    let run = |args: &[&str]| shelflife(&pool, dir.path(), args);

    let out = run(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let out = run(&["scan"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(stdout(&out).contains("3 versions"), "{}", describe(&out));
    let out = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(10),
        "changes pending: {}",
        describe(&out)
    );
    assert!(
        stdout(&out).contains("2 objects (2 B) to change"),
        "{}",
        describe(&out)
    );
    let out = run(&["apply"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "no --yes and no terminal: {}",
        describe(&out)
    );
    assert_eq!(live_keys(&store, &bucket).await.len(), 3);

    let out = run(&["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        stdout(&out).contains("2 done, 0 skipped, 0 changed since scan, 0 blocked, 0 failed"),
        "{}",
        describe(&out)
    );
    assert_eq!(live_keys(&store, &bucket).await, vec!["keep/c"]);
    let out = run(&["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        stdout(&out).contains("already applied"),
        "{}",
        describe(&out)
    );
    assert_eq!(count(&pool, ITEM_EVENTS).await, 2);

    run(&["scan"]);
    let out = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "nothing left to change: {}",
        describe(&out)
    );
    let out = run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(
        stdout(&out).contains("audit trail intact: 4 events"),
        "{}",
        describe(&out)
    );
    let runs = count(
        &pool,
        "SELECT count(*) FROM runs WHERE exit_code = 0 AND finished_at IS NOT NULL",
    )
    .await;
    assert_eq!(runs, 1, "the apply that acted is recorded as a run");
}

#[sqlx::test]
async fn a_plan_over_a_limit_is_refused_with_exit_3_and_nothing_changes(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "limit", BucketOptions::default()).await;
    for key in ["tmp/1", "tmp/2", "tmp/3", "data/4"] {
        put(&store, &bucket, key, "x").await;
    }
    let limits = "  limits: { maxObjects: 2 }\n";
    let dir = PolicyDir::new(&policy_yaml("tmp", &bucket, limits, EXPIRE_ALL_TMP));
    shelflife(&pool, dir.path(), &["scan"]);
    let out = shelflife(&pool, dir.path(), &["plan"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert!(
        stdout(&out).contains("REFUSED: maxObjects 2 exceeded by 1 (3 planned)"),
        "{}",
        describe(&out)
    );
    let out = shelflife(&pool, dir.path(), &["apply", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    assert_eq!(live_keys(&store, &bucket).await.len(), 4);
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_events").await, 0);
}

#[sqlx::test]
async fn an_unreachable_storage_endpoint_exits_5_and_names_the_operation(pool: PgPool) {
    let dir = PolicyDir::new(&policy_yaml("tmp", "nowhere", "", EXPIRE_ALL_TMP));
    let out = shelflife_with_env(
        &pool,
        dir.path(),
        &["scan"],
        &[("S3_ENDPOINT", "http://127.0.0.1:9")],
    );
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("ListObjectVersions s3://nowhere/"),
        "{stderr}"
    );
    let failed = count(&pool, "SELECT count(*) FROM scans WHERE status = 'failed'").await;
    assert_eq!(failed, 1);
}

#[sqlx::test]
async fn scanning_a_bucket_that_does_not_exist_exits_2_naming_it(pool: PgPool) {
    let missing = format!("missing-{}", std::process::id());
    let dir = PolicyDir::new(&policy_yaml("tmp", &missing, "", EXPIRE_ALL_TMP));
    let out = shelflife(&pool, dir.path(), &["scan"]);
    assert_eq!(out.status.code(), Some(2), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("s3://{missing}/")), "{stderr}");
    assert!(stderr.contains("NoSuchBucket"), "{stderr}");
}

#[test]
fn an_empty_policy_directory_fails_instead_of_doing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README.md"), "not a policy").unwrap();
    for args in [&["validate"][..], &["run", "--all"], &["plan"], &["scan"]] {
        let out = std::process::Command::new(binary())
            .args(args)
            .env("DATABASE_URL", "postgres://postgres@127.0.0.1:9/none")
            .env("SHELFLIFE_POLICIES", dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", describe(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&dir.path().display().to_string()),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn an_unreachable_database_exits_5() {
    let dir = PolicyDir::new(&policy_yaml("tmp", "b", "", EXPIRE_ALL_TMP));
    let out = std::process::Command::new(binary())
        .args(["scan"])
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:9/none")
        .env("SHELFLIFE_POLICIES", dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot connect to the database"),
        "{}",
        describe(&out)
    );
}

#[sqlx::test]
async fn storage_credentials_are_read_from_the_named_file_and_variable(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "creds", BucketOptions::default()).await;
    put(&store, &bucket, "tmp/a", "a").await;
    let secrets = tempfile::tempdir().unwrap();
    let key_file = secrets.path().join("access-key-id");
    // The keys the server knows (moto takes any; Ceph's RGW only its user's).
    let key_id =
        std::env::var("AWS_ACCESS_KEY_ID").expect("AWS_ACCESS_KEY_ID (scripts/services env)");
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").expect("AWS_SECRET_ACCESS_KEY");
    std::fs::write(&key_file, format!("{key_id}\n")).unwrap();
    let creds = format!(
        "  credentials:\n    accessKeyIdFile: {}\n    secretAccessKeyEnv: SHELFLIFE_TEST_SECRET\n",
        key_file.display()
    );
    let dir =
        PolicyDir::with_storage_extra(&creds, &policy_yaml("tmp", &bucket, "", EXPIRE_ALL_TMP));

    let out = shelflife_with_env(
        &pool,
        dir.path(),
        &["scan"],
        &[("SHELFLIFE_TEST_SECRET", secret.as_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(stdout(&out).contains("1 versions"), "{}", describe(&out));

    let out = shelflife(&pool, dir.path(), &["scan"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing secret is a configuration error: {}",
        describe(&out)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "credentials of storage local: environment variable SHELFLIFE_TEST_SECRET is not set"
        ),
        "{stderr}"
    );
}

#[test]
fn schema_prints_the_json_schema_of_policy_files() {
    let output = std::process::Command::new(binary())
        .arg("schema")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(schema["title"], "shelflife policy file");
    assert!(schema["$defs"]["WhenWire"]["properties"]["newerInFolder"].is_object());
}

#[sqlx::test]
async fn scanning_from_a_report_folder_without_a_complete_report_says_so(pool: PgPool) {
    let store = store().await;
    let reports = new_bucket(&store, "no-reports", BucketOptions::default()).await;
    let extra = format!(
        "  source: {{ inventory: {{ storage: local, bucket: {reports}, prefix: b/daily/ }} }}\n"
    );
    let dir = PolicyDir::new(&policy_yaml("inv", "b", &extra, EXPIRE_ALL_TMP));
    let output = shelflife(&pool, dir.path(), &["scan"]);
    assert_eq!(output.status.code(), Some(2), "{}", describe(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "no complete inventory report under s3://{reports}/b/daily/"
        )),
        "{stderr}"
    );
}
