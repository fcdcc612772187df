//! The audit trail: one event per action outcome, append-only (enforced by triggers) and
//! hash-chained.
//!
//! Canonical encoding: the event's fields as a JSON object with keys in the order of
//! [`Canonical`], timestamps as RFC 3339 UTC with microseconds, JSON states with sorted keys.
//! `hash = sha256_hex(prev_hash + "\n" + canonical_json)`; the first event's `prev_hash` is 64
//! zeros. `seq` is gap-free: it is assigned under the same lock that orders the chain.

mod verify;

pub use verify::{verify, Verification};

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Serialises appends to the chain across processes (`pg_advisory_xact_lock`).
const CHAIN_LOCK: i64 = 0x5348_454c_464c_4946; // "SHELFLIF"

/// The outcome of one action on one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Done,
    Skipped,
    Blocked,
    Failed,
}

impl Outcome {
    /// The stored name; the table's CHECK constraint admits only these.
    pub fn parse(text: &str) -> Option<Outcome> {
        [
            Outcome::Done,
            Outcome::Skipped,
            Outcome::Blocked,
            Outcome::Failed,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Skipped => "skipped",
            Outcome::Blocked => "blocked",
            Outcome::Failed => "failed",
        }
    }
}

/// An event to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub run_id: Option<i64>,
    pub plan_id: Option<i64>,
    pub item_id: Option<i64>,
    pub policy: String,
    pub policy_sha256: String,
    pub rule: String,
    pub action: String,
    pub storage: String,
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
    pub size: i64,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub state_before: serde_json::Value,
    pub state_after: serde_json::Value,
}

/// The hashed form of an event; field order here is the canonical order.
#[derive(Serialize)]
pub(crate) struct Canonical<'a> {
    pub seq: i64,
    pub at: String,
    pub run_id: Option<i64>,
    pub plan_id: Option<i64>,
    pub item_id: Option<i64>,
    pub policy: &'a str,
    pub policy_sha256: &'a str,
    pub rule: &'a str,
    pub action: &'a str,
    pub storage: &'a str,
    pub bucket: &'a str,
    pub key: &'a str,
    pub version_id: Option<&'a str>,
    pub size: i64,
    pub outcome: &'a str,
    pub reason: Option<&'a str>,
    pub state_before: &'a serde_json::Value,
    pub state_after: &'a serde_json::Value,
}

impl<'a> Canonical<'a> {
    /// The canonical form of `event` as stored at `seq` and `at`.
    pub fn new(seq: i64, at: DateTime<Utc>, e: &'a NewEvent) -> Self {
        Canonical {
            seq,
            at: format_time(at),
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
            outcome: e.outcome.as_str(),
            reason: e.reason.as_deref(),
            state_before: &e.state_before,
            state_after: &e.state_after,
        }
    }

    pub fn hash(&self, prev_hash: &str) -> String {
        let json = serde_json::to_string(self).expect("audit events serialise");
        let mut hasher = Sha256::new();
        hasher.update(prev_hash.as_bytes());
        hasher.update(b"\n");
        hasher.update(json.as_bytes());
        hex::encode(hasher.finalize())
    }
}

pub(crate) fn format_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Appends `events` to the chain inside the caller's transaction, so that they commit (or not)
/// together with the state change they record.
pub async fn append(conn: &mut PgConnection, events: &[NewEvent]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CHAIN_LOCK)
        .execute(&mut *conn)
        .await?;
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (mut seq, mut prev) = head.unwrap_or((0, GENESIS.to_string()));
    // PostgreSQL keeps microseconds; hash what will be stored.
    let at = Utc::now().trunc_subsecs(6);
    for e in events {
        seq += 1;
        let canonical = Canonical::new(seq, at, e);
        let hash = canonical.hash(&prev);
        sqlx::query(
            "INSERT INTO audit_events (seq, at, run_id, plan_id, item_id, policy, policy_sha256, rule, action, \
             storage, bucket, key, version_id, size, outcome, reason, state_before, state_after, prev_hash, hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind(seq)
        .bind(at)
        .bind(e.run_id)
        .bind(e.plan_id)
        .bind(e.item_id)
        .bind(&e.policy)
        .bind(&e.policy_sha256)
        .bind(&e.rule)
        .bind(&e.action)
        .bind(&e.storage)
        .bind(&e.bucket)
        .bind(&e.key)
        .bind(&e.version_id)
        .bind(e.size)
        .bind(e.outcome.as_str())
        .bind(&e.reason)
        .bind(&e.state_before)
        .bind(&e.state_after)
        .bind(&prev)
        .bind(&hash)
        .execute(&mut *conn)
        .await?;
        prev = hash;
    }
    Ok(())
}

/// Records the start of a command that acts on storage; its events carry the run id.
pub async fn start_run(
    pool: &sqlx::PgPool,
    command: &str,
    worker: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO runs (command, worker) VALUES ($1, $2) RETURNING id")
        .bind(command)
        .bind(worker)
        .fetch_one(pool)
        .await
}

/// Records how a run ended.
pub async fn finish_run(
    pool: &sqlx::PgPool,
    run_id: i64,
    exit_code: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE runs SET finished_at = now(), exit_code = $2 WHERE id = $1")
        .bind(run_id)
        .bind(exit_code)
        .execute(pool)
        .await?;
    Ok(())
}
