//! S3 Inventory reports as a scan source, generated in the real layout and formats and stored
//! on the local S3 server: CSV.gz and Parquet ingest to the same inventory as a live listing,
//! odd keys round-trip, a corrupt data file is rejected with nothing replaced, and the newest
//! complete report is the one read.

use crate::helpers::*;
use chrono::{Duration, TimeZone, Utc};
use shelflife::inventory::report::generate::{self, Publish, ReportRow};
use shelflife::inventory::report::{Format, ReportError, ReportSource};
use shelflife::inventory::{self, LockState, ScanError, ScanOptions, ScanTarget};
use shelflife::storage::s3::{BucketOptions, S3Store};
use shelflife::storage::ObjectVersion;
use sqlx::PgPool;

/// Keys with spaces, unicode, `%`, `+`, URL-encoded look-alikes, quotes and commas.
const ODD_KEYS: [&str; 8] = [
    "with space.txt",
    "ünï/cødé 🚀.bin",
    "100%/done",
    "a%20b",
    "plus+sign",
    "quote\"comma,semi;",
    "tab\there",
    "dir/sub dir/x",
];

fn target(bucket: &str) -> ScanTarget {
    ScanTarget {
        storage: "local".into(),
        bucket: bucket.into(),
        prefixes: vec![String::new()],
    }
}

type Row = (
    String,
    Option<String>,
    bool,
    bool,
    i64,
    Option<String>,
    chrono::DateTime<Utc>,
    Option<String>,
);

/// A snapshot's rows, in a stable order, without the listing position.
async fn snapshot(pool: &PgPool, scan_id: i64) -> Vec<Row> {
    sqlx::query_as(
        "SELECT key, version_id, is_latest, is_delete_marker, size, etag, last_modified, storage_class \
         FROM inventory WHERE scan_id = $1 ORDER BY key COLLATE \"C\", version_id",
    )
    .bind(scan_id)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A versioned bucket with odd keys, noncurrent versions and a delete marker.
async fn source_bucket(store: &S3Store) -> String {
    let bucket = new_bucket(store, "report-src", BucketOptions::VERSIONED).await;
    for key in ODD_KEYS {
        put(store, &bucket, key, "first").await;
    }
    put(store, &bucket, "plus+sign", "second").await;
    delete(store, &bucket, "a%20b", None).await;
    bucket
}

/// What S3 Inventory would report for `bucket`: its versions, one of them locked.
async fn report_rows(store: &S3Store, bucket: &str) -> Vec<ReportRow> {
    let until = Utc.with_ymd_and_hms(2033, 1, 1, 0, 0, 0).unwrap();
    versions(store, bucket)
        .await
        .into_iter()
        .map(|version| {
            let locked = version.key == "with space.txt";
            ReportRow {
                lock: LockState {
                    mode: locked.then(|| "COMPLIANCE".to_string()),
                    retain_until: locked.then_some(until),
                    legal_hold: Some(false),
                },
                version,
            }
        })
        .collect()
}

/// Writes `rows` in `format`, split into two data files.
fn data_files(format: Format, source: &str, rows: &[ReportRow]) -> Vec<(String, Vec<u8>)> {
    let half = rows.len() / 2;
    [&rows[..half], &rows[half..]]
        .iter()
        .enumerate()
        .map(|(n, part)| match format {
            Format::CsvGz => (
                format!("part-{n}.csv.gz"),
                generate::write_csv_gz(Vec::new(), source, part.to_vec()).unwrap(),
            ),
            Format::Parquet => (
                format!("part-{n}.parquet"),
                generate::write_parquet(Vec::new(), source, part.to_vec(), 3).unwrap(),
            ),
        })
        .collect()
}

async fn publish(
    store: &S3Store,
    reports: &str,
    prefix: &str,
    source: &str,
    taken: chrono::DateTime<Utc>,
    format: Format,
    rows: &[ReportRow],
) -> String {
    let publish = Publish {
        store,
        bucket: reports,
        prefix,
        source_bucket: source,
        taken,
        format,
    };
    publish
        .upload(data_files(format, source, rows), |_| {})
        .await
        .unwrap()
}

async fn scan_reports(
    pool: &PgPool,
    store: &S3Store,
    source: &str,
    reports: &str,
    prefix: &str,
) -> Result<inventory::ScanSummary, ScanError> {
    let location = ReportSource {
        store,
        bucket: reports,
        prefix,
    };
    inventory::scan_report(
        pool,
        store,
        &target(source),
        &location,
        &ScanOptions::default(),
    )
    .await
}

/// A source bucket with odd keys, a bucket for its reports, the rows S3 would report, and the
/// folder of one inventory configuration.
struct Fixture {
    store: S3Store,
    source: String,
    reports: String,
    rows: Vec<ReportRow>,
    prefix: String,
}

async fn fixture() -> Fixture {
    let store = store().await;
    let source = source_bucket(&store).await;
    let reports = new_bucket(&store, "reports", BucketOptions::default()).await;
    let rows = report_rows(&store, &source).await;
    let prefix = format!("inv/{source}/daily");
    Fixture {
        store,
        source,
        reports,
        rows,
        prefix,
    }
}

#[sqlx::test]
async fn csv_and_parquet_reports_ingest_to_the_live_listing_inventory(pool: PgPool) {
    let store = store().await;
    let source = source_bucket(&store).await;
    let reports = new_bucket(&store, "reports", BucketOptions::default()).await;
    let rows = report_rows(&store, &source).await;
    let listed = inventory::scan(&pool, &store, &target(&source), &ScanOptions::default())
        .await
        .unwrap();
    let expected = snapshot(&pool, listed.scan_id).await;
    assert_eq!(
        expected.len(),
        ODD_KEYS.len() + 2,
        "one noncurrent version, one delete marker"
    );

    let day = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    let mut inventories = Vec::new();
    for (n, format) in [Format::CsvGz, Format::Parquet].into_iter().enumerate() {
        let prefix = format!("inv/{source}/config-{n}");
        publish(&store, &reports, &prefix, &source, day, format, &rows).await;
        let summary = scan_reports(&pool, &store, &source, &reports, &prefix)
            .await
            .unwrap();
        assert_eq!(summary.versions, expected.len() as i64, "{format:?}");
        inventories.push(snapshot(&pool, summary.scan_id).await);
        let (mode, until, known): (Option<String>, Option<chrono::DateTime<Utc>>, bool) =
            sqlx::query_as("SELECT lock_mode, retain_until, lock_known FROM inventory WHERE scan_id = $1 AND key = 'with space.txt'")
                .bind(summary.scan_id)
                .fetch_one(&pool)
                .await
                .unwrap();
        assert_eq!(
            (mode.as_deref(), known),
            (Some("COMPLIANCE"), true),
            "{format:?}"
        );
        assert_eq!(until, rows.iter().find_map(|r| r.lock.retain_until));
    }
    assert_eq!(inventories[0], expected, "CSV.gz equals the live listing");
    assert_eq!(inventories[1], expected, "Parquet equals the live listing");
}

#[sqlx::test]
async fn keys_a_listing_cannot_hold_round_trip_through_both_formats(pool: PgPool) {
    let store = store().await;
    let source = unique_bucket("report-odd");
    let reports = new_bucket(&store, "reports", BucketOptions::default()).await;
    let when = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
    let keys = [
        "line\nbreak",
        "cr\rreturn",
        "%2F%25+",
        " lead and trail ",
        "日本語/キー",
    ];
    let rows: Vec<ReportRow> = keys
        .iter()
        .map(|k| ReportRow {
            version: ObjectVersion {
                key: k.to_string(),
                version_id: None,
                is_latest: true,
                is_delete_marker: false,
                size: 1,
                etag: Some("\"e\"".into()),
                last_modified: when,
                storage_class: Some("STANDARD".into()),
            },
            lock: LockState::default(),
        })
        .collect();
    for (n, format) in [Format::CsvGz, Format::Parquet].into_iter().enumerate() {
        let prefix = format!("odd-{n}");
        publish(&store, &reports, &prefix, &source, when, format, &rows).await;
        let summary = scan_reports(&pool, &store, &source, &reports, &prefix)
            .await
            .unwrap();
        let mut got: Vec<String> = snapshot(&pool, summary.scan_id)
            .await
            .into_iter()
            .map(|r| r.0)
            .collect();
        let mut want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{format:?}");
    }
}

#[sqlx::test]
async fn a_data_file_whose_md5_does_not_match_is_rejected_and_nothing_is_replaced(pool: PgPool) {
    let Fixture {
        store,
        source,
        reports,
        rows,
        prefix,
    } = fixture().await;
    let day = Utc.with_ymd_and_hms(2026, 11, 19, 0, 0, 0).unwrap();
    publish(
        &store,
        &reports,
        &prefix,
        &source,
        day,
        Format::CsvGz,
        &rows,
    )
    .await;
    let good = scan_reports(&pool, &store, &source, &reports, &prefix)
        .await
        .unwrap();

    let newer = Publish {
        store: &store,
        bucket: &reports,
        prefix: &prefix,
        source_bucket: &source,
        taken: day + Duration::days(1),
        format: Format::CsvGz,
    };
    newer
        .upload(data_files(Format::CsvGz, &source, &rows[..3]), |m| {
            m.files[1].md5 = "0123456789abcdef0123456789abcdef".into();
        })
        .await
        .unwrap();
    let err = scan_reports(&pool, &store, &source, &reports, &prefix)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ScanError::Report(ReportError::Checksum { file, .. }) if file.ends_with("part-1.csv.gz")),
        "{err}"
    );
    assert!(err.to_string().contains("MD5 checksum mismatch"), "{err}");
    let latest = inventory::latest_snapshot(&pool, &target(&source))
        .await
        .unwrap();
    assert_eq!(
        latest.map(|s| (s.scan_id, s.objects)),
        Some((good.scan_id, rows.len() as i64)),
        "the good snapshot stays current"
    );
    let rows_of_bad_file: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM scan_partitions WHERE kind = 'file' AND name LIKE '%part-1.csv.gz' AND done AND scan_id <> $1",
    )
    .bind(good.scan_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        rows_of_bad_file, 0,
        "the corrupt file is not recorded as ingested"
    );
}

#[sqlx::test]
async fn the_newest_complete_report_is_read(pool: PgPool) {
    let Fixture {
        store,
        source,
        reports,
        rows,
        prefix,
    } = fixture().await;
    let day = Utc.with_ymd_and_hms(2026, 11, 18, 0, 0, 0).unwrap();
    publish(
        &store,
        &reports,
        &prefix,
        &source,
        day,
        Format::CsvGz,
        &rows[..2],
    )
    .await;
    let newest = publish(
        &store,
        &reports,
        &prefix,
        &source,
        day + Duration::days(1),
        Format::Parquet,
        &rows,
    )
    .await;
    // A newer report still being delivered: data, but no manifest yet.
    put(
        &store,
        &reports,
        &format!("{prefix}/2026-11-20T00-00Z/manifest.checksum"),
        "x",
    )
    .await;

    let summary = scan_reports(&pool, &store, &source, &reports, &prefix)
        .await
        .unwrap();
    assert_eq!(summary.versions, rows.len() as i64);
    let read: Option<String> = sqlx::query_scalar("SELECT report FROM scans WHERE id = $1")
        .bind(summary.scan_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(read.as_deref(), Some(newest.as_str()));

    let err = scan_reports(&pool, &store, &source, &reports, "inv/elsewhere")
        .await
        .unwrap_err();
    assert!(
        matches!(err, ScanError::Report(ReportError::NoReport { .. })),
        "{err}"
    );
    let wrong_bucket = scan_reports(&pool, &store, "another-bucket", &reports, &prefix)
        .await
        .unwrap_err();
    assert!(
        wrong_bucket.to_string().contains("describes bucket"),
        "{wrong_bucket}"
    );
}
