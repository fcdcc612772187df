//! Per-prefix pacing that follows the server. S3 scales request rates per key prefix (the key up
//! to its first `/`), so each prefix has a rate of its own: it starts at the provider's
//! documented rate (or unlimited where none is documented), is halved when the server answers
//! SlowDown, and grows by a twentieth of where it started for each clean interval in which the
//! limit held requests back (AIMD), never above the Storage's `requestsPerSecond`.

use crate::policy::Pacing;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::time::{Duration, Instant};

/// How often a prefix's rate may change: one cut per interval (a burst of SlowDown answers is
/// one overload), and growth in steps of one interval. Also the burst a prefix may send at once:
/// one interval's worth of its rate.
const INTERVAL: Duration = Duration::from_secs(1);
/// The share of its rate a prefix keeps when throttled.
const CUT: f64 = 0.5;
/// Growth per clean interval, as a share of the rate the prefix started at (or was first cut
/// to, where it started unlimited).
const STEP: f64 = 0.05;
/// No prefix is cut below this many requests per second.
const FLOOR: f64 = 1.0;

#[derive(Debug)]
pub struct Pacer {
    pacing: Pacing,
    prefixes: Mutex<HashMap<String, Prefix>>,
}

#[derive(Debug)]
struct Prefix {
    /// Requests per second; `None`: not limited.
    rate: Option<f64>,
    /// What one clean interval adds to the rate.
    step: f64,
    /// When the next request may go: a schedule that runs at most one interval behind now.
    next: Instant,
    /// Since when the limit has been holding requests back at this rate: only a limit that
    /// binds grows, for the time it binds.
    binding_since: Option<Instant>,
    last_cut: Option<Instant>,
    /// Requests in the current interval (and when it began) and in the one before: what a
    /// first throttle cuts an unlimited prefix from.
    window: (Instant, u32, u32),
}

impl Pacer {
    pub fn new(pacing: Pacing) -> Pacer {
        Pacer {
            pacing,
            prefixes: Mutex::default(),
        }
    }

    /// Waits until `key`'s prefix may send `requests` more.
    pub async fn wait(&self, key: &str, requests: u32) {
        self.wait_prefix(prefix_of(key), requests).await;
    }

    /// Waits until each prefix among `keys` may send one request per key (a DeleteObjects
    /// request counts once per key).
    pub async fn wait_keys<'k>(&self, keys: impl IntoIterator<Item = &'k str>) {
        for (prefix, requests) in per_prefix(keys) {
            self.wait_prefix(prefix, requests).await;
        }
    }

    async fn wait_prefix(&self, prefix: &str, requests: u32) {
        let delay = self.with_prefix(prefix, |p, now| p.reserve(now, requests));
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
    }

    /// The server throttled requests for `keys`: each of their prefixes is cut, at most once an
    /// interval.
    pub fn throttled<'k>(&self, keys: impl IntoIterator<Item = &'k str>) {
        for (prefix, _) in per_prefix(keys) {
            if let Some(rate) = self.with_prefix(prefix, Prefix::cut) {
                tracing::warn!(prefix, rate, "the server answered SlowDown; prefix slowed");
            }
        }
    }

    /// The current rate of `key`'s prefix; `None` while it is not limited.
    pub fn rate(&self, key: &str) -> Option<f64> {
        self.with_prefix(prefix_of(key), |p, _| p.rate)
    }

    fn with_prefix<T>(&self, prefix: &str, f: impl FnOnce(&mut Prefix, Instant) -> T) -> T {
        let now = Instant::now();
        let mut prefixes = self.prefixes.lock().expect("pacer lock");
        let p = match prefixes.get_mut(prefix) {
            Some(p) => p,
            None => prefixes
                .entry(prefix.to_string())
                .or_insert_with(|| Prefix::new(self.pacing.start, now)),
        };
        p.grow(now, self.pacing.ceiling);
        f(p, now)
    }
}

impl Prefix {
    fn new(start: Option<u32>, now: Instant) -> Prefix {
        let rate = start.map(|r| f64::from(r.max(1)));
        Prefix {
            rate,
            step: rate.map_or(FLOOR, |r| (r * STEP).max(FLOOR)),
            next: now.checked_sub(INTERVAL).unwrap_or(now),
            binding_since: None,
            last_cut: None,
            window: (now, 0, 0),
        }
    }

    /// Books `requests` on the schedule; the delay before they may go.
    fn reserve(&mut self, now: Instant, requests: u32) -> Option<Duration> {
        if now.duration_since(self.window.0) >= INTERVAL {
            self.window = (now, 0, self.window.1);
        }
        self.window.1 = self.window.1.saturating_add(requests);
        let rate = self.rate?;
        let earliest = now.checked_sub(INTERVAL).unwrap_or(now);
        let at = self.next.max(earliest);
        self.next = at + Duration::from_secs_f64(f64::from(requests) / rate);
        (at > now).then(|| {
            self.binding_since.get_or_insert(now);
            at - now
        })
    }

    /// Adds one step per clean interval in which the limit bound.
    fn grow(&mut self, now: Instant, ceiling: Option<u32>) {
        let (Some(rate), Some(since)) = (self.rate, self.binding_since) else {
            return;
        };
        let intervals = (now.duration_since(since).as_secs_f64() / INTERVAL.as_secs_f64()).floor();
        if intervals < 1.0 {
            return;
        }
        let grown = rate + self.step * intervals;
        self.rate = Some(ceiling.map_or(grown, |c| grown.min(f64::from(c))));
        self.binding_since = None;
    }

    /// Halves the rate (an unlimited prefix: its recent rate), unless it was cut within the
    /// last interval; the new rate when it was cut.
    fn cut(&mut self, now: Instant) -> Option<f64> {
        if self
            .last_cut
            .is_some_and(|at| now.duration_since(at) < INTERVAL)
        {
            return None;
        }
        let from = self
            .rate
            .unwrap_or_else(|| f64::from(self.window.1.max(self.window.2)));
        let rate = (from * CUT).max(FLOOR);
        if self.rate.is_none() {
            self.step = (rate * STEP).max(FLOOR);
        }
        self.rate = Some(rate);
        self.last_cut = Some(now);
        self.binding_since = None;
        Some(rate)
    }
}

/// Requests per prefix among `keys`, one per key.
fn per_prefix<'k>(keys: impl IntoIterator<Item = &'k str>) -> Vec<(&'k str, u32)> {
    let mut counts: std::collections::BTreeMap<&str, u32> = Default::default();
    for key in keys {
        *counts.entry(prefix_of(key)).or_default() += 1;
    }
    counts.into_iter().collect()
}

/// The prefix a key's requests count against.
fn prefix_of(key: &str) -> &str {
    key.split_once('/').map_or("", |(first, _)| first)
}

#[cfg(test)]
mod tests;
