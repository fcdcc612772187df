//! The audit trail: one event per action outcome, append-only (enforced by triggers) and
//! hash-chained.
//!
//! Canonical encoding: the event's fields as a JSON object with keys in the order of
//! [`Canonical`], timestamps as RFC 3339 UTC with microseconds, JSON states with sorted keys.
//! `hash = sha256_hex(prev_hash + "\n" + canonical_json)`; the first event's `prev_hash` is 64
//! zeros. `seq` is gap-free: it is assigned under the same lock that orders the chain.

mod checkpoint;
mod event;
mod publish;
mod run;
mod verify;

pub use checkpoint::{
    check as check_checkpoints, public_key_from_file, write as write_checkpoint, AuditKey,
    Checkpoint, CheckpointCheck,
};
pub(crate) use event::{format_time, Canonical};
pub use event::{NewEvent, Outcome, State, StoredEvent};
pub use publish::publish as publish_checkpoint;
pub use run::{finish_run, start_run, RunInfo};
pub use verify::{evidence, verify, Evidence, Verification};

use chrono::{SubsecRound, Utc};
use sqlx::PgConnection;

/// The hash before the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Serialises appends to the chain across processes (`pg_advisory_xact_lock`).
const CHAIN_LOCK: i64 = 0x5348_454c_464c_4946; // "SHELFLIF"

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
    let at_text = format_time(at);
    let mut rest = events;
    while let Some(first) = rest.first() {
        // One statement per run of events with the same context (normally the whole batch):
        // the context goes as single values, so the server decodes it once, not per event.
        let cx = Context::of(first);
        let same = rest.iter().take_while(|e| Context::of(e) == cx).count();
        let (group, after) = rest.split_at(same);
        let clock = cx.clock.map(format_time);
        let mut rows = Columns::default();
        for e in group {
            seq += 1;
            let canonical = Canonical::new((seq, &at_text), clock.as_deref(), e);
            let hash = canonical.hash(&prev);
            rows.push(seq, e, std::mem::replace(&mut prev, hash.clone()), hash);
        }
        insert(conn, at, cx, rows).await?;
        rest = after;
    }
    Ok(())
}

/// What the events of one plan's batch share.
#[derive(PartialEq)]
struct Context<'e> {
    run_id: Option<i64>,
    plan_id: Option<i64>,
    policy: &'e str,
    policy_sha256: &'e str,
    storage: &'e str,
    bucket: &'e str,
    policy_revision: Option<&'e str>,
    clock: Option<chrono::DateTime<Utc>>,
    worker: Option<&'e str>,
}

impl<'e> Context<'e> {
    fn of(e: &'e NewEvent) -> Self {
        Context {
            run_id: e.run_id,
            plan_id: e.plan_id,
            policy: &e.policy,
            policy_sha256: &e.policy_sha256,
            storage: &e.storage,
            bucket: &e.bucket,
            policy_revision: e.policy_revision.as_deref(),
            clock: e.clock,
            worker: e.worker.as_deref(),
        }
    }
}

/// Inserts events that share `cx` (already chained) in one statement.
async fn insert(
    conn: &mut PgConnection,
    at: chrono::DateTime<Utc>,
    cx: Context<'_>,
    rows: Columns<'_>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (seq, at, run_id, plan_id, item_id, policy, policy_sha256, rule, action, \
         storage, bucket, key, version_id, size, outcome, reason, state_before, state_after, prev_hash, hash, \
         policy_revision, clock, worker) \
         SELECT u.seq, $1, $2, $3, u.item_id, $4, $5, u.rule, u.action, $6, $7, u.key, u.version_id, u.size, \
                u.outcome, u.reason, u.state_before::jsonb, u.state_after::jsonb, u.prev_hash, u.hash, \
                $8, $9, $10 \
         FROM UNNEST($11::int8[], $12::int8[], $13::text[], $14::text[], $15::text[], $16::text[], \
                     $17::int8[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], \
                     $23::text[]) \
              AS u(seq, item_id, rule, action, key, version_id, size, outcome, reason, state_before, \
                   state_after, prev_hash, hash)",
    )
    .bind(at)
    .bind(cx.run_id)
    .bind(cx.plan_id)
    .bind(cx.policy)
    .bind(cx.policy_sha256)
    .bind(cx.storage)
    .bind(cx.bucket)
    .bind(cx.policy_revision)
    .bind(cx.clock)
    .bind(cx.worker)
    .bind(rows.seq)
    .bind(rows.item_id)
    .bind(rows.rule)
    .bind(rows.action)
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

/// The per-event columns of events that share a [`Context`], for one `INSERT ... SELECT FROM
/// UNNEST`.
#[derive(Default)]
struct Columns<'e> {
    seq: Vec<i64>,
    item_id: Vec<Option<i64>>,
    rule: Vec<&'e str>,
    action: Vec<&'e str>,
    key: Vec<&'e str>,
    version_id: Vec<Option<&'e str>>,
    size: Vec<i64>,
    outcome: Vec<&'static str>,
    reason: Vec<Option<&'e str>>,
    /// The states as hashed: JSON text, cast to `jsonb` by the statement.
    state_before: Vec<&'e str>,
    state_after: Vec<&'e str>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
}

impl<'e> Columns<'e> {
    fn push(&mut self, seq: i64, e: &'e NewEvent, prev_hash: String, hash: String) {
        self.seq.push(seq);
        self.item_id.push(e.item_id);
        self.rule.push(&e.rule);
        self.action.push(&e.action);
        self.key.push(&e.key);
        self.version_id.push(e.version_id.as_deref());
        self.size.push(e.size);
        self.outcome.push(e.outcome.as_str());
        self.reason.push(e.reason.as_deref());
        self.state_before.push(e.state_before.raw().get());
        self.state_after.push(e.state_after.raw().get());
        self.prev_hash.push(prev_hash);
        self.hash.push(hash);
    }
}
