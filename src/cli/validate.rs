//! `shelflife validate`: lint policy files without touching the network.

use super::context::App;
use super::exit::{Exit, UsageError};
use super::Format;
use crate::policy::{self, Invalid};
use anyhow::Result;
use std::path::PathBuf;

pub fn run(app: &App, paths: Vec<PathBuf>, format: Format) -> Result<Exit> {
    let paths = if paths.is_empty() {
        vec![app.policies.clone()]
    } else {
        paths
    };
    let (diagnostics, valid, counts) = match policy::load(&paths) {
        Ok(loaded) => {
            let counts = (loaded.set.policies.len(), loaded.set.storages.len());
            (loaded.warnings, true, Some(counts))
        }
        Err(Invalid(diagnostics)) => (diagnostics, false, None),
    };
    if counts == Some((0, 0)) {
        // A lint pointed at the wrong directory must not pass.
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        let msg = format!(
            "nothing to validate: no shelflife documents in {}",
            shown.join(", ")
        );
        return Err(UsageError(msg).into());
    }
    match format {
        Format::Json => {
            let report = serde_json::json!({ "valid": valid, "diagnostics": diagnostics });
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Format::Text => {
            for d in &diagnostics {
                println!("{d}");
            }
            match counts {
                Some((policies, storages)) => {
                    println!("valid: {policies} policies, {storages} storages")
                }
                None => {
                    let errors = diagnostics
                        .iter()
                        .filter(|d| d.severity == policy::Severity::Error)
                        .count();
                    println!("invalid: {errors} error(s)");
                }
            }
        }
    }
    Ok(if valid { Exit::Ok } else { Exit::Invalid })
}
