//! "Where did it go?": one key's versions as the latest inventory holds them, and its history
//! in the audit trail: what each policy, plan and run did to it, where archives put it (and
//! copies that landed at this key), undos, and thaws still in progress.
//!
//! The trail is searched without an index on the key: an index on every event would slow
//! every apply down for a question asked now and then, and PostgreSQL scans the trail in
//! parallel.

use crate::audit::StoredEvent;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

/// What is known about one key.
#[derive(Debug, Clone, Serialize)]
pub struct Located {
    pub bucket: String,
    pub key: String,
    /// The newest complete scan whose prefixes cover the key, and when it read the bucket.
    pub scan_id: Option<i64>,
    pub scanned_at: Option<DateTime<Utc>>,
    /// The key's versions in that scan, newest first.
    pub versions: Vec<VersionSeen>,
    /// Events about the key, oldest first.
    pub events: Vec<HistoryEvent>,
    /// Thaws asked for and not yet followed by the item's final event.
    pub thawing: Vec<HistoryEvent>,
    /// The key's last read in the ingested access logs, and the log line it came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_access: Option<crate::access::LastAccess>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct VersionSeen {
    pub version_id: Option<String>,
    pub is_latest: bool,
    pub is_delete_marker: bool,
    pub size: i64,
    pub etag: Option<String>,
    pub last_modified: DateTime<Utc>,
    pub storage_class: Option<String>,
}

/// An event of the key's history: the event as stored, and whether it happened elsewhere.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct HistoryEvent {
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub event: StoredEvent,
    /// The event is an archive of another key (`event.bucket`, `event.key`) whose copy landed
    /// at this key.
    pub arrived: bool,
}

impl HistoryEvent {
    /// The archive copy an archive event made: `s3://bucket/key` and its version.
    pub fn destination(&self) -> Option<(String, Option<String>)> {
        let dest = self.event.state_after.get("destination")?;
        let url = format!(
            "s3://{}/{}",
            dest.get("bucket")?.as_str()?,
            dest.get("key")?.as_str()?
        );
        let version = dest.get("version_id").and_then(Value::as_str);
        Some((url, version.map(str::to_string)))
    }
}

pub async fn locate(pool: &PgPool, bucket: &str, key: &str) -> Result<Located, sqlx::Error> {
    let scan: Option<(i64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, coalesce(taken_at, started_at) FROM scans \
         WHERE bucket = $1 AND status = 'complete' \
           AND EXISTS (SELECT 1 FROM unnest(prefixes) p WHERE starts_with($2, p)) \
         ORDER BY id DESC LIMIT 1",
    )
    .bind(bucket)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    let versions = match scan {
        Some((scan_id, _)) => {
            sqlx::query_as(
                "SELECT version_id, is_latest, is_delete_marker, size, etag, last_modified, \
                        storage_class \
                 FROM inventory WHERE scan_id = $1 AND key = $2 \
                 ORDER BY is_latest DESC, last_modified DESC, ordinal",
            )
            .bind(scan_id)
            .bind(key)
            .fetch_all(pool)
            .await?
        }
        None => Vec::new(),
    };
    let columns = StoredEvent::COLUMNS;
    let events: Vec<HistoryEvent> = sqlx::query_as(&format!(
        "SELECT {columns}, false AS arrived FROM audit_events \
         WHERE bucket = $1 AND key = $2 \
         UNION ALL \
         SELECT {columns}, true AS arrived FROM audit_events \
         WHERE state_after->'destination'->>'bucket' = $1 \
           AND state_after->'destination'->>'key' = $2 AND NOT (bucket = $1 AND key = $2) \
         ORDER BY seq"
    ))
    .bind(bucket)
    .bind(key)
    .fetch_all(pool)
    .await?;
    let thawing = open_thaws(&events);
    // The bucket's storage is not known here: the newest read on any storage with the bucket.
    let last_access = crate::access::last_access(pool, None, bucket, key, Utc::now()).await?;
    Ok(Located {
        last_access,
        bucket: bucket.to_string(),
        key: key.to_string(),
        scan_id: scan.map(|(id, _)| id),
        scanned_at: scan.map(|(_, at)| at),
        versions,
        events,
        thawing,
    })
}

/// The latest thaw of each plan not followed by a final event of that plan for the key.
fn open_thaws(events: &[HistoryEvent]) -> Vec<HistoryEvent> {
    let mut open: Vec<HistoryEvent> = Vec::new();
    for event in events.iter().filter(|e| !e.arrived) {
        open.retain(|t| t.event.plan_id != event.event.plan_id);
        if event.event.outcome == "thawing" {
            open.push(event.clone());
        }
    }
    open
}
