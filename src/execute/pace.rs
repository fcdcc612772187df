//! The per-prefix request budget: S3 scales request rates per key prefix, so each prefix (the
//! key up to its first `/`) gets `requestsPerSecond` of its own.

use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;

pub struct Pacer {
    limiter: DefaultKeyedRateLimiter<String>,
    burst: u32,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer")
            .field("per_second", &self.burst)
            .finish()
    }
}

impl Pacer {
    /// A budget of `per_second` requests per prefix (at least 1).
    pub fn new(per_second: u32) -> Pacer {
        let rate = NonZeroU32::new(per_second.max(1)).expect("at least 1");
        Pacer {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(rate)),
            burst: rate.get(),
        }
    }

    /// Waits until `key`'s prefix may send `requests` more.
    pub async fn wait(&self, key: &str, requests: u32) {
        self.wait_prefix(prefix_of(key), requests).await;
    }

    /// Waits until each prefix among `keys` may send one request per key (a DeleteObjects
    /// request counts once per key), one wait per prefix.
    pub async fn wait_keys<'k>(&self, keys: impl IntoIterator<Item = &'k str>) {
        let mut per_prefix: std::collections::BTreeMap<&str, u32> = Default::default();
        for key in keys {
            *per_prefix.entry(prefix_of(key)).or_default() += 1;
        }
        for (prefix, requests) in per_prefix {
            self.wait_prefix(prefix, requests).await;
        }
    }

    async fn wait_prefix(&self, prefix: &str, requests: u32) {
        let prefix = prefix.to_string();
        let mut left = requests;
        while left > 0 {
            let n = left.min(self.burst);
            let cells = NonZeroU32::new(n).expect("n > 0");
            // `n` never exceeds the burst, so the budget can always grant it eventually.
            let _ = self.limiter.until_key_n_ready(&prefix, cells).await;
            left -= n;
        }
    }
}

/// The prefix a key's requests count against.
fn prefix_of(key: &str) -> &str {
    key.split_once('/').map_or("", |(first, _)| first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_the_first_folder() {
        assert_eq!(prefix_of("logs/2026/a.json"), "logs");
        assert_eq!(prefix_of("top.json"), "");
    }

    #[tokio::test]
    async fn each_prefix_has_its_own_budget() {
        let pacer = Pacer::new(1);
        pacer.wait("a/x", 1).await;
        assert!(
            pacer.limiter.check_key(&"a".to_string()).is_err(),
            "a is spent"
        );
        assert!(
            pacer.limiter.check_key(&"b".to_string()).is_ok(),
            "b is not"
        );
    }

    #[tokio::test]
    async fn more_requests_than_the_burst_are_granted_over_time() {
        let pacer = Pacer::new(20);
        let start = std::time::Instant::now();
        pacer.wait("a/x", 25).await; // 20 at once, 5 more at 50 ms each
        assert!(start.elapsed() >= std::time::Duration::from_millis(200));
    }
}
