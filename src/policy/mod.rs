//! Policy files: YAML → wire structs → validated typed model, before any I/O.
//!
//! [`load`] reads files or directories and returns the [`PolicySet`] with any warnings, or
//! [`Invalid`] with every problem found, each located as `file:line:col: policy/rule: message`.

mod actions;
mod checks;
pub mod costs;
mod diagnostic;
mod evidence;
mod group;
mod load;
pub mod location;
mod matcher;
mod model;
mod provider;
mod revision;
mod scalars;
mod schema;
mod shadow;
mod storage_spec;
mod target;
pub mod units;
mod validate;
mod when;
mod wire;

pub use checks::costs_of;
pub use diagnostic::{Diagnostic, Invalid, Severity};
pub use evidence::CheckpointCopy;
pub use model::*;
pub use revision::revision;
pub use schema::json_schema;
pub use validate::API_VERSION;

use std::path::PathBuf;

/// A valid policy set and the warnings found while validating it.
#[derive(Debug)]
pub struct Loaded {
    pub set: PolicySet,
    pub warnings: Vec<Diagnostic>,
}

/// Loads and validates the policy files under `paths`, expanding `${VAR}` from the process
/// environment.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, Invalid> {
    load_with_env(paths, &|name| std::env::var(name).ok())
}

/// As [`load`], with an explicit environment (tests, and callers that sandbox it).
pub fn load_with_env(paths: &[PathBuf], env: validate::EnvLookup) -> Result<Loaded, Invalid> {
    let mut diagnostics = Vec::new();
    let files = load::policy_files(paths, &mut diagnostics);
    let docs: Vec<_> = files
        .iter()
        .flat_map(|f| load::read_file(f, &mut diagnostics))
        .collect();
    let set = validate::build_set(docs, env, &mut diagnostics);
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(Invalid(diagnostics));
    }
    Ok(Loaded {
        set,
        warnings: diagnostics,
    })
}

#[cfg(test)]
mod access_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
