//! Recomputing the hash chain from the stored events.

use super::{format_time, Canonical, GENESIS};
use chrono::{DateTime, Utc};
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

#[derive(sqlx::FromRow)]
struct Stored {
    seq: i64,
    at: DateTime<Utc>,
    run_id: Option<i64>,
    plan_id: Option<i64>,
    item_id: Option<i64>,
    policy: String,
    policy_sha256: String,
    rule: String,
    action: String,
    storage: String,
    bucket: String,
    key: String,
    version_id: Option<String>,
    size: i64,
    outcome: String,
    reason: Option<String>,
    state_before: serde_json::Value,
    state_after: serde_json::Value,
    prev_hash: String,
    hash: String,
}

/// Walks the whole chain in order and reports the first inconsistency.
pub async fn verify(pool: &PgPool) -> Result<Verification, sqlx::Error> {
    let mut rows =
        sqlx::query_as::<_, Stored>("SELECT * FROM audit_events ORDER BY seq").fetch(pool);
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
        let recomputed = Canonical {
            seq: e.seq,
            at: format_time(e.at),
            run_id: e.run_id,
            plan_id: e.plan_id,
            item_id: e.item_id,
            policy: &e.policy,
            policy_sha256: &e.policy_sha256,
            rule: &e.rule,
            action: &e.action,
            storage: &e.storage,
            bucket: &e.bucket,
            key: &e.key,
            version_id: e.version_id.as_deref(),
            size: e.size,
            outcome: &e.outcome,
            reason: e.reason.as_deref(),
            state_before: &e.state_before,
            state_after: &e.state_after,
        }
        .hash(&e.prev_hash);
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
