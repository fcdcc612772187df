//! `manifest.json`: what an export covers and the SHA-256 of every file in it.

use super::{io_error, Format, ReportError, Selection, Totals};
use crate::audit::{CheckpointCheck, Evidence, Verification};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    pub name: String,
    pub format: Format,
    pub bytes: u64,
    /// Event rows (row files only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub tool: &'static str,
    pub version: &'static str,
    pub generated_at: String,
    pub range: Range,
    pub filters: Filters,
    pub rows: Rows,
    pub files: Vec<FileEntry>,
    pub chain: Chain,
    pub verification: VerificationResult,
}

#[derive(Debug, Clone, Serialize)]
pub struct Range {
    pub since: String,
    pub until: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Filters {
    pub policies: Vec<String>,
    pub buckets: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rows {
    pub events: u64,
    pub by_outcome: BTreeMap<String, u64>,
}

/// The chain head when the export was made, and the seqs the exported events span.
#[derive(Debug, Clone, Serialize)]
pub struct Chain {
    pub head_seq: i64,
    pub head_hash: Option<String>,
    pub first_seq: Option<i64>,
    pub last_seq: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerificationResult {
    /// `intact` or `broken`.
    pub chain: &'static str,
    /// `consistent` or `broken`.
    pub checkpoints: &'static str,
    pub signed_checkpoints: i64,
    pub details: Vec<String>,
}

impl Manifest {
    pub fn new(
        selection: &Selection,
        totals: &Totals,
        files: Vec<FileEntry>,
        head: Option<(i64, String)>,
        evidence: &Evidence,
    ) -> Self {
        let (head_seq, head_hash) = match head {
            Some((seq, hash)) => (seq, Some(hash)),
            None => (0, None),
        };
        Manifest {
            tool: "shelflife",
            version: env!("CARGO_PKG_VERSION"),
            generated_at: crate::audit::format_time(chrono::Utc::now()),
            range: Range {
                since: crate::audit::format_time(selection.since),
                until: crate::audit::format_time(selection.until),
            },
            filters: Filters {
                policies: selection.policies.clone(),
                buckets: selection.buckets.clone(),
            },
            rows: Rows {
                events: totals.events,
                by_outcome: totals.by_outcome.clone(),
            },
            files,
            chain: Chain {
                head_seq,
                head_hash,
                first_seq: totals.first_seq,
                last_seq: totals.last_seq,
            },
            verification: verification(evidence),
        }
    }

    pub fn write(&self, dir: &Path) -> Result<(), ReportError> {
        let path = dir.join(MANIFEST);
        let json = serde_json::to_string_pretty(self).expect("manifests serialise") + "\n";
        std::fs::write(&path, json).map_err(io_error(&path))
    }
}

fn verification(evidence: &Evidence) -> VerificationResult {
    let chain = match evidence.chain {
        Verification::Intact { .. } => "intact",
        Verification::Broken { .. } => "broken",
    };
    let (checkpoints, signed_checkpoints) = match evidence.checkpoints {
        CheckpointCheck::Consistent { signed, .. } => ("consistent", signed),
        CheckpointCheck::Broken { .. } => ("broken", 0),
    };
    VerificationResult {
        chain,
        checkpoints,
        signed_checkpoints,
        details: evidence.lines().to_vec(),
    }
}
