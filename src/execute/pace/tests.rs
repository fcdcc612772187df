use super::*;

fn pacing(start: Option<u32>, ceiling: Option<u32>) -> Pacer {
    Pacer::new(Pacing { start, ceiling })
}

/// How long `requests` single requests of `key` take to be let through.
async fn time_of(pacer: &Pacer, key: &str, requests: u32) -> Duration {
    let start = Instant::now();
    for _ in 0..requests {
        pacer.wait(key, 1).await;
    }
    start.elapsed()
}

#[test]
fn prefixes_are_the_first_folder() {
    assert_eq!(prefix_of("logs/2026/a.json"), "logs");
    assert_eq!(prefix_of("top.json"), "");
    assert_eq!(per_prefix(["a/1", "b/1", "a/2"]), [("a", 2), ("b", 1)]);
}

#[tokio::test(start_paused = true)]
async fn a_prefix_sends_one_interval_of_burst_then_its_rate() {
    let pacer = pacing(Some(100), None);
    assert_eq!(
        time_of(&pacer, "a/x", 100).await,
        Duration::ZERO,
        "the burst"
    );
    let t = time_of(&pacer, "a/x", 50).await;
    assert!(
        t >= Duration::from_millis(490) && t <= Duration::from_millis(510),
        "{t:?}"
    );
    assert_eq!(
        time_of(&pacer, "b/x", 100).await,
        Duration::ZERO,
        "b has its own"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unlimited_prefix_never_waits_until_throttled_then_halves_its_recent_rate() {
    let pacer = pacing(None, None);
    assert_eq!(time_of(&pacer, "a/x", 10_000).await, Duration::ZERO);
    assert_eq!(pacer.rate("a/x"), None);
    pacer.throttled(["a/x"]);
    assert_eq!(pacer.rate("a/x"), Some(5_000.0));
    assert_eq!(pacer.rate("b/x"), None, "only the throttled prefix slows");
}

#[tokio::test(start_paused = true)]
async fn throttling_halves_once_an_interval_and_a_clean_limit_grows_back() {
    let pacer = pacing(Some(1000), None);
    pacer.throttled(["a/1", "a/2"]);
    pacer.throttled(["a/3"]);
    assert_eq!(
        pacer.rate("a/x"),
        Some(500.0),
        "one cut for one burst of SlowDowns"
    );
    tokio::time::advance(INTERVAL).await;
    pacer.throttled(["a/4"]);
    assert_eq!(pacer.rate("a/x"), Some(250.0));
    // Idle: the limit does not bind, so nothing grows.
    tokio::time::advance(INTERVAL * 10).await;
    assert_eq!(pacer.rate("a/x"), Some(250.0));
    // Busy for 4 s: +50 (5% of the start) per clean second.
    time_of(&pacer, "a/x", 250 * 5).await;
    let rate = pacer.rate("a/x").unwrap();
    assert!((400.0..=450.0).contains(&rate), "{rate}");
}

#[tokio::test(start_paused = true)]
async fn requests_per_second_caps_the_start_and_the_growth() {
    let pacer = pacing(Some(100), Some(120));
    time_of(&pacer, "a/x", 2_000).await;
    assert_eq!(pacer.rate("a/x"), Some(120.0));
    let pacing = Pacing::new(Some(3500), Some(500));
    assert_eq!(pacing.start, Some(500));
    assert_eq!(Pacing::new(None, Some(500)).start, Some(500));
    assert_eq!(Pacing::new(None, None).start, None);
}

#[tokio::test(start_paused = true)]
async fn a_cut_never_goes_below_one_request_a_second() {
    let pacer = pacing(Some(2), None);
    for _ in 0..5 {
        pacer.throttled(["a/x"]);
        tokio::time::advance(INTERVAL).await;
    }
    assert_eq!(pacer.rate("a/x"), Some(1.0));
}
