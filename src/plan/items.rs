//! Writing plan items with one `COPY ... FROM STDIN` in PostgreSQL's text format, fed buffers
//! of up to 5000 rows (a plan may hold millions of items) while the snapshot is still read.

use crate::inventory::copy::{bool_field, int_field, text_field, time_field};
use crate::inventory::InventoryRow;
use crate::policy::Rule;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use tokio::sync::mpsc;

const BATCH: usize = 5000;

const COLUMNS: &str = "plan_id, rule, action, params, key, version_id, is_latest, size, etag, \
                       last_modified, storage_class, is_delete_marker, state, reason, eligible_at, finished_at";

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

/// Plan items encoded for COPY, waiting to be sent.
pub struct ItemBatch {
    plan_id: String,
    /// When withheld items are final (the plan's creation).
    now: DateTime<Utc>,
    buf: Vec<u8>,
    rows: usize,
}

impl ItemBatch {
    pub fn new(plan_id: i64) -> Self {
        ItemBatch {
            plan_id: plan_id.to_string(),
            now: Utc::now(),
            buf: Vec::with_capacity(1 << 20),
            rows: 0,
        }
    }

    pub fn push(&mut self, rule: &Rule, params: &str, row: &InventoryRow, start: Start) {
        let b = &mut self.buf;
        b.extend_from_slice(self.plan_id.as_bytes());
        text_field(b, Some(&rule.name));
        text_field(b, Some(rule.then.kind()));
        text_field(b, Some(params));
        text_field(b, Some(&row.key));
        text_field(b, row.version_id.as_deref());
        bool_field(b, Some(row.is_latest));
        int_field(b, row.size);
        text_field(b, row.etag.as_deref());
        time_field(b, Some(&row.last_modified));
        text_field(b, row.storage_class.as_deref());
        bool_field(b, Some(row.is_delete_marker));
        let (state, reason, eligible_at) = match &start {
            Start::Pending => ("pending", None, None),
            Start::Blocked {
                reason,
                eligible_at,
            } => ("blocked", Some(reason.as_str()), *eligible_at),
            Start::Skipped { reason } => ("skipped", Some(reason.as_str()), None),
        };
        text_field(b, Some(state));
        text_field(b, reason);
        time_field(b, eligible_at.as_ref());
        time_field(b, (state != "pending").then_some(&self.now));
        b.push(b'\n');
        self.rows += 1;
    }

    pub fn is_full(&self) -> bool {
        self.rows >= BATCH
    }

    /// The encoded rows so far (none if empty), leaving the batch empty.
    pub fn take(&mut self) -> Option<Vec<u8>> {
        if self.rows == 0 {
            return None;
        }
        self.rows = 0;
        Some(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(1 << 20),
        ))
    }
}

/// The range of ids a plan's items were given. Apply finds them by it, on the primary key
/// (with `plan_id` still checked: plans written at the same time may interleave).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemIds {
    pub first: i64,
    pub last: i64,
}

impl ItemIds {
    /// The first and last id (both included) of the plan's items above `after`.
    pub fn above(self, after: i64) -> (i64, i64) {
        (after.saturating_add(1).max(self.first), self.last)
    }
}

/// Copies every batch `batches` delivers into `plan_items`, in `tx`, until the sender is
/// dropped; the range of ids the items were given, if there were any.
pub async fn write(
    tx: &mut Transaction<'_, Postgres>,
    mut batches: mpsc::Receiver<Vec<u8>>,
) -> Result<Option<ItemIds>, sqlx::Error> {
    let Some(first_batch) = batches.recv().await else {
        return Ok(None);
    };
    // The ids come from this session's values of the sequence, which only increase: all of
    // them follow the value taken here, and the last is the session's current value after.
    let before: i64 = sqlx::query_scalar("SELECT nextval('plan_items_id_seq')")
        .fetch_one(&mut **tx)
        .await?;
    let mut copy = tx
        .copy_in_raw(&format!("COPY plan_items ({COLUMNS}) FROM STDIN"))
        .await?;
    copy.send(first_batch).await?;
    while let Some(batch) = batches.recv().await {
        copy.send(batch).await?;
    }
    copy.finish().await?;
    let last: i64 = sqlx::query_scalar("SELECT currval('plan_items_id_seq')")
        .fetch_one(&mut **tx)
        .await?;
    Ok(Some(ItemIds {
        first: before + 1,
        last,
    }))
}
