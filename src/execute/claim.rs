//! Plan items as a PostgreSQL work queue: claim, release, finish.

use super::{ApplyOptions, ItemResult};
use crate::audit::State;
use crate::plan::PlanSummary;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// An item's `state_before`, written without building a JSON value: its fields are declared
/// in sorted order, so it serialises to the text the value's sorted map would.
#[derive(Serialize)]
struct StateBefore<'a> {
    etag: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    future_clock_allowed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    is_delete_marker: bool,
    is_latest: bool,
    last_modified: String,
    plan_clock: &'a str,
    storage_class: Option<&'a str>,
    version_id: Option<&'a str>,
}

/// A claimed plan item.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Item {
    pub id: i64,
    pub rule: String,
    pub action: String,
    pub params: sqlx::types::Json<serde_json::Value>,
    pub key: String,
    pub version_id: Option<String>,
    pub is_latest: bool,
    pub is_delete_marker: bool,
    pub size: i64,
    pub etag: Option<String>,
    pub last_modified: DateTime<Utc>,
    pub storage_class: Option<String>,
    /// Claims so far, this one included: more than one means an earlier worker may have acted.
    pub attempts: i32,
}

impl Item {
    /// The version as the plan saw it, for the audit trail; `plan_clock` is the plan's clock
    /// as the audit trail writes times ([`crate::audit::format_time`]); `forecast` marks an
    /// apply of a plan whose clock is still ahead (`future_clock_allowed`).
    pub fn state_before(&self, plan_clock: &str, forecast: bool) -> State {
        State::sorted(&StateBefore {
            etag: self.etag.as_deref(),
            future_clock_allowed: forecast.then_some(true),
            group: self.param_str("group"),
            is_delete_marker: self.is_delete_marker,
            is_latest: self.is_latest,
            last_modified: crate::audit::format_time(self.last_modified),
            plan_clock,
            storage_class: self.storage_class.as_deref(),
            version_id: self.version_id.as_deref(),
        })
    }

    /// The version id to address, `None` for the null version (addressed by key).
    pub fn real_version(&self) -> Option<&str> {
        crate::storage::addressable(self.version_id.as_deref())
    }

    pub fn param_str(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(|v| v.as_str())
    }

    pub fn param_bool(&self, name: &str) -> bool {
        self.params
            .get(name)
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    }
}

/// Claims up to `limit` (at most 1000) open items with ids above `after`: pending ones, and
/// claimed ones whose claim expired. Claims walk the primary key over the plan's ids from where
/// the last one ended, so that none walks over the items finished so far.
/// Items `thawing` are claimed again when last checked before `started` (this apply's start):
/// each apply looks at them once.
pub async fn claim(
    pool: &PgPool,
    plan: &PlanSummary,
    opts: &ApplyOptions,
    (after, started, limit): (i64, DateTime<Utc>, i64),
) -> Result<Vec<Item>, sqlx::Error> {
    let Some(ids) = plan.item_ids else {
        return Ok(Vec::new());
    };
    let (from, to) = ids.above(after);
    // The rows locked are updated where they lie (by ctid, a TID scan): matching them by id
    // again costs an index lookup and a hash per row, half of the claim's time. A row another
    // worker changed after this statement's snapshot is locked but not matched, so not claimed.
    let mut items: Vec<Item> = sqlx::query_as(
        "UPDATE plan_items SET state = 'claimed', claimed_by = $2, \
             claimed_until = now() + make_interval(secs => $3), attempts = attempts + 1 \
         WHERE ctid = ANY(ARRAY(SELECT ctid FROM plan_items \
                      WHERE id BETWEEN $5 AND $6 AND plan_id = $1 \
                        AND (state = 'pending' OR (state = 'claimed' AND claimed_until < now()) \
                             OR (state = 'thawing' AND finished_at < $7)) \
                      ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)) \
         RETURNING id, rule, action, params, key, version_id, is_latest, is_delete_marker, size, etag, \
                   last_modified, storage_class, attempts",
    )
    .bind(plan.plan_id)
    .bind(&opts.worker)
    .bind(opts.claim_ttl.num_milliseconds() as f64 / 1000.0)
    .bind(limit.clamp(1, 1000))
    .bind(from)
    .bind(to)
    .bind(started)
    .fetch_all(pool)
    .await?;
    items.sort_by_key(|i| i.id);
    Ok(items)
}

/// Gives claimed items back (storage unavailable): they stay pending for the next run.
pub async fn release(pool: &PgPool, items: &[Item], worker: &str) -> Result<(), sqlx::Error> {
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    sqlx::query(
        "UPDATE plan_items SET state = 'pending', claimed_by = NULL, claimed_until = NULL \
         WHERE id = ANY($1) AND state = 'claimed' AND claimed_by = $2",
    )
    .bind(&ids)
    .bind(worker)
    .execute(pool)
    .await?;
    Ok(())
}

/// Sets the final states of items this worker still holds; returns the ids it set.
pub async fn finish(
    tx: &mut Transaction<'_, Postgres>,
    items: &[&Item],
    results: &[&ItemResult],
    worker: &str,
) -> Result<HashSet<i64>, sqlx::Error> {
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let states: Vec<&str> = results.iter().map(|r| r.outcome.item_state()).collect();
    let reasons: Vec<Option<String>> = results.iter().map(|r| r.reason.clone()).collect();
    let workers = vec![worker; items.len()];
    // The claim check compares with columns of `u`, not constants: with constants, the planner
    // estimates (from statistics taken while nothing was claimed) that one row holds the claim
    // and joins by scanning `u` once per row of the table. The id range bounds the join to the
    // primary key's range: without it, a group of a few thousand items is joined by hashing a
    // sequential scan of every plan's items (85 ms instead of 25 ms for 8,000 of 100,000).
    let (low, high) = (ids.iter().min(), ids.iter().max());
    let done: Vec<i64> = sqlx::query_scalar(
        "UPDATE plan_items p SET state = u.state, reason = u.reason, finished_at = now(), claimed_until = NULL \
         FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::text[]) AS u(id, state, reason, worker) \
         WHERE p.id = u.id AND p.id BETWEEN $5 AND $6 \
           AND p.claimed_by = u.worker AND p.state = 'claimed' || left(u.worker, 0) \
         RETURNING p.id",
    )
    .bind(&ids)
    .bind(&states)
    .bind(&reasons)
    .bind(&workers)
    .bind(low)
    .bind(high)
    .fetch_all(&mut **tx)
    .await?;
    Ok(done.into_iter().collect())
}

/// The ids of the items this process holds claims on (claimed, not yet recorded), for the
/// heartbeat to renew.
#[derive(Debug, Clone, Default)]
pub struct Held(Arc<Mutex<HashSet<i64>>>);

impl Held {
    pub fn add(&self, items: &[Item]) {
        self.lock().extend(items.iter().map(|i| i.id));
    }

    pub fn remove<'i>(&self, items: impl IntoIterator<Item = &'i Item>) {
        let mut held = self.lock();
        for item in items {
            held.remove(&item.id);
        }
    }

    fn ids(&self) -> Vec<i64> {
        self.lock().iter().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.0.lock().expect("no holder panics")
    }
}

/// Renews this worker's claims (`held`) every third of `ttl`, for as long as it runs; a killed
/// worker stops renewing and its claims expire.
pub async fn heartbeat(pool: PgPool, held: Held, worker: String, ttl: chrono::Duration) {
    let every = (ttl.to_std().unwrap_or_default() / 3).max(std::time::Duration::from_millis(200));
    loop {
        tokio::time::sleep(every).await;
        let renewed = sqlx::query(
            "UPDATE plan_items SET claimed_until = now() + make_interval(secs => $3) \
             WHERE id = ANY($1) AND state = 'claimed' AND claimed_by = $2",
        )
        .bind(held.ids())
        .bind(&worker)
        .bind(ttl.num_milliseconds() as f64 / 1000.0)
        .execute(&pool)
        .await;
        if let Err(err) = renewed {
            tracing::warn!(error = %err, "could not renew claims");
        }
    }
}

/// Marks `plan` applied: its caller knows that none of its items is open.
pub async fn close_plan(pool: &PgPool, plan: &PlanSummary) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE plans SET state = 'applied' WHERE id = $1 AND state = 'planned'")
        .bind(plan.plan_id)
        .execute(pool)
        .await?;
    Ok(())
}

/// How long to wait before looking for work again: `None` when no item is open any more (the
/// plan is then marked applied, in the same statement), no wait when some are pending (given
/// back, or passed over while another claim held them), else until the first of the other
/// workers' claims expires (they may finish first).
pub async fn next_expiry(
    pool: &PgPool,
    plan: &PlanSummary,
) -> Result<Option<std::time::Duration>, sqlx::Error> {
    let (open, pending, seconds): (bool, bool, Option<f64>) = sqlx::query_as(
        "WITH open AS ( \
             SELECT count(*) FILTER (WHERE state <> 'thawing') > 0 AS is_open, \
                    coalesce(bool_or(state = 'thawing'), false) AS thawing, \
                    coalesce(bool_or(state = 'pending'), false) AS pending, \
                    extract(epoch FROM min(claimed_until) FILTER (WHERE state = 'claimed') - now())::float8 AS wait \
             FROM plan_items WHERE id BETWEEN $2 AND $3 AND plan_id = $1 \
                               AND state IN ('pending', 'claimed', 'thawing')), \
         closed AS ( \
             UPDATE plans SET state = 'applied' \
             WHERE id = $1 AND state = 'planned' \
               AND NOT (SELECT is_open OR thawing FROM open)) \
         SELECT is_open, pending, wait FROM open",
    )
    .bind(plan.plan_id)
    .bind(plan.item_ids.map(|ids| ids.first))
    .bind(plan.item_ids.map(|ids| ids.last))
    .fetch_one(pool)
    .await?;
    if !open {
        return Ok(None);
    }
    if pending {
        return Ok(Some(std::time::Duration::ZERO));
    }
    let wait = seconds.map_or(0.0, |s| s.clamp(0.1, 1.0));
    Ok(Some(std::time::Duration::from_secs_f64(wait)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn item(params: serde_json::Value, version: Option<&str>, etag: Option<&str>) -> Item {
        Item {
            id: 7,
            rule: "expire".into(),
            action: "delete".into(),
            params: sqlx::types::Json(params),
            key: "a/\u{7f}odd \"key\"".into(),
            version_id: version.map(str::to_string),
            is_latest: true,
            is_delete_marker: false,
            size: 10,
            etag: etag.map(str::to_string),
            last_modified: Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap(),
            storage_class: Some("STANDARD".into()),
            attempts: 1,
        }
    }

    /// Stored events' hashes cover this text: it must be what the state's JSON value writes.
    #[test]
    fn state_before_writes_the_text_of_its_sorted_json_value() {
        let clock = "2026-12-06T00:00:00.000000Z";
        let cases = [
            (serde_json::json!({}), None, Some("\"e\\\"1\""), false),
            (
                serde_json::json!({ "group": "g-1" }),
                Some("v1"),
                None,
                true,
            ),
        ];
        for (params, version, etag, forecast) in cases {
            let item = item(params, version, etag);
            let mut value = serde_json::json!({
                "version_id": item.version_id,
                "is_latest": item.is_latest,
                "is_delete_marker": item.is_delete_marker,
                "etag": item.etag,
                "last_modified": crate::audit::format_time(item.last_modified),
                "storage_class": item.storage_class,
                "plan_clock": clock,
            });
            if let Some(group) = item.param_str("group") {
                value["group"] = group.into();
            }
            if forecast {
                value["future_clock_allowed"] = true.into();
            }
            let expected = State::from(value);
            assert_eq!(item.state_before(clock, forecast), expected);
        }
    }
}
