//! Access-log ingest and access-based decisions, against the real S3 server: log objects in
//! each format are written to a log bucket, `scan` reads each once (bad lines named with their
//! log object and line, the rest kept), and a grouped policy archives unread datasets whole,
//! keeps a read one whole, and decides nothing while the logs do not reach back far enough.

use crate::helpers::*;
use chrono::{DateTime, Duration, DurationRound, Utc};
use shelflife::access::generate::{line, log_object, Line, Verb};
use shelflife::access::LogFormat;
use shelflife::storage::s3::{BucketOptions, PutOptions, S3Store};
use sqlx::PgPool;

const FORMATS: [LogFormat; 4] = [
    LogFormat::S3,
    LogFormat::CloudTrail,
    LogFormat::RgwOps,
    LogFormat::MinioAudit,
];
const ODD: &str = "odd key/ü+%?#.bin";

fn run_ok(pool: &PgPool, dir: &PolicyDir, args: &[&str]) -> String {
    let out = shelflife(pool, dir.path(), args);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
    stdout(&out)
}

/// Runs `args`, which must succeed and say each of `said`.
fn says(pool: &PgPool, dir: &PolicyDir, args: &[&str], said: &[&str]) {
    let out = run_ok(pool, dir, args);
    for text in said {
        assert!(out.contains(text), "{args:?} does not say {text:?}:\n{out}");
    }
}

async fn put_log(store: &S3Store, bucket: &str, key: &str, body: Vec<u8>) {
    store
        .put_object(bucket, key, body, &PutOptions::default())
        .await
        .expect("put log object");
}

/// Writes `lines` as an S3 server access log object.
async fn put_s3_log(store: &S3Store, bucket: &str, key: &str, lines: &[Line]) {
    put_log(store, bucket, key, log_object(LogFormat::S3, lines, &[])).await;
}

/// A policy over `bucket` whose access logs are under `prefix` of `logs`.
fn access_policy(
    name: &str,
    bucket: &str,
    logs: &str,
    prefix: &str,
    format: &str,
    spec: &str,
    rules: &str,
) -> String {
    format!(
        "apiVersion: shelflife.dev/v1\nkind: Policy\nmetadata: {{ name: {name} }}\nspec:\n  target:\n    storage: local\n    bucket: {bucket}\n    access:\n      logs: {{ storage: local, bucket: {logs}, prefix: {prefix}, format: {format} }}\n      ignore: {{ requesters: [\"arn:aws:iam::123456789012:role/backup\"] }}\n{spec}  rules:\n{rules}---\n"
    )
}

/// The first log object of `bucket`: reads and what must not count as one.
fn first_log(bucket: &str, t0: DateTime<Utc>) -> Vec<Line> {
    let at = |minutes: i64| t0 + Duration::minutes(minutes);
    let mut own = line(Verb::Get, bucket, "hot/a", at(4));
    own.request.user_agent = Some("aws-sdk-rust/1.3 os/linux lang/rust app/shelflife".into());
    let mut backup = line(Verb::Get, bucket, "hot/a", at(5));
    backup.request.requester = Some("arn:aws:iam::123456789012:role/backup".into());
    let mut missing = line(Verb::Get, bucket, "cold/b", at(6));
    missing.status = 404;
    vec![
        line(Verb::Get, bucket, "hot/a", at(1)),
        line(Verb::Get, bucket, ODD, at(2)),
        line(Verb::Head, bucket, "hot/a", at(3)),
        line(Verb::Put, bucket, "cold/b", at(3)),
        own,
        backup,
        missing,
        line(Verb::Get, "another-bucket", "hot/a", at(7)),
    ]
}

/// Bad input for each format: one corrupt and one truncated line (CloudTrail: a record
/// without a bucket, and a document cut short in another log object).
fn bad_lines(format: LogFormat, bucket: &str, t0: DateTime<Utc>) -> (Vec<Line>, Vec<String>) {
    let good = shelflife::access::generate::text_line(
        if format == LogFormat::CloudTrail {
            LogFormat::S3
        } else {
            format
        },
        &line(Verb::Get, bucket, "hot/a", t0),
    );
    match format {
        LogFormat::CloudTrail => (vec![line(Verb::Get, "", "x", t0)], vec![]),
        _ => (
            vec![],
            vec!["}{ not a record".into(), good[..good.len() / 2].to_string()],
        ),
    }
}

#[sqlx::test]
async fn each_log_format_is_read_once_and_bad_lines_are_named(pool: PgPool) {
    let store = store().await;
    let logs = new_bucket(&store, "access-logs", BucketOptions::default()).await;
    let t0 = (Utc::now() - Duration::days(3))
        .duration_trunc(Duration::seconds(1))
        .unwrap();
    let mut policies = String::new();
    let mut buckets = Vec::new();
    for format in FORMATS {
        let bucket = new_bucket(&store, "access-data", BucketOptions::default()).await;
        put(&store, &bucket, "hot/a", "a").await;
        let name = format.as_str();
        let (extra, raw) = bad_lines(format, &bucket, t0);
        let mut lines = first_log(&bucket, t0);
        lines.extend(extra);
        let raw: Vec<&str> = raw.iter().map(String::as_str).collect();
        put_log(
            &store,
            &logs,
            &format!("{name}/2026-11-30-01"),
            log_object(format, &lines, &raw),
        )
        .await;
        // The other lane of the same batch reads hot/a too, the day before: summed in the merge.
        let later = [
            line(Verb::Get, &bucket, "cold/b", t0 + Duration::hours(2)),
            line(Verb::Get, &bucket, "hot/a", t0 - Duration::days(1)),
        ];
        put_log(
            &store,
            &logs,
            &format!("{name}/2026-11-30-02"),
            log_object(format, &later, &[]),
        )
        .await;
        if format == LogFormat::CloudTrail {
            let doc = log_object(format, &later[..1], &[]);
            let text = String::from_utf8(gunzip(&doc)).unwrap();
            put_log(
                &store,
                &logs,
                "cloudtrail/2026-11-30-03",
                text.as_bytes()[..text.len() - 20].to_vec(),
            )
            .await;
        }
        let keep = "    - { name: nothing, when: { key: { prefix: zzz/ } }, then: keep }\n";
        policies.push_str(&access_policy(
            &format!("p-{name}"),
            &bucket,
            &logs,
            &format!("{name}/"),
            name,
            "",
            keep,
        ));
        buckets.push((format, bucket));
    }
    let dir = PolicyDir::new(&policies);
    // An aggregate of two entries overflows at every third key: staged rows of the same key
    // are then grouped by the merge, with the same result.
    let tiny = [("SHELFLIFE_ACCESS_AGGREGATE_ENTRIES", "2")];
    let out = shelflife_with_env(&pool, dir.path(), &["scan"], &tiny);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let scanned = stdout(&out);
    for (format, bucket) in &buckets {
        let name = format.as_str();
        let objects = if *format == LogFormat::CloudTrail {
            3
        } else {
            2
        };
        let said =
            format!("({name}) for s3://{bucket}: {objects} log objects read (0 read before)");
        assert!(scanned.contains(&said), "{said}\n{scanned}");
        let reads: Vec<(String, DateTime<Utc>, i64)> = sqlx::query_as(
            "SELECT key, last_access, accesses FROM object_access WHERE bucket = $1 ORDER BY key",
        )
        .bind(bucket)
        .fetch_all(&pool)
        .await
        .unwrap();
        let expected = vec![
            ("cold/b".to_string(), t0 + Duration::hours(2), 1),
            ("hot/a".to_string(), t0 + Duration::minutes(3), 3),
            (ODD.to_string(), t0 + Duration::minutes(2), 1),
        ];
        assert_eq!(reads, expected, "{name}");
    }
    for bad in [
        "s3/2026-11-30-01 line 10: truncated record",
        "s3/2026-11-30-01 line 9: truncated record",
        "rgw-ops/2026-11-30-01 line 9: not JSON",
        "minio-audit/2026-11-30-01 line 10: not JSON",
        "cloudtrail/2026-11-30-01 line 9: no requestParameters.bucketName",
        "cloudtrail/2026-11-30-03 line 1: not a CloudTrail document",
    ] {
        assert!(scanned.contains(bad), "{bad}\n{scanned}");
    }
    // Read twice, counted once.
    says(
        &pool,
        &dir,
        &["scan"],
        &["0 log objects read (2 read before)"],
    );
    let total = count(&pool, "SELECT sum(accesses)::int8 FROM object_access").await;
    assert_eq!(total, 4 * 5);
    let (format, bucket) = &buckets[0];
    assert_eq!(*format, LogFormat::S3);
    let from =
        format!("(from s3://{logs}/s3/2026-11-30-01 line 3); reads in 7d/30d/90d/all: 3/3/3/3");
    says(
        &pool,
        &dir,
        &["explain", &format!("s3://{bucket}/hot/a")],
        &[&from],
    );
    says(
        &pool,
        &dir,
        &["locate", &format!("s3://{bucket}/{ODD}")],
        &["line 2); reads in"],
    );
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[sqlx::test]
async fn unread_datasets_are_archived_whole_and_read_ones_kept_whole(pool: PgPool) {
    let store = store().await;
    let data = new_bucket(&store, "datasets", BucketOptions::default()).await;
    let archive = new_bucket(&store, "datasets-archive", BucketOptions::default()).await;
    let logs = new_bucket(&store, "datasets-logs", BucketOptions::default()).await;
    let members = [
        "datasets/cats/a.bin",
        "datasets/cats/b.bin",
        "datasets/cats/sub/c.bin",
        "datasets/dogs/a.bin",
        "datasets/dogs/b.bin",
        "datasets/birds/a.bin",
        "datasets/birds/b.pin",
        "loose.bin",
    ];
    for key in members {
        put(&store, &data, key, key).await;
    }
    let written = versions(&store, &data).await[0].last_modified;
    // The logs begin just after the data was written: one read of one dog.
    let start = written + Duration::seconds(1);
    let recent = [
        line(Verb::Put, &data, "datasets/fish/new.bin", start),
        line(
            Verb::Get,
            &data,
            "datasets/dogs/b.bin",
            start + Duration::seconds(1),
        ),
    ];
    put_s3_log(&store, &logs, "s3/2026-12-06-02", &recent).await;
    let rules = "    - { name: pinned, when: { key: { suffix: .pin } }, then: keep }\n    - name: archive-unread\n      when: { accessed: { notWithin: 1d } }\n      then: { archive: { bucket: ARCHIVE, force: true } }\n"
        .replace("ARCHIVE", &archive);
    let group = "  group: { pattern: \"datasets/{name}/\" }\n";
    let dir = PolicyDir::new(&access_policy(
        "datasets", &data, &logs, "s3/", "s3", group, &rules,
    ));
    let plan = |dir: &PolicyDir| {
        let out = run_ok(
            &pool,
            dir,
            &["plan", "--policy", "datasets", "--format", "json"],
        );
        let v: serde_json::Value = serde_json::from_str(&out).expect("JSON plan");
        v["plans"][0].clone()
    };
    run_ok(&pool, &dir, &["scan"]);

    // Nothing unread is known yet: the logs do not reach back over the day before the plan
    // (the pinned bird is kept whatever its reads; the dogs were read).
    let early = plan(&dir);
    assert_eq!(early["access_unknown"], 5, "{early:#}");
    assert_eq!(early["groups"]["changed"], 0, "{early:#}");
    says(
        &pool,
        &dir,
        &["plan", "--policy", "datasets"],
        &["5 versions access unknown"],
    );

    // An older log object arrives: the history now covers the day, and the writes.
    let older = [
        line(
            Verb::Get,
            "another-bucket",
            "x",
            written - Duration::days(2),
        ),
        line(
            Verb::Get,
            &data,
            "datasets/dogs/b.bin",
            written - Duration::days(1),
        ),
    ];
    put_s3_log(&store, &logs, "s3/2026-12-04-23", &older).await;
    run_ok(&pool, &dir, &["scan"]);
    // Merged into the row the first scan wrote: two reads, on two days, the later one kept.
    let (reads, days): (i64, i64) = sqlx::query_as(
        "SELECT accesses, (SELECT count(*) FROM jsonb_object_keys(days)) FROM object_access \
         WHERE key = 'datasets/dogs/b.bin'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((reads, days), (2, 2));
    let p = plan(&dir);
    assert_eq!(p["access_unknown"], 0, "{p:#}");
    let groups = &p["groups"];
    assert_eq!(
        (
            groups["groups"].as_i64(),
            groups["changed"].as_i64(),
            groups["held"].as_i64()
        ),
        (Some(3), Some(1), Some(1)),
        "{p:#}"
    );
    let cats = groups["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "datasets/cats/")
        .unwrap();
    assert_eq!(
        (cats["members"].as_i64(), cats["rule"].as_str()),
        (Some(3), Some("archive-unread"))
    );
    let birds = groups["samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group"] == "datasets/birds/")
        .unwrap();
    assert_eq!(
        birds["held_by"], "datasets/birds/b.pin is kept by rule pinned",
        "{p:#}"
    );
    // Three cats and the loose object (decided alone); no dog, no bird.
    assert_eq!(objects_of(&p, "archive-unread"), 4, "{p:#}");
    let groups = "groups (datasets/{name}/): 3 groups, 1 changed whole, 1 held whole";
    says(&pool, &dir, &["plan", "--policy", "datasets"], &[groups]);
    let dogs = format!("s3://{data}/datasets/dogs/");
    let kept = [
        "group datasets/dogs/: 2 members",
        "decision: no rule changes it",
    ];
    says(&pool, &dir, &["explain", &dogs], &kept);
    let bird = format!("s3://{data}/datasets/birds/a.bin");
    says(
        &pool,
        &dir,
        &["explain", &bird],
        &["decision: held (archive by rule archive-unread)"],
    );

    let id = p["plan_id"].as_i64().unwrap().to_string();
    run_ok(&pool, &dir, &["apply", "--plan", &id, "--yes"]);
    let mut left = live_keys(&store, &data).await;
    left.sort();
    assert_eq!(
        left,
        [
            "datasets/birds/a.bin",
            "datasets/birds/b.pin",
            "datasets/dogs/a.bin",
            "datasets/dogs/b.bin"
        ]
    );
    let mut archived = live_keys(&store, &archive).await;
    archived.sort();
    assert_eq!(
        archived,
        [
            "datasets/cats/a.bin",
            "datasets/cats/b.bin",
            "datasets/cats/sub/c.bin",
            "loose.bin"
        ]
    );
}

fn objects_of(plan: &serde_json::Value, rule: &str) -> i64 {
    let lines = plan["actions"].as_array().expect("actions");
    let line = lines
        .iter()
        .find(|l| l["rule"] == rule)
        .expect("the rule's line");
    line["objects"].as_i64().unwrap()
}

/// A client of the test's S3 server that is not shelflife's (no `app/shelflife` in its user
/// agent), as a training job's would be.
async fn foreign_client() -> aws_sdk_s3::Client {
    use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let config = aws_sdk_s3::config::Builder::from(&shared)
        .endpoint_url(s3_endpoint())
        .force_path_style(true)
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

/// Reads the gateway's ops-log socket until told to stop; what it streamed.
fn ops_log_reader(
    mut stream: tokio::net::UnixStream,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Vec<u8>>,
) {
    use tokio::io::AsyncReadExt;
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut buf = Vec::new();
        loop {
            tokio::select! {
                read = stream.read_buf(&mut buf) => if !matches!(read, Ok(n) if n > 0) { break },
                _ = &mut stopped => break,
            }
        }
        buf
    });
    (stop, task)
}

#[sqlx::test]
async fn the_gateways_own_ops_log_is_read(pool: PgPool) {
    // Only Ceph's RADOS Gateway writes an ops log (scripts/ceph streams it to a socket).
    let Some(socket) = std::env::var_os("SHELFLIFE_RGW_OPS_LOG").filter(|_| on_ceph()) else {
        return;
    };
    let store = store().await;
    let data = new_bucket(&store, "opslog-data", BucketOptions::default()).await;
    let logs = new_bucket(&store, "opslog-logs", BucketOptions::default()).await;
    put(&store, &data, "hot/a", "a").await;
    put(&store, &data, ODD, "odd").await;
    let stream = tokio::net::UnixStream::connect(&socket)
        .await
        .expect("the ops-log socket scripts/ceph configures");
    let (stop, reader) = ops_log_reader(stream);
    let client = foreign_client().await;
    let get = |key: &str| client.get_object().bucket(&data).key(key).send();
    get("hot/a")
        .await
        .expect("get")
        .body
        .collect()
        .await
        .expect("body");
    client
        .head_object()
        .bucket(&data)
        .key(ODD)
        .send()
        .await
        .expect("head");
    get(ODD)
        .await
        .expect("get")
        .body
        .collect()
        .await
        .expect("body");
    assert!(get("missing").await.is_err(), "a 404 is no read");
    read(&store, &data, "hot/a").await; // shelflife's own read: not counted
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let _ = stop.send(());
    let streamed = String::from_utf8(reader.await.unwrap()).expect("UTF-8 entries");
    // Other tests share the gateway: keep this bucket's entries, as the gateway wrote them.
    let ours: String = streamed
        .lines()
        .filter(|l| l.contains(&format!("\"bucket\":\"{data}\"")))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(ours.contains("\"operation\":\"get_obj\""), "{streamed}");
    put_log(&store, &logs, "rgw/ops.log", ours.into_bytes()).await;
    let keep = "    - { name: nothing, when: { key: { prefix: zzz/ } }, then: keep }\n";
    let dir = PolicyDir::new(&access_policy(
        "ops", &data, &logs, "rgw/", "rgw-ops", "", keep,
    ));
    let scanned = run_ok(&pool, &dir, &["scan"]);
    assert!(
        scanned.contains("1 log objects read (0 read before)") && scanned.contains(", 0 bad lines"),
        "{scanned}"
    );
    let reads: Vec<(String, i64)> =
        sqlx::query_as("SELECT key, accesses FROM object_access ORDER BY key")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(reads, [("hot/a".to_string(), 1), (ODD.to_string(), 2)]);
}

/// The first block of `kind` (`yaml`, `sh`) in the README's section on access logs.
fn readme_block(kind: &str) -> String {
    let readme =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
            .unwrap();
    let section = readme
        .split("## Stale means unread")
        .nth(1)
        .expect("the README has the section");
    section
        .split(&format!("```{kind}\n"))
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the block")
        .to_string()
}

/// The README's policy and command lines, run against fresh buckets and generated logs.
#[sqlx::test]
async fn the_readme_example_of_access_logs_runs(pool: PgPool) {
    let store = store().await;
    let data = new_bucket(&store, "training-data", BucketOptions::default()).await;
    let logs = new_bucket(&store, "access-logs", BucketOptions::default()).await;
    let cold = new_bucket(&store, "cold-datasets", BucketOptions::default()).await;
    for key in [
        "datasets/imagenet-mini/train.tar",
        "datasets/imagenet-mini/val.tar",
        "datasets/cc-news/a.jsonl",
        "datasets/cc-news/b.jsonl",
        "datasets/benchmarks/mmlu.jsonl",
    ] {
        put(&store, &data, key, key).await;
    }
    let now = Utc::now();
    let old = [line(
        Verb::Get,
        &data,
        "datasets/benchmarks/mmlu.jsonl",
        now - Duration::days(200),
    )];
    let recent = [line(
        Verb::Get,
        &data,
        "datasets/cc-news/a.jsonl",
        now - Duration::days(10),
    )];
    for (name, lines) in [
        ("2026-05-20-00-00-00-A1B2", &old),
        ("2026-11-26-00-00-00-C3D4", &recent),
    ] {
        put_s3_log(&store, &logs, &format!("{data}/{name}"), lines).await;
    }
    let mine = |text: &str| {
        text.replace("training-data", &data)
            .replace("access-logs", &logs)
            .replace("cold-datasets", &cold)
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policies.yaml"),
        mine(&readme_block("yaml")),
    )
    .unwrap();
    let mut outputs = Vec::new();
    for command in readme_block("sh")
        .lines()
        .filter(|l| l.starts_with("shelflife "))
    {
        let command = mine(command.split(" #").next().unwrap());
        let args: Vec<&str> = command.split_whitespace().skip(1).collect();
        let out = shelflife(&pool, dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", describe(&out));
        outputs.push(stdout(&out));
    }
    assert_eq!(outputs.len(), 4);
    assert!(
        outputs[0].contains("2 log objects read (0 read before)"),
        "{}",
        outputs[0]
    );
    assert!(
        outputs[1].contains("3 groups, 1 changed whole, 0 held whole"),
        "{}",
        outputs[1]
    );
    assert!(
        outputs[2].contains("rule archive-unread changes all its members"),
        "{}",
        outputs[2]
    );
    let mut archived = live_keys(&store, &cold).await;
    archived.sort();
    assert_eq!(
        archived,
        [
            "datasets/imagenet-mini/train.tar",
            "datasets/imagenet-mini/val.tar"
        ]
    );
    assert_eq!(live_keys(&store, &data).await.len(), 3);
}

/// Killed at several moments of an ingest (kill -9) and run again: every read is counted once,
/// since a batch of log objects and its reads commit together or not at all.
#[sqlx::test]
async fn an_ingest_killed_midway_counts_every_read_once_when_run_again(pool: PgPool) {
    let store = store().await;
    let data = new_bucket(&store, "killed-data", BucketOptions::default()).await;
    let logs = new_bucket(&store, "killed-logs", BucketOptions::default()).await;
    let t0 = (Utc::now() - Duration::days(1))
        .duration_trunc(Duration::seconds(1))
        .unwrap();
    // 150 log objects: three batches (64, 64, 22), two reads each.
    for i in 0..150 {
        let at = t0 + Duration::seconds(i);
        let lines = [
            line(Verb::Get, &data, &format!("k/{}", i % 10), at),
            line(Verb::Head, &data, &format!("k/{}", (i + 1) % 10), at),
        ];
        put_s3_log(&store, &logs, &format!("s3/{i:04}"), &lines).await;
    }
    let keep = "    - { name: nothing, when: { key: { prefix: zzz/ } }, then: keep }\n";
    let dir = PolicyDir::new(&access_policy(
        "killed", &data, &logs, "s3/", "s3", "", keep,
    ));
    for ms in [150, 400, 700, 1000] {
        let mut child = command(&pool, dir.path(), &["scan"], &[])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn scan");
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        let _ = child.kill();
        let _ = child.wait();
    }
    run_ok(&pool, &dir, &["scan"]);
    let logged = count(&pool, "SELECT count(*) FROM access_logs").await;
    let reads = count(&pool, "SELECT sum(reads)::int8 FROM access_logs").await;
    let counted = count(&pool, "SELECT sum(accesses)::int8 FROM object_access").await;
    assert_eq!((logged, reads, counted), (150, 300, 300));
    let per_day = "SELECT sum(n::int8)::int8 FROM object_access, jsonb_each_text(days) e(d, n)";
    assert_eq!(count(&pool, per_day).await, 300);
}
