//! Prometheus metrics of policy runs, in the text exposition format: served on `/metrics` by
//! `serve` and pushed to a Pushgateway by `run --pushgateway`.

use crate::storage::s3::request_stats;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PolicyLabels {
    pub policy: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    pub policy: String,
    /// `success`, `failure` (by exit code), `skipped` (not due or running elsewhere).
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub policy: String,
    pub rule: String,
    pub action: String,
    pub outcome: String,
}

fn durations() -> Histogram {
    Histogram::new(exponential_buckets(0.1, 3.0, 10))
}

pub struct Metrics {
    registry: Registry,
    pub runs: Family<RunLabels, Counter>,
    pub objects: Family<ActionLabels, Counter>,
    pub bytes: Family<ActionLabels, Counter>,
    pub scan_seconds: Family<PolicyLabels, Histogram, fn() -> Histogram>,
    pub apply_seconds: Family<PolicyLabels, Histogram, fn() -> Histogram>,
    pub last_success: Family<PolicyLabels, Gauge<f64, AtomicU64>>,
    retries: Counter,
    throttles: Counter,
    seen: Mutex<(u64, u64)>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Metrics {
            registry: Registry::with_prefix("shelflife"),
            runs: Family::default(),
            objects: Family::default(),
            bytes: Family::default(),
            scan_seconds: Family::new_with_constructor(durations),
            apply_seconds: Family::new_with_constructor(durations),
            last_success: Family::default(),
            retries: Counter::default(),
            throttles: Counter::default(),
            seen: Mutex::new((0, 0)),
        };
        let r = &mut m.registry;
        r.register("policy_runs", "Policy runs by result", m.runs.clone());
        r.register("objects", "Object versions acted on", m.objects.clone());
        r.register(
            "bytes",
            "Bytes of the object versions acted on",
            m.bytes.clone(),
        );
        r.register(
            "scan_duration_seconds",
            "Scan time per policy run",
            m.scan_seconds.clone(),
        );
        r.register(
            "apply_duration_seconds",
            "Apply time per policy run",
            m.apply_seconds.clone(),
        );
        r.register(
            "last_success_timestamp_seconds",
            "When each policy last ran successfully (Unix time)",
            m.last_success.clone(),
        );
        r.register(
            "storage_retries",
            "Storage request attempts beyond the first",
            m.retries.clone(),
        );
        r.register(
            "storage_throttles",
            "Storage answers 503 SlowDown or 429",
            m.throttles.clone(),
        );
        m
    }

    /// Counts one policy run's outcome; a `success` also sets the policy's last success time.
    pub fn run(&self, policy: &str, result: &str) {
        let labels = RunLabels {
            policy: policy.into(),
            result: result.into(),
        };
        self.runs.get_or_create(&labels).inc();
        if result == "success" {
            self.succeeded_at(policy, chrono::Utc::now());
        }
    }

    /// Sets the policy's last success time: from the database at start, so the gauge says
    /// when the policy last succeeded in any process, not only in this one.
    pub fn succeeded_at(&self, policy: &str, at: chrono::DateTime<chrono::Utc>) {
        let labels = PolicyLabels {
            policy: policy.into(),
        };
        let seconds = at.timestamp_millis() as f64 / 1000.0;
        self.last_success.get_or_create(&labels).set(seconds);
    }

    /// Adds an apply's outcomes: (rule, action, outcome) → (objects, bytes).
    pub fn outcomes<'a>(
        &self,
        policy: &str,
        outcomes: impl IntoIterator<Item = (&'a (String, String, String), &'a (i64, i64))>,
    ) {
        for ((rule, action, outcome), (objects, bytes)) in outcomes {
            let labels = ActionLabels {
                policy: policy.into(),
                rule: rule.clone(),
                action: action.clone(),
                outcome: outcome.clone(),
            };
            self.objects.get_or_create(&labels).inc_by(*objects as u64);
            self.bytes.get_or_create(&labels).inc_by(*bytes as u64);
        }
    }

    /// The exposition text, with the storage request counters brought up to date.
    pub fn encode(&self) -> String {
        let stats = request_stats();
        {
            let mut seen = self.seen.lock().expect("metrics lock");
            self.retries.inc_by(stats.retries.saturating_sub(seen.0));
            self.throttles
                .inc_by(stats.throttles.saturating_sub(seen.1));
            *seen = (stats.retries.max(seen.0), stats.throttles.max(seen.1));
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("encoding to a String cannot fail");
        text
    }
}
