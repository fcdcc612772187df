//! `shelflife serve`: fires a due policy on its schedule, exposes /healthz, /readyz and
//! /metrics, and on SIGTERM finishes the batches in hand and exits 0 with nothing lost.

use crate::helpers::*;
use shelflife::storage::s3::BucketOptions;
use sqlx::PgPool;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const RULES: &str = "    - name: drop\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";

fn every_minute(name: &str, bucket: &str) -> String {
    policy_yaml(name, bucket, "  schedule: \"* * * * *\"\n", RULES)
}

/// Starts `serve` on a free port; returns the process and its address.
fn serve(pool: &PgPool, dir: &std::path::Path, extra: &[&str]) -> (Child, String) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--tick", "1"];
    args.extend_from_slice(extra);
    let mut child = command(pool, dir, &args, &[("SHELFLIFE_LOG", "info")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("serving on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    (child, addr)
}

/// GET `path`: (status code, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn terminate(child: &Child) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[sqlx::test]
async fn serve_fires_a_due_policy_and_shows_it_in_metrics(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "serve", BucketOptions::default()).await;
    for i in 0..3 {
        put(&store, &bucket, &format!("tmp/{i}"), "xy").await;
    }
    let dir = PolicyDir::new(&every_minute("minutely", &bucket));
    let (mut child, addr) = serve(&pool, dir.path(), &[]);
    assert_eq!(get(&addr, "/healthz").0, 200);
    assert_eq!(get(&addr, "/readyz").0, 200);
    let fired = eventually(Duration::from_secs(60), || async {
        count(
            &pool,
            "SELECT count(*) FROM policy_runs WHERE exit_code = 0",
        )
        .await
            == 1
    })
    .await;
    assert!(fired, "the every-minute policy ran within the minute");
    assert!(live_keys(&store, &bucket).await.is_empty());
    let (status, metrics) = get(&addr, "/metrics");
    assert_eq!(status, 200);
    for line in [
        "shelflife_policy_runs_total{policy=\"minutely\",result=\"success\"} 1",
        "shelflife_objects_total{policy=\"minutely\",rule=\"drop\",action=\"delete\",outcome=\"done\"} 3",
        "shelflife_bytes_total{policy=\"minutely\",rule=\"drop\",action=\"delete\",outcome=\"done\"} 6",
        "shelflife_scan_duration_seconds_count{policy=\"minutely\"} 1",
        "shelflife_last_success_timestamp_seconds{policy=\"minutely\"}",
        "shelflife_storage_retries_total",
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
    terminate(&child);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[sqlx::test]
async fn sigterm_mid_apply_exits_cleanly_and_the_next_run_finishes(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "sigterm", BucketOptions::default()).await;
    let keys = 300;
    for i in 0..keys {
        put(&store, &bucket, &format!("tmp/{i:04}"), "x").await;
    }
    let dir = PolicyDir::new(&every_minute("slow", &bucket));
    let slow = ["--batch-size", "5", "--concurrency", "1"];
    let (mut child, _addr) = serve(&pool, dir.path(), &slow);
    let started = eventually(Duration::from_secs(60), || async {
        count(&pool, ITEM_EVENTS).await > 0
    })
    .await;
    assert!(started, "the apply began");
    terminate(&child);
    let waited = Instant::now();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        waited.elapsed() < Duration::from_secs(20),
        "prompt shutdown"
    );
    let done_first = count(&pool, ITEM_EVENTS).await;
    assert!(
        done_first < keys,
        "stopped mid-apply: {done_first} of {keys}\n{stderr}"
    );
    let claimed = "SELECT count(*) FROM plan_items WHERE state = 'claimed'";
    assert_eq!(count(&pool, claimed).await, 0, "nothing left claimed");
    let recorded = "SELECT count(*) FROM plan_items WHERE state = 'done'";
    assert_eq!(
        count(&pool, recorded).await,
        done_first,
        "every finished item recorded"
    );

    let out = shelflife(&pool, dir.path(), &["run", "--due"]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    assert!(live_keys(&store, &bucket).await.is_empty());
    let deleted =
        "SELECT count(DISTINCT key) FROM audit_events WHERE outcome = 'done' AND action = 'delete'";
    assert_eq!(
        count(&pool, deleted).await,
        keys,
        "each object deleted and recorded once"
    );
    assert_eq!(count(&pool, ITEM_EVENTS).await, keys);
    let verify = shelflife(&pool, dir.path(), &["audit", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", describe(&verify));
}
