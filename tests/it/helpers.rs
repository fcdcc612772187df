//! Shared test plumbing: the real local S3 server, a fresh bucket per test, policy directories,
//! and running the built binary against the test's own database.

use shelflife::policy::{self, Credentials, Pacing, PolicySet, Provider, Storage};
use shelflife::storage::s3::{BucketOptions, PutOptions, S3Store};
use shelflife::storage::{DeleteTarget, ObjectStore, ObjectVersion, RetryConfig};
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The S3 endpoint started by `scripts/services up` (exported by `scripts/test`).
pub fn s3_endpoint() -> String {
    std::env::var("S3_ENDPOINT")
        .expect("S3_ENDPOINT is not set: run the tests through scripts/test")
}

/// Whether the tests run against Ceph's RADOS Gateway (`SHELFLIFE_TEST_BACKEND=ceph`, see
/// scripts/test) rather than moto.
pub fn on_ceph() -> bool {
    std::env::var("SHELFLIFE_TEST_BACKEND").is_ok_and(|b| b == "ceph")
}

/// A colder storage class the backend accepts: AWS's STANDARD_IA on moto, the class
/// scripts/ceph configures on Ceph.
pub fn cold() -> &'static str {
    if on_ceph() {
        "COLD"
    } else {
        "STANDARD_IA"
    }
}

/// A second cold class, other than [`cold`] where the backend has one (Ceph has one).
pub fn colder() -> &'static str {
    if on_ceph() {
        "COLD"
    } else {
        "GLACIER_IR"
    }
}

pub fn local_storage(endpoint: &str) -> Storage {
    Storage {
        name: "local".into(),
        provider: Provider::Generic,
        endpoint: Some(endpoint.to_string()),
        region: "us-east-1".into(),
        path_style: true,
        pacing: Pacing::new(None, None),
        retry: policy::Retry {
            max_attempts: 3,
            ..Default::default()
        },
        credentials: Credentials::DefaultChain,
        checksum: policy::ChecksumMode::WhenRequired,
        conditional_delete: policy::ConditionalDelete::None,
        costs: None,
    }
}

pub async fn store() -> S3Store {
    S3Store::connect(&local_storage(&s3_endpoint()), &RetryConfig::default())
        .await
        .expect("connect")
}

/// A bucket name no other test (or earlier run against the same server) uses.
pub fn unique_bucket(label: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{label}-{}-{nanos}-{n}", std::process::id())
}

pub async fn new_bucket(store: &S3Store, label: &str, options: BucketOptions) -> String {
    let bucket = unique_bucket(label);
    store
        .create_bucket(&bucket, options)
        .await
        .expect("create bucket");
    bucket
}

pub async fn put(store: &S3Store, bucket: &str, key: &str, body: &str) -> Option<String> {
    store
        .put_object(
            bucket,
            key,
            body.as_bytes().to_vec(),
            &PutOptions::default(),
        )
        .await
        .expect("put object")
}

/// Deletes `key` (its current version when `version_id` is `None`) as test setup; any failure
/// panics.
pub async fn delete(store: &S3Store, bucket: &str, key: &str, version_id: Option<String>) {
    let target = DeleteTarget::new(key, version_id);
    store
        .delete_batch(bucket, &[target], false)
        .await
        .expect("delete")
        .remove(0)
        .expect("delete one");
}

/// Every version in the bucket, sorted by key then newest first.
pub async fn versions(store: &S3Store, bucket: &str) -> Vec<ObjectVersion> {
    use futures::TryStreamExt;
    let pages: Vec<Vec<ObjectVersion>> = store
        .list_versions(bucket, "")
        .try_collect()
        .await
        .expect("list");
    let mut all: Vec<ObjectVersion> = pages.into_iter().flatten().collect();
    all.sort_by(|a, b| {
        a.key
            .cmp(&b.key)
            .then(b.last_modified.cmp(&a.last_modified))
    });
    all
}

/// Keys of the current (live, not delete-marker) versions.
pub async fn live_keys(store: &S3Store, bucket: &str) -> Vec<String> {
    versions(store, bucket)
        .await
        .into_iter()
        .filter(|v| v.is_latest && !v.is_delete_marker)
        .map(|v| v.key)
        .collect()
}

/// A policy directory with the local Storage document and the given Policy documents.
pub struct PolicyDir {
    pub dir: tempfile::TempDir,
}

impl PolicyDir {
    pub fn new(policies: &str) -> PolicyDir {
        PolicyDir::with_storage_extra("", policies)
    }

    /// As `new`, with extra lines (indented 2) in the Storage spec. The Storage's provider is
    /// the backend's: `ceph` on Ceph, `generic` on moto.
    pub fn with_storage_extra(storage_extra: &str, policies: &str) -> PolicyDir {
        let dir = tempfile::tempdir().unwrap();
        let provider = if on_ceph() { "ceph" } else { "generic" };
        let storage = format!("apiVersion: shelflife.dev/v1\nkind: Storage\nmetadata: {{ name: local }}\nspec:\n  provider: {provider}\n  endpoint: ${{S3_ENDPOINT}}\n  pathStyle: true\n  retry: {{ maxAttempts: 2 }}\n{storage_extra}");
        std::fs::write(dir.path().join("storage.yaml"), storage).unwrap();
        std::fs::write(dir.path().join("policies.yaml"), policies).unwrap();
        PolicyDir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn load(&self) -> PolicySet {
        policy::load(&[self.path().to_path_buf()])
            .expect("valid policies")
            .set
    }
}

/// A Policy document over `bucket` with the given rules (YAML list items, indented 4).
pub fn policy_yaml(name: &str, bucket: &str, extra_spec: &str, rules: &str) -> String {
    format!(
        "apiVersion: shelflife.dev/v1\nkind: Policy\nmetadata: {{ name: {name} }}\nspec:\n  target: {{ storage: local, bucket: {bucket} }}\n{extra_spec}  rules:\n{rules}"
    )
}

/// The URL of the test's own database (the one `#[sqlx::test]` created for it).
pub fn database_url(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is not set: run the tests through scripts/test");
    let db = pool
        .connect_options()
        .get_database()
        .expect("test database name")
        .to_string();
    let (server, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL has a database path");
    format!("{server}/{db}")
}

/// Runs the built `shelflife` binary with the test's database and policy directory.
pub fn shelflife(pool: &PgPool, policies: &Path, args: &[&str]) -> Output {
    shelflife_with_env(pool, policies, args, &[])
}

pub fn shelflife_with_env(
    pool: &PgPool,
    policies: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Output {
    command(pool, policies, args, env)
        .output()
        .expect("run shelflife")
}

/// The `shelflife` command with the test's database and policies, to run or spawn.
pub fn command(
    pool: &PgPool,
    policies: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Command {
    let mut command = std::process::Command::new(binary());
    command
        .args(args)
        .env("DATABASE_URL", database_url(pool))
        .env("SHELFLIFE_POLICIES", policies)
        .env("SHELFLIFE_LOG", "warn")
        .env_remove("RUST_BACKTRACE");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_shelflife"))
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn describe(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

/// Scans `policy`'s target, fetching what its rules read beyond the listing.
pub async fn scan_policy(
    pool: &PgPool,
    store: &S3Store,
    policy: &shelflife::policy::Policy,
) -> shelflife::inventory::ScanSummary {
    let options = shelflife::inventory::ScanOptions {
        needs: policy.needs(),
        ..Default::default()
    };
    shelflife::inventory::scan(pool, store, &shelflife::plan::target_of(policy), &options)
        .await
        .expect("scan")
}

/// Scans `name`'s target and plans it as of now.
pub async fn scan_and_plan(
    pool: &PgPool,
    store: &S3Store,
    set: &PolicySet,
    name: &str,
) -> shelflife::plan::PlanSummary {
    let policy = set.policy(name).expect("policy");
    scan_policy(pool, store, policy).await;
    plan_at(pool, set, name, chrono::Utc::now()).await
}

/// Plans `name` over its latest snapshot as of `as_of`, with its storages' prices.
pub async fn plan_at(
    pool: &PgPool,
    set: &PolicySet,
    name: &str,
    as_of: chrono::DateTime<chrono::Utc>,
) -> shelflife::plan::PlanSummary {
    let policy = set.policy(name).expect("policy");
    let prices = shelflife::plan::Prices::for_policy(set, policy);
    shelflife::plan::create(pool, policy, &prices, as_of)
        .await
        .expect("plan")
}

/// The number of versions rule `rule` matched in `plan`.
pub fn objects(plan: &shelflife::plan::PlanSummary, rule: &str) -> i64 {
    plan.line(rule).map_or(0, |l| l.objects)
}

/// The keys of a plan line's samples, in order.
pub fn sample_keys(line: &shelflife::plan::ActionLine) -> Vec<&str> {
    line.samples.iter().map(|s| s.key.as_str()).collect()
}

/// Audit events of items (runs have their own `run.start` and `run.end` events).
pub const ITEM_EVENTS: &str = "SELECT count(*) FROM audit_events WHERE item_id IS NOT NULL";

/// The body of the current version of `key`.
pub async fn read(store: &dyn shelflife::storage::ObjectStore, bucket: &str, key: &str) -> Vec<u8> {
    use futures::TryStreamExt;
    let chunks: Vec<bytes::Bytes> = store
        .get(bucket, key, None)
        .await
        .expect("get")
        .try_collect()
        .await
        .expect("body");
    chunks.concat()
}

/// Uploads one small object per key, 16 at a time.
pub async fn seed(store: &S3Store, bucket: &str, keys: impl Iterator<Item = String>) {
    use futures::StreamExt;
    futures::stream::iter(keys)
        .for_each_concurrent(16, |key| async move {
            put(store, bucket, &key, "x").await;
        })
        .await;
}
