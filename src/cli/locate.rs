//! `shelflife locate s3://BUCKET/KEY`: where an object went, from the inventory, the audit
//! trail and a HEAD of the key now.

use super::context::{object_url, App};
use super::exit::Exit;
use super::output::{bytes, time};
use super::Format;
use crate::restore::locate::{locate, HistoryEvent, Located};
use crate::storage::{ErrorKind, ObjectStore};
use anyhow::Result;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, clap::Args)]
pub struct LocateArgs {
    /// The object, as s3://BUCKET/KEY.
    url: String,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// The key now, by HEAD.
#[derive(Debug, Clone, Serialize)]
struct Now {
    /// The Storage asked.
    storage: String,
    /// `false`: no current version (never written, deleted, or a delete marker is current).
    exists: bool,
    version_id: Option<String>,
    size: Option<i64>,
    storage_class: Option<String>,
    /// `x-amz-restore` of an archived version, as the server reported it.
    thaw: Option<String>,
    /// Why the HEAD failed, when it did.
    error: Option<String>,
}

#[derive(Serialize)]
struct Output<'a> {
    #[serde(flatten)]
    located: &'a Located,
    now: Option<Now>,
}

pub async fn run(app: &App, args: LocateArgs) -> Result<Exit> {
    let (bucket, key) = object_url(&args.url)?;
    let pool = app.pool().await?;
    let located = locate(&pool, bucket, key).await?;
    let now = now(app, &located).await;
    match args.format {
        Format::Json => {
            let output = Output {
                located: &located,
                now,
            };
            println!("{}", serde_json::to_string_pretty(&output)?);
        }
        Format::Text => print!("{}", render(&located, now.as_ref())),
    }
    Ok(Exit::Ok)
}

/// HEADs the key on the Storage of a policy targeting its bucket (or of its last event).
async fn now(app: &App, located: &Located) -> Option<Now> {
    let set = app.load_policies().ok()?;
    let storage = set
        .policies
        .iter()
        .find(|p| p.target.bucket == located.bucket)
        .map(|p| p.target.storage.clone())
        .or_else(|| {
            let own = located.events.iter().rev().find(|e| !e.arrived);
            own.map(|e| e.event.storage.clone())
        })?;
    let mut now = Now {
        storage: storage.clone(),
        exists: false,
        version_id: None,
        size: None,
        storage_class: None,
        thaw: None,
        error: None,
    };
    let head = match app.store(&set, &storage).await {
        Ok(store) => store.head(&located.bucket, &located.key, None).await,
        Err(err) => {
            now.error = Some(format!("{err:#}"));
            return Some(now);
        }
    };
    match head {
        Ok(head) => {
            now.exists = true;
            now.version_id = head.version_id;
            now.size = Some(head.size);
            now.storage_class = head.storage_class;
            now.thaw = head.thaw.map(|t| match (t.ongoing, t.expiry) {
                (true, _) => "thawing".to_string(),
                (false, Some(until)) => format!("thawed until {until}"),
                (false, None) => "thawed".to_string(),
            });
        }
        Err(err) if err.kind == ErrorKind::NotFound => {}
        Err(err) => now.error = Some(err.to_string()),
    }
    Some(now)
}

fn render(l: &Located, now: Option<&Now>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "s3://{}/{}", l.bucket, l.key);
    let _ = match now {
        None => writeln!(out, "  now: unknown (no Storage found for the bucket)"),
        Some(Now { error: Some(e), .. }) => writeln!(out, "  now: unknown ({e})"),
        Some(n) if !n.exists => writeln!(out, "  now: no current version (storage {})", n.storage),
        Some(n) => writeln!(
            out,
            "  now: version {} ({}, {}{}) on storage {}",
            n.version_id.as_deref().unwrap_or("null"),
            bytes(n.size.unwrap_or(0)),
            n.storage_class.as_deref().unwrap_or("STANDARD"),
            n.thaw
                .as_ref()
                .map(|t| format!(", {t}"))
                .unwrap_or_default(),
            n.storage
        ),
    };
    match (l.scan_id, l.scanned_at) {
        (Some(scan), Some(at)) => {
            let _ = writeln!(
                out,
                "  inventory: scan {scan}, read {}: {} versions",
                time(&at),
                l.versions.len()
            );
            for v in &l.versions {
                let what = match (v.is_delete_marker, v.is_latest) {
                    (true, _) => "delete marker".to_string(),
                    (false, true) => format!("current, {}", bytes(v.size)),
                    (false, false) => format!("noncurrent, {}", bytes(v.size)),
                };
                let class = v.storage_class.as_deref().unwrap_or("");
                let id = v.version_id.as_deref().unwrap_or("null");
                let _ = writeln!(
                    out,
                    "    {id}  {what} {class}  modified {}",
                    time(&v.last_modified)
                );
            }
        }
        _ => {
            let _ = writeln!(out, "  inventory: no scan covers the key");
        }
    }
    if let Some(a) = &l.last_access {
        let _ = writeln!(out, "  last access: {a}");
    }
    let _ = writeln!(out, "  history: {} events", l.events.len());
    for e in &l.events {
        let _ = writeln!(out, "    {}", event_line(e));
    }
    for t in &l.thawing {
        let _ = writeln!(
            out,
            "  thawing: plan {} asked for a thaw at {}; `shelflife apply --plan {} --yes` completes it once thawed",
            t.event.plan_id.unwrap_or_default(),
            time(&t.event.at),
            t.event.plan_id.unwrap_or_default()
        );
    }
    out
}

fn event_line(h: &HistoryEvent) -> String {
    let e = &h.event;
    let run = e.run_id.map(|r| format!("run {r} ")).unwrap_or_default();
    let plan = e.plan_id.map(|p| format!("plan {p} ")).unwrap_or_default();
    let version = e.version_id.as_deref().unwrap_or("null");
    let mut line = format!(
        "{} {run}{plan}policy {} rule {}: {} {} (version {version})",
        time(&e.at),
        e.policy,
        e.rule,
        e.action,
        e.outcome
    );
    if h.arrived {
        line = format!("{line}: archived here from s3://{}/{}", e.bucket, e.key);
    } else if let Some((url, v)) = h.destination() {
        let v = v.map(|v| format!(" version {v}")).unwrap_or_default();
        line = format!("{line} → {url}{v}");
    }
    if let Some(marker) = e
        .state_after
        .get("delete_marker_version_id")
        .and_then(|m| m.as_str())
    {
        line = format!("{line}, delete marker {marker}");
    }
    if let Some(seq) = e.state_after.get("undoes") {
        line = format!("{line}, undoes event {seq}");
    }
    if let Some(reason) = &e.reason {
        line = format!("{line}: {reason}");
    }
    line
}
