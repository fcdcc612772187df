//! Which work the server throttled. A store notes each throttling answer (503 SlowDown, 429),
//! retried ones included, against the task it was made for, so the caller that paces requests
//! learns of throttling that the SDK's retries would otherwise hide.

use std::cell::Cell;
use std::future::Future;

tokio::task_local! {
    static THROTTLED: Cell<u32>;
}

/// Runs `work` and counts the throttling answers the server gave its requests.
pub async fn count_throttles<F: Future>(work: F) -> (F::Output, u32) {
    THROTTLED
        .scope(Cell::new(0), async {
            let output = work.await;
            (output, THROTTLED.with(Cell::get))
        })
        .await
}

/// Notes one throttling answer for the work being counted, if any is.
pub fn note_throttle() {
    let _ = THROTTLED.try_with(|n| n.set(n.get().saturating_add(1)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn throttles_count_against_the_work_they_happen_in() {
        note_throttle(); // outside any count: ignored
        let ((), n) = count_throttles(async {
            note_throttle();
            let ((), inner) = count_throttles(async { note_throttle() }).await;
            assert_eq!(inner, 1);
            note_throttle();
        })
        .await;
        assert_eq!(n, 2);
    }
}
