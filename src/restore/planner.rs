//! Deciding a restore key by key, into the plan's summary and items.

use super::{
    step, withhold, Request, RestoreInfo, SideCopy, Step, ACTION, COPY_BACK, REMOVE_NEWER,
    SIDE_COPY, UNMARK,
};
use crate::inventory::InventoryRow;
use crate::plan::items::{ItemBatch, Start};
use crate::plan::{cost, PlanSummary, Prices};
use serde_json::json;

/// Decides keys one at a time into the summary and the item batch.
pub(super) struct Planner<'a> {
    req: &'a Request<'a>,
    prices: &'a Prices,
    summary: &'a mut PlanSummary,
    pub batch: ItemBatch,
}

impl<'a> Planner<'a> {
    pub fn new(req: &'a Request<'a>, prices: &'a Prices, summary: &'a mut PlanSummary) -> Self {
        let batch = ItemBatch::new(summary.plan_id);
        Planner {
            req,
            prices,
            summary,
            batch,
        }
    }

    /// One key's versions, newest first.
    pub fn key(&mut self, versions: &[InventoryRow]) {
        let Some(current) = versions.first() else {
            return;
        };
        if current.last_modified > self.req.to {
            self.info().keys_changed += 1;
        }
        if let Some(side) = &self.req.side {
            return self.side_copy(versions, side);
        }
        match step(versions, self.req.to) {
            Step::Unchanged | Step::Absent => {}
            Step::Newer if self.req.remove_newer => {
                self.summary.record(2, current, None);
                let params = json!({ "op": "mark" }).to_string();
                self.batch
                    .push_as(REMOVE_NEWER, ACTION, &params, current, Start::Pending);
            }
            Step::Newer => {
                let kept = &mut self.info().newer_kept;
                withhold(
                    kept,
                    current,
                    "created after the moment; kept (--remove-newer removes it)",
                );
            }
            Step::Unmark { restores, markers } => {
                self.summary
                    .record(1, restores, Some(cost::Cost::default()));
                let params = json!({ "op": "unmark", "markers": markers,
                                     "restores": restores.version_id });
                self.push(UNMARK, current, restores, &params, Start::Pending);
            }
            Step::CopyBack { source } => {
                let cost = cost::restore_cost(self.prices, source);
                self.summary.record(0, source, cost);
                self.push(
                    COPY_BACK,
                    current,
                    source,
                    &copy_params(source),
                    Start::Pending,
                );
            }
            Step::Frozen { source } if self.req.thaw.is_some() => {
                let cost = cost::restore_cost(self.prices, source);
                self.summary.record(0, source, cost);
                let mut params = copy_params(source);
                params["thaw"] = self.req.thaw.map(|t| t.param()).into();
                self.push(COPY_BACK, current, source, &params, Start::Pending);
            }
            Step::Frozen { source } => {
                let class = source.storage_class.as_deref().unwrap_or_default();
                let reason = format!(
                    "cannot restore: version {} is in {class} and must be thawed before it \
                     can be copied (pass --thaw-days N)",
                    source.version_id.as_deref().unwrap_or("null")
                );
                withhold(&mut self.info().cannot, source, &reason);
                let start = Start::Blocked {
                    reason,
                    eligible_at: None,
                };
                self.push(COPY_BACK, current, source, &copy_params(source), start);
            }
        }
    }

    /// An item on `current` (the version checked before acting) that brings back `restored`.
    fn push(
        &mut self,
        rule: &str,
        current: &InventoryRow,
        restored: &InventoryRow,
        params: &serde_json::Value,
        start: Start,
    ) {
        let row = InventoryRow {
            size: restored.size,
            ..current.clone()
        };
        self.batch
            .push_as(rule, ACTION, &params.to_string(), &row, start);
    }

    /// A side copy of the key's version of the moment, if it had one.
    fn side_copy(&mut self, versions: &[InventoryRow], side: &SideCopy) {
        let Some(source) = super::step::then(versions, self.req.to) else {
            return;
        };
        let mut params = copy_params(source);
        params["op"] = json!("side_copy");
        params["dest_bucket"] = json!(side.bucket);
        params["dest_key"] = json!(format!("{}{}", side.prefix, source.key));
        let frozen = super::is_frozen(source.storage_class.as_deref());
        let start = match (frozen, self.req.thaw) {
            (true, Some(thaw)) => {
                params["thaw"] = thaw.param();
                Start::Pending
            }
            (true, None) => {
                let reason = format!(
                    "cannot copy: version {} is in {} and must be thawed first (pass --thaw-days N)",
                    source.version_id.as_deref().unwrap_or("null"),
                    source.storage_class.as_deref().unwrap_or_default()
                );
                withhold(&mut self.info().cannot, source, &reason);
                Start::Blocked {
                    reason,
                    eligible_at: None,
                }
            }
            (false, _) => Start::Pending,
        };
        if matches!(start, Start::Pending) {
            self.summary
                .record(3, source, cost::restore_cost(self.prices, source));
        }
        self.batch
            .push_as(SIDE_COPY, ACTION, &params.to_string(), source, start);
    }

    fn info(&mut self) -> &mut RestoreInfo {
        self.summary.restore.as_mut().expect("a restore plan")
    }
}

fn copy_params(source: &InventoryRow) -> serde_json::Value {
    json!({
        "op": "copy",
        "source_version_id": source.version_id,
        "source_etag": source.etag,
        "source_size": source.size,
        "storage_class": source.storage_class,
    })
}
