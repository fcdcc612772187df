//! `shelflife scan`: refresh the inventory of each selected policy's target.

use super::context::{select, App};
use super::exit::Exit;
use super::output::bytes;
use crate::inventory;
use crate::plan::target_of;
use anyhow::{Context, Result};

pub async fn run(app: &App, names: &[String]) -> Result<Exit> {
    let set = app.load_policies()?;
    let policies = select(&set, names)?;
    let pool = app.pool().await?;
    let mut targets = Vec::new();
    for policy in policies {
        let target = target_of(policy);
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    for target in targets {
        let store = app.store(&set, &target.storage).await?;
        let summary = inventory::scan(&pool, &store, &target)
            .await
            .with_context(|| {
                format!(
                    "scan of s3://{}/{} on {} failed",
                    target.bucket, target.prefix, target.storage
                )
            })?;
        println!(
            "scanned s3://{}/{} on {}: {} versions, {} in {:.1}s (scan {})",
            target.bucket,
            target.prefix,
            target.storage,
            summary.versions,
            bytes(summary.bytes),
            summary.elapsed.as_secs_f64(),
            summary.scan_id
        );
    }
    Ok(Exit::Ok)
}
