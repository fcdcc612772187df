//! `run --pushgateway`: a CronJob's metrics reach a real Prometheus Pushgateway (Debian's
//! `prometheus-pushgateway`, started per test), grouped by job and policy, no instance.

use crate::helpers::*;
use shelflife::storage::s3::BucketOptions;
use sqlx::PgPool;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = "prometheus-pushgateway";

/// A Pushgateway on a free loopback port, stopped when dropped.
struct Gateway {
    child: Child,
    url: String,
}

impl Gateway {
    async fn start() -> Gateway {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(BINARY)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{BINARY}: {e} (scripts/test installs it with apt)"));
        let gateway = Gateway {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let start = Instant::now();
        while reqwest::get(format!("{}/-/ready", gateway.url))
            .await
            .is_err()
        {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{BINARY} not ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        gateway
    }

    async fn metrics(&self) -> String {
        let answer = reqwest::get(format!("{}/metrics", self.url)).await.unwrap();
        answer.text().await.unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the sample `name` whose labels are exactly `labels` (in any order).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<String> {
    let mut wanted: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    wanted.sort();
    text.lines().find_map(|line| {
        let (series, value) = line.rsplit_once(' ')?;
        let (metric, rest) = series.split_once('{')?;
        let mut have: Vec<String> = rest
            .strip_suffix('}')?
            .split(',')
            .map(String::from)
            .collect();
        have.sort();
        (metric == name && have == wanted).then(|| value.to_string())
    })
}

#[sqlx::test]
async fn run_pushes_its_metrics_by_job_and_policy_without_an_instance(pool: PgPool) {
    let gateway = Gateway::start().await;
    let store = store().await;
    let bucket = new_bucket(&store, "push", BucketOptions::default()).await;
    for i in 0..3 {
        put(&store, &bucket, &format!("tmp/{i}"), "xy").await;
    }
    let schedule = "  schedule: \"@daily\"\n";
    let rules = "    - name: drop\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";
    let dir = PolicyDir::new(&policy_yaml("push-me", &bucket, schedule, rules));
    let run = ["run", "--due", "--pushgateway", &gateway.url];

    let out = shelflife(&pool, dir.path(), &run);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let text = gateway.metrics().await;
    let group = [
        ("instance", ""),
        ("job", "shelflife"),
        ("policy", "push-me"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| [&group[..], extra].concat();
    let runs = "shelflife_policy_runs_total";
    assert_eq!(
        sample(&text, runs, &with(&[("result", "success")])).as_deref(),
        Some("1"),
        "{text}"
    );
    let done = [("rule", "drop"), ("action", "delete"), ("outcome", "done")];
    assert_eq!(
        sample(&text, "shelflife_objects_total", &with(&done)).as_deref(),
        Some("3")
    );
    assert_eq!(
        sample(&text, "shelflife_bytes_total", &with(&done)).as_deref(),
        Some("6")
    );
    let last = "shelflife_last_success_timestamp_seconds";
    let succeeded: f64 = sample(&text, last, &group).expect(last).parse().unwrap();
    assert!((succeeded - chrono::Utc::now().timestamp() as f64).abs() < 120.0);
    assert!(
        sample(&text, "push_time_seconds", &group).is_some(),
        "{text}"
    );
    let job = [("instance", ""), ("job", "shelflife")];
    assert!(
        sample(&text, "shelflife_storage_retries_total", &job).is_some(),
        "{text}"
    );
    assert!(
        !text
            .lines()
            .any(|l| l.starts_with("shelflife") && !l.contains("instance=\"\"")),
        "every series without an instance:\n{text}"
    );

    // The next Job finds the policy not due: its push replaces the group, and the last
    // success (read from the database) is still there.
    let out = shelflife(&pool, dir.path(), &run);
    assert!(stdout(&out).contains("not due"), "{}", describe(&out));
    let text = gateway.metrics().await;
    assert_eq!(
        sample(&text, runs, &with(&[("result", "skipped")])).as_deref(),
        Some("1")
    );
    assert_eq!(
        sample(&text, runs, &with(&[("result", "success")])),
        None,
        "{text}"
    );
    let again: f64 = sample(&text, last, &group).expect(last).parse().unwrap();
    assert!((again - succeeded).abs() < 5.0, "{again} vs {succeeded}");
}

#[sqlx::test]
async fn an_unreachable_pushgateway_is_a_warning_not_a_failed_run(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "nopush", BucketOptions::default()).await;
    put(&store, &bucket, "tmp/a", "x").await;
    let rules = "    - name: drop\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";
    let dir = PolicyDir::new(&policy_yaml("nopush", &bucket, "", rules));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{closed}");
    let out = shelflife(&pool, dir.path(), &["run", "--all", "--pushgateway", &url]);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning: metrics not pushed") && err.contains(&url),
        "{err}"
    );
    assert!(
        live_keys(&store, &bucket).await.is_empty(),
        "the run itself happened"
    );
}
