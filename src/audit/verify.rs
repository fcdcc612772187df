//! Recomputing the hash chain from the stored events.

use super::{StoredEvent, GENESIS};
use futures::TryStreamExt;
use sqlx::PgPool;

/// The result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every event links to its predecessor and hashes to its stored hash.
    Intact { events: i64, head: String },
    /// The first broken link.
    Broken {
        seq: i64,
        expected: String,
        found: String,
        what: &'static str,
    },
}

/// Walks the whole chain in order and reports the first inconsistency.
pub async fn verify(pool: &PgPool) -> Result<Verification, sqlx::Error> {
    let mut rows =
        sqlx::query_as::<_, StoredEvent>("SELECT * FROM audit_events ORDER BY seq").fetch(pool);
    let (mut expected_seq, mut prev) = (1i64, GENESIS.to_string());
    while let Some(e) = rows.try_next().await? {
        let broken = |expected: String, found: String, what| Verification::Broken {
            seq: e.seq,
            expected,
            found,
            what,
        };
        if e.seq != expected_seq {
            return Ok(broken(
                expected_seq.to_string(),
                e.seq.to_string(),
                "sequence number (an event is missing)",
            ));
        }
        if e.prev_hash != prev {
            return Ok(broken(
                prev,
                e.prev_hash.clone(),
                "link to the previous event",
            ));
        }
        let Some(recomputed) = e.recomputed_hash() else {
            return Ok(broken("an outcome".into(), e.outcome.clone(), "outcome"));
        };
        if recomputed != e.hash {
            return Ok(broken(
                recomputed,
                e.hash.clone(),
                "event hash (the event was altered)",
            ));
        }
        prev = e.hash;
        expected_seq += 1;
    }
    Ok(Verification::Intact {
        events: expected_seq - 1,
        head: prev,
    })
}
