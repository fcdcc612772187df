//! Writing plan items in batches of up to 1000 rows per statement.

use crate::inventory::InventoryRow;
use crate::policy::Rule;
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Transaction};

const BATCH: usize = 1000;

/// How an item starts: to be acted on, or withheld with a reason.
pub enum Start {
    Pending,
    Blocked {
        reason: String,
        eligible_at: Option<DateTime<Utc>>,
    },
    Skipped {
        reason: String,
    },
}

/// Plan items waiting to be inserted, column by column (for `UNNEST`).
#[derive(Default)]
pub struct ItemBatch {
    plan_id: i64,
    rule: Vec<String>,
    action: Vec<String>,
    params: Vec<serde_json::Value>,
    key: Vec<String>,
    version_id: Vec<Option<String>>,
    is_latest: Vec<bool>,
    is_delete_marker: Vec<bool>,
    size: Vec<i64>,
    etag: Vec<Option<String>>,
    last_modified: Vec<DateTime<Utc>>,
    storage_class: Vec<Option<String>>,
    state: Vec<&'static str>,
    reason: Vec<Option<String>>,
    eligible_at: Vec<Option<DateTime<Utc>>>,
}

impl ItemBatch {
    pub fn new(plan_id: i64) -> Self {
        ItemBatch {
            plan_id,
            ..Default::default()
        }
    }

    pub fn push(
        &mut self,
        rule: &Rule,
        params: serde_json::Value,
        row: &InventoryRow,
        start: Start,
    ) {
        self.rule.push(rule.name.clone());
        self.action.push(rule.then.kind().to_string());
        self.params.push(params);
        self.key.push(row.key.clone());
        self.version_id.push(row.version_id.clone());
        self.is_latest.push(row.is_latest);
        self.is_delete_marker.push(row.is_delete_marker);
        self.size.push(row.size);
        self.etag.push(row.etag.clone());
        self.last_modified.push(row.last_modified);
        self.storage_class.push(row.storage_class.clone());
        let (state, reason, eligible_at) = match start {
            Start::Pending => ("pending", None, None),
            Start::Blocked {
                reason,
                eligible_at,
            } => ("blocked", Some(reason), eligible_at),
            Start::Skipped { reason } => ("skipped", Some(reason), None),
        };
        self.state.push(state);
        self.reason.push(reason);
        self.eligible_at.push(eligible_at);
    }

    pub fn is_full(&self) -> bool {
        self.key.len() >= BATCH
    }

    pub async fn flush(&mut self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        if self.key.is_empty() {
            return Ok(());
        }
        let conn: &mut PgConnection = tx;
        sqlx::query(
            "INSERT INTO plan_items (plan_id, rule, action, params, key, version_id, is_latest, size, etag, \
             last_modified, storage_class, is_delete_marker, state, reason, eligible_at, finished_at) \
             SELECT $1, u.*, CASE WHEN u.state = 'pending' THEN NULL ELSE now() END \
               FROM UNNEST($2::text[], $3::text[], $4::jsonb[], $5::text[], $6::text[], $7::bool[], \
                           $8::int8[], $9::text[], $10::timestamptz[], $11::text[], $12::bool[], $13::text[], \
                           $14::text[], $15::timestamptz[]) AS u(rule, action, params, key, version_id, is_latest, \
                           size, etag, last_modified, storage_class, is_delete_marker, state, reason, eligible_at)",
        )
        .bind(self.plan_id)
        .bind(&self.rule)
        .bind(&self.action)
        .bind(&self.params)
        .bind(&self.key)
        .bind(&self.version_id)
        .bind(&self.is_latest)
        .bind(&self.size)
        .bind(&self.etag)
        .bind(&self.last_modified)
        .bind(&self.storage_class)
        .bind(&self.is_delete_marker)
        .bind(&self.state)
        .bind(&self.reason)
        .bind(&self.eligible_at)
        .execute(conn)
        .await?;
        *self = ItemBatch::new(self.plan_id);
        Ok(())
    }
}
