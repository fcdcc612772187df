//! `report`: CSV and JSON Lines that round-trip every field, a manifest whose hashes match,
//! filters and ranges, and an HTML page that opens in headless Chromium without console errors.

use crate::helpers::*;
use sha2::{Digest, Sha256};
use shelflife::audit::{self, NewEvent, Outcome, StoredEvent};
use sqlx::PgPool;
use std::path::Path;

/// Keys an export must carry unchanged: commas, quotes, line breaks, unicode, markup.
const KEYS: [&str; 6] = [
    "plain/key.json",
    "comma,and \"quotes\"",
    "line\nbreak\r\nand\ttab",
    "ünïcødé/日本語/🚀.bin",
    "<script>alert(1)</script>&amp;",
    "trailing space ",
];

fn event(n: usize, key: &str, policy: &str, outcome: Outcome) -> NewEvent {
    let eligible = serde_json::json!({ "eligible_at": "2027-01-02T03:04:05.000000Z" });
    NewEvent {
        run_id: Some(7),
        plan_id: Some(3),
        item_id: Some(n as i64 + 1),
        policy: policy.into(),
        policy_sha256: "ab".repeat(32),
        rule: "expire, \"old\"".into(),
        action: "delete".into(),
        storage: "local".into(),
        bucket: "bucket-a".into(),
        key: key.into(),
        version_id: (n % 2 == 0).then(|| format!("v{n}")),
        size: 1000 * n as i64,
        outcome,
        reason: (outcome == Outcome::Blocked).then(|| "retention until 2027-01-02, \"x\"\n".into()),
        state_before: serde_json::json!({ "storage_class": "STANDARD", "note": "a,b\n\"c\"" })
            .into(),
        state_after: if outcome == Outcome::Blocked {
            eligible
        } else {
            serde_json::json!({})
        }
        .into(),
        policy_revision: Some("3f2c1e0+dirty".into()),
        clock: Some(chrono::Utc::now()),
        worker: Some("host-ü:42".into()),
    }
}

async fn seed(pool: &PgPool) {
    let events: Vec<NewEvent> = KEYS
        .iter()
        .enumerate()
        .map(|(n, key)| {
            let outcome = if n == 4 {
                Outcome::Blocked
            } else {
                Outcome::Done
            };
            let policy = if n < 4 { "logs" } else { "models" };
            event(n, key, policy, outcome)
        })
        .collect();
    let mut tx = pool.begin().await.unwrap();
    audit::append(&mut tx, &events).await.unwrap();
    tx.commit().await.unwrap();
}

async fn stored(pool: &PgPool, filter: &str) -> Vec<StoredEvent> {
    let sql = format!(
        "SELECT {} FROM audit_events {filter} ORDER BY seq",
        StoredEvent::COLUMNS
    );
    sqlx::query_as(&sql).fetch_all(pool).await.unwrap()
}

fn report(pool: &PgPool, out: &Path, extra: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["report", "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    shelflife(pool, dir.path(), &args)
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

/// Parses the CSV back, with the documented rules (an empty field is NULL).
fn read_csv(path: &Path) -> Vec<StoredEvent> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header.join(", "), StoredEvent::COLUMNS);
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            let object: serde_json::Map<String, serde_json::Value> = header
                .iter()
                .zip(record.iter())
                .map(|(name, field)| (name.clone(), csv_value(name, field)))
                .collect();
            serde_json::from_value(object.into()).unwrap()
        })
        .collect()
}

fn csv_value(column: &str, field: &str) -> serde_json::Value {
    match column {
        _ if field.is_empty() && column != "key" => serde_json::Value::Null,
        "seq" | "run_id" | "plan_id" | "item_id" | "size" => field.parse::<i64>().unwrap().into(),
        "state_before" | "state_after" => serde_json::from_str(field).unwrap(),
        _ => field.into(),
    }
}

#[sqlx::test]
async fn csv_and_jsonl_round_trip_every_field_and_the_manifest_hashes_the_files(pool: PgPool) {
    seed(&pool).await;
    let out = tempfile::tempdir().unwrap();
    let run = report(&pool, out.path(), &[]);
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    let expected = stored(&pool, "").await;
    assert_eq!(expected.len(), KEYS.len());

    let from_csv = read_csv(&out.path().join("events.csv"));
    assert_eq!(from_csv, expected);
    let jsonl = std::fs::read_to_string(out.path().join("events.jsonl")).unwrap();
    let from_jsonl: Vec<StoredEvent> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(from_jsonl, expected);
    // The exported rows are evidence on their own: each hashes to its stored hash.
    for e in &from_csv {
        assert_eq!(e.recomputed_hash().as_deref(), Some(e.hash.as_str()));
    }

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 3, "{manifest}");
    for file in files {
        let path = out.path().join(file["name"].as_str().unwrap());
        assert_eq!(file["sha256"], sha256_of(&path), "{file}");
        assert_eq!(file["bytes"], std::fs::metadata(&path).unwrap().len());
    }
    assert_eq!(files[0]["rows"], 6);
    assert_eq!(manifest["rows"]["events"], 6);
    assert_eq!(manifest["rows"]["by_outcome"]["blocked"], 1);
    assert_eq!(manifest["chain"]["head_seq"], 6);
    assert_eq!(manifest["chain"]["head_hash"], expected[5].hash.as_str());
    assert_eq!(manifest["verification"]["chain"], "intact");
    assert_eq!(manifest["tool"], "shelflife");
    assert!(manifest["version"].is_string());
}

#[sqlx::test]
async fn filters_and_ranges_select_events_and_the_manifest_records_them(pool: PgPool) {
    seed(&pool).await;
    let out = tempfile::tempdir().unwrap();
    let run = report(
        &pool,
        out.path(),
        &["--policy", "models", "--format", "jsonl"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    let lines = std::fs::read_to_string(out.path().join("events.jsonl")).unwrap();
    let keys: Vec<String> = lines
        .lines()
        .map(|l| serde_json::from_str::<StoredEvent>(l).unwrap().key)
        .collect();
    assert_eq!(keys, KEYS[4..]);
    assert!(!out.path().join("events.csv").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["filters"]["policies"],
        serde_json::json!(["models"])
    );
    assert_eq!(manifest["chain"]["first_seq"], 5);

    let out = tempfile::tempdir().unwrap();
    let run = report(
        &pool,
        out.path(),
        &["--until", "-1h", "--bucket", "bucket-a"],
    );
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    let csv = std::fs::read_to_string(out.path().join("events.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1, "only the header: {csv}");
    let bad = report(&pool, out.path(), &["--since", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(2), "{}", describe(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since"));
    let empty = tempfile::tempdir().unwrap();
    let inverted = report(
        &pool,
        empty.path(),
        &["--since", "2026-12-01", "--until", "2026-01-01"],
    );
    assert_eq!(inverted.status.code(), Some(2), "{}", describe(&inverted));
    assert!(String::from_utf8_lossy(&inverted.stderr).contains("is not before --until"));
    assert!(!empty.path().join("manifest.json").exists());
}

#[sqlx::test]
async fn a_report_of_a_tampered_chain_says_so_and_exits_2(pool: PgPool) {
    seed(&pool).await;
    sqlx::raw_sql(
        "ALTER TABLE audit_events DISABLE TRIGGER USER; \
         UPDATE audit_events SET size = 1 WHERE seq = 3; \
         ALTER TABLE audit_events ENABLE TRIGGER USER;",
    )
    .execute(&pool)
    .await
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let run = report(&pool, out.path(), &["--format", "html"]);
    assert_eq!(run.status.code(), Some(2), "{}", describe(&run));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["verification"]["chain"], "broken");
    let html = std::fs::read_to_string(out.path().join("report.html")).unwrap();
    assert!(html.contains("BROKEN at seq 3"), "{html}");
}

#[sqlx::test]
async fn the_html_report_opens_in_headless_chromium_without_console_errors(pool: PgPool) {
    seed(&pool).await;
    let out = tempfile::tempdir().unwrap();
    let run = report(&pool, out.path(), &["--format", "html"]);
    assert_eq!(run.status.code(), Some(0), "{}", describe(&run));
    let page = out.path().join("report.html");
    let shot = out.path().join("report.png");
    let (console, dom) = chromium(&page, &shot);
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert_eq!(dom.matches("<svg").count(), 2, "two charts");
    assert!(dom.matches("<rect").count() >= 3, "bars drawn");
    assert!(!dom.contains("<script"), "keys are escaped, never markup");
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp;"));
    assert!(
        dom.contains("2027-01-02T03:04:05"),
        "blocked item with its eligible date"
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a rendered page"
    );
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    std::fs::copy(&shot, kept).unwrap();
}

/// Opens `page` headless: the console lines it logged, its DOM, and a screenshot at `shot`.
fn chromium(page: &Path, shot: &Path) -> (Vec<String>, String) {
    let binary = Path::new("/usr/bin/chromium");
    assert!(
        binary.exists(),
        "Debian's chromium is missing: scripts/test installs it"
    );
    let profile = tempfile::tempdir().unwrap();
    let run = |extra: &[String]| {
        std::process::Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1100,1500",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("run chromium")
    };
    let shot_run = run(&[format!("--screenshot={}", shot.display())]);
    assert!(shot_run.status.success(), "{}", describe(&shot_run));
    let dom_run = run(&["--dump-dom".to_string()]);
    assert!(dom_run.status.success(), "{}", describe(&dom_run));
    let console = [&shot_run.stderr, &dom_run.stderr]
        .iter()
        .flat_map(|e| {
            String::from_utf8_lossy(e)
                .lines()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .filter(|l| l.contains(":CONSOLE") || l.contains("Refused to"))
        .collect();
    (console, stdout(&dom_run))
}
