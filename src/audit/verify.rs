//! Recomputing the hash chain from the stored events.

use super::{Canonical, NewEvent, Outcome, GENESIS};
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

impl Stored {
    /// The event as it was appended; `None` if its outcome is not one shelflife writes.
    fn event(&self) -> Option<NewEvent> {
        Some(NewEvent {
            run_id: self.run_id,
            plan_id: self.plan_id,
            item_id: self.item_id,
            policy: self.policy.clone(),
            policy_sha256: self.policy_sha256.clone(),
            rule: self.rule.clone(),
            action: self.action.clone(),
            storage: self.storage.clone(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            version_id: self.version_id.clone(),
            size: self.size,
            outcome: Outcome::parse(&self.outcome)?,
            reason: self.reason.clone(),
            state_before: self.state_before.clone(),
            state_after: self.state_after.clone(),
        })
    }
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
        let Some(event) = e.event() else {
            return Ok(broken("an outcome".into(), e.outcome.clone(), "outcome"));
        };
        let recomputed = Canonical::new(e.seq, e.at, &event).hash(&e.prev_hash);
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
