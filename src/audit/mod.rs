//! The audit trail: one event per action outcome, append-only (enforced by triggers) and
//! hash-chained.
//!
//! Canonical encoding: the event's fields as a JSON object with keys in the order of
//! [`Canonical`], timestamps as RFC 3339 UTC with microseconds, JSON states with sorted keys.
//! `hash = sha256_hex(prev_hash + "\n" + canonical_json)`; the first event's `prev_hash` is 64
//! zeros. `seq` is gap-free: it is assigned under the same lock that orders the chain.

mod checkpoint;
mod verify;

pub use checkpoint::{
    check as check_checkpoints, public_key_from_file, write as write_checkpoint, AuditKey,
    Checkpoint, CheckpointCheck,
};
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

/// Takes the chain's lock for the rest of the caller's transaction and returns its head: the
/// last event's seq and hash (0 and [`GENESIS`] for an empty chain).
pub(crate) async fn lock_head(conn: &mut PgConnection) -> Result<(i64, String), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CHAIN_LOCK)
        .execute(&mut *conn)
        .await?;
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    Ok(head.unwrap_or((0, GENESIS.to_string())))
}

/// Appends `events` to the chain inside the caller's transaction, so that they commit (or not)
/// together with the state change they record.
pub async fn append(conn: &mut PgConnection, events: &[NewEvent]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let (mut seq, mut prev) = lock_head(conn).await?;
    // PostgreSQL keeps microseconds; hash what will be stored.
    let at = Utc::now().trunc_subsecs(6);
    let mut rows = Columns::default();
    for e in events {
        seq += 1;
        let hash = Canonical::new(seq, at, e).hash(&prev);
        rows.push(seq, e, std::mem::replace(&mut prev, hash.clone()), hash);
    }
    // One statement per batch: the chain is computed above, the rows go in together.
    sqlx::query(
        "INSERT INTO audit_events (seq, at, run_id, plan_id, item_id, policy, policy_sha256, rule, action, \
         storage, bucket, key, version_id, size, outcome, reason, state_before, state_after, prev_hash, hash) \
         SELECT u.seq, $1, u.run_id, u.plan_id, u.item_id, u.policy, u.policy_sha256, u.rule, u.action, \
                u.storage, u.bucket, u.key, u.version_id, u.size, u.outcome, u.reason, u.state_before, \
                u.state_after, u.prev_hash, u.hash \
         FROM UNNEST($2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::text[], $7::text[], $8::text[], \
                     $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::int8[], $15::text[], \
                     $16::text[], $17::jsonb[], $18::jsonb[], $19::text[], $20::text[]) \
              AS u(seq, run_id, plan_id, item_id, policy, policy_sha256, rule, action, storage, bucket, key, \
                   version_id, size, outcome, reason, state_before, state_after, prev_hash, hash)",
    )
    .bind(at)
    .bind(rows.seq)
    .bind(rows.run_id)
    .bind(rows.plan_id)
    .bind(rows.item_id)
    .bind(rows.policy)
    .bind(rows.policy_sha256)
    .bind(rows.rule)
    .bind(rows.action)
    .bind(rows.storage)
    .bind(rows.bucket)
    .bind(rows.key)
    .bind(rows.version_id)
    .bind(rows.size)
    .bind(rows.outcome)
    .bind(rows.reason)
    .bind(rows.state_before)
    .bind(rows.state_after)
    .bind(rows.prev_hash)
    .bind(rows.hash)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Events as columns, for one `INSERT ... SELECT FROM UNNEST`.
#[derive(Default)]
struct Columns<'e> {
    seq: Vec<i64>,
    run_id: Vec<Option<i64>>,
    plan_id: Vec<Option<i64>>,
    item_id: Vec<Option<i64>>,
    policy: Vec<&'e str>,
    policy_sha256: Vec<&'e str>,
    rule: Vec<&'e str>,
    action: Vec<&'e str>,
    storage: Vec<&'e str>,
    bucket: Vec<&'e str>,
    key: Vec<&'e str>,
    version_id: Vec<Option<&'e str>>,
    size: Vec<i64>,
    outcome: Vec<&'static str>,
    reason: Vec<Option<&'e str>>,
    state_before: Vec<&'e serde_json::Value>,
    state_after: Vec<&'e serde_json::Value>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
}

impl<'e> Columns<'e> {
    fn push(&mut self, seq: i64, e: &'e NewEvent, prev_hash: String, hash: String) {
        self.seq.push(seq);
        self.run_id.push(e.run_id);
        self.plan_id.push(e.plan_id);
        self.item_id.push(e.item_id);
        self.policy.push(&e.policy);
        self.policy_sha256.push(&e.policy_sha256);
        self.rule.push(&e.rule);
        self.action.push(&e.action);
        self.storage.push(&e.storage);
        self.bucket.push(&e.bucket);
        self.key.push(&e.key);
        self.version_id.push(e.version_id.as_deref());
        self.size.push(e.size);
        self.outcome.push(e.outcome.as_str());
        self.reason.push(e.reason.as_deref());
        self.state_before.push(&e.state_before);
        self.state_after.push(&e.state_after);
        self.prev_hash.push(prev_hash);
        self.hash.push(hash);
    }
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
