//! When policies run: which are due by their cron schedule, one run per policy at a time
//! (a PostgreSQL advisory lock per policy), and the record of each policy run.

pub mod metrics;
pub mod push;

pub use metrics::Metrics;

use crate::policy::Policy;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

/// Whether `policy` is due at `now`: its schedule (in its timezone) fired since its last
/// successful run. A policy that never succeeded is due; one without a schedule never is.
pub fn is_due(policy: &Policy, last_success: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    let Some(schedule) = &policy.schedule else {
        return false;
    };
    let Some(last) = last_success else {
        return true;
    };
    let since = last.with_timezone(&policy.timezone);
    schedule
        .cron
        .after(&since)
        .next()
        .is_some_and(|fire| fire.with_timezone(&Utc) <= now)
}

/// The next time `policy`'s schedule fires after `now`.
pub fn next_fire(policy: &Policy, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = policy.schedule.as_ref()?;
    let local = now.with_timezone(&policy.timezone);
    schedule
        .cron
        .after(&local)
        .next()
        .map(|t| t.with_timezone(&Utc))
}

/// When `policy` last ran with exit code 0.
pub async fn last_success(
    pool: &PgPool,
    policy: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT started_at FROM policy_runs WHERE policy = $1 AND exit_code = 0 \
         ORDER BY started_at DESC LIMIT 1",
    )
    .bind(policy)
    .fetch_optional(pool)
    .await
}

/// The plan the policy's current run (the latest, not finished) made and has not finished
/// applying: what `run --join` helps with.
pub async fn plan_in_progress(pool: &PgPool, policy: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT p.id FROM plans p \
         JOIN policy_runs r ON r.policy = p.policy AND p.created_at >= r.started_at \
         WHERE p.policy = $1 AND p.state = 'planned' AND r.finished_at IS NULL \
           AND r.id = (SELECT max(id) FROM policy_runs WHERE policy = $1) \
         ORDER BY p.id DESC LIMIT 1",
    )
    .bind(policy)
    .fetch_optional(pool)
    .await
}

/// Holds a policy's advisory lock (session level, on its own connection) while it runs.
pub struct PolicyLock {
    conn: PoolConnection<Postgres>,
    key: i64,
}

/// The lock key of `policy`: the first 8 bytes of SHA-256("shelflife policy " + name).
fn lock_key(policy: &str) -> i64 {
    let digest = Sha256::digest(format!("shelflife policy {policy}").as_bytes());
    i64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

impl PolicyLock {
    /// Takes `policy`'s lock if no other process holds it.
    pub async fn try_acquire(
        pool: &PgPool,
        policy: &str,
    ) -> Result<Option<PolicyLock>, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        let key = lock_key(policy);
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut *conn)
            .await?;
        Ok(taken.then_some(PolicyLock { conn, key }))
    }

    /// Releases the lock (a dropped lock is released when its connection closes).
    pub async fn release(mut self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .execute(&mut *self.conn)
            .await?;
        Ok(())
    }
}

/// Records the start of a policy run.
pub async fn start(pool: &PgPool, policy: &str, worker: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("INSERT INTO policy_runs (policy, worker) VALUES ($1, $2) RETURNING id")
        .bind(policy)
        .bind(worker)
        .fetch_one(pool)
        .await
}

/// Records how a policy run ended, and the audit run it belonged to.
pub async fn finish(
    pool: &PgPool,
    id: i64,
    run_id: Option<i64>,
    exit_code: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE policy_runs SET finished_at = now(), exit_code = $2, run_id = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(exit_code)
    .bind(run_id)
    .execute(pool)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
