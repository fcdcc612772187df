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

/// Everything `audit verify` establishes: the chain and the checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub chain: Verification,
    pub checkpoints: super::CheckpointCheck,
}

/// Verifies the chain and checks every checkpoint (signatures by `trusted` when given).
pub async fn evidence(
    pool: &PgPool,
    trusted: Option<&ed25519_dalek::VerifyingKey>,
) -> Result<Evidence, sqlx::Error> {
    Ok(Evidence {
        chain: verify(pool).await?,
        checkpoints: super::check_checkpoints(pool, trusted).await?,
    })
}

impl Evidence {
    /// Whether nothing was found broken.
    pub fn holds(&self) -> bool {
        matches!(self.chain, Verification::Intact { .. })
            && matches!(self.checkpoints, super::CheckpointCheck::Consistent { .. })
    }

    /// One sentence for the chain, one for the checkpoints.
    pub fn lines(&self) -> [String; 2] {
        use super::CheckpointCheck::{Broken, Consistent};
        let chain = match &self.chain {
            Verification::Intact { events, head } => {
                format!("audit trail intact: {events} events, head {head}")
            }
            Verification::Broken {
                seq,
                expected,
                found,
                what,
            } => format!(
                "audit trail BROKEN at seq {seq}: {what}: expected {expected}, found {found}"
            ),
        };
        let checkpoints = match &self.checkpoints {
            Consistent {
                checkpoints,
                signed,
                trusted_key,
            } => {
                let signatures = match (signed, trusted_key) {
                    (0, _) => {
                        "unsigned (no SHELFLIFE_AUDIT_KEY_FILE when they were written)".to_string()
                    }
                    (n, true) => format!("{n} signed and verified with the trusted key"),
                    (n, false) => format!(
                        "{n} signed, verified with the keys they name (set \
                         SHELFLIFE_AUDIT_PUBLIC_KEY_FILE to require yours)"
                    ),
                };
                format!("checkpoints consistent with the chain: {checkpoints}; {signatures}")
            }
            Broken { id, what } => format!("checkpoint {id} BROKEN: {what}"),
        };
        [chain, checkpoints]
    }
}
