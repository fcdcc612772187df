//! Golden tests of the policy loader: every file in `tests/fixtures/policies/invalid/` must
//! fail with exactly the messages in its `.expected` file, and every file in `valid/` must load
//! into exactly the typed model (and warnings) in its `.expected` file. Each fixture is loaded
//! together with `storages.yaml`. `UPDATE_GOLDEN=1` rewrites the `.expected` files, to be
//! reviewed like code.

use shelflife::policy::{self, Invalid};
use std::path::{Path, PathBuf};

const ROOT: &str = "tests/fixtures/policies";

fn env(name: &str) -> Option<String> {
    (name == "SHELFLIFE_FIXTURE_SET").then(|| "set".to_string())
}

fn fixtures(kind: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join(kind))
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// What loading `fixture` (with the shared storages) gives, as text.
fn outcome(fixture: &Path) -> (bool, String) {
    let paths = [Path::new(ROOT).join("storages.yaml"), fixture.to_path_buf()];
    match policy::load_with_env(&paths, &env) {
        Ok(loaded) => {
            let mut text: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
            let mut set = loaded.set;
            set.storages
                .retain(|name, _| !["aws", "b2", "r2", "minio"].contains(&name.as_str()));
            text.push(format!("{set:#?}"));
            (true, text.join("\n") + "\n")
        }
        Err(Invalid(diagnostics)) => {
            let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            (false, lines.join("\n") + "\n")
        }
    }
}

fn check(kind: &str, want_valid: bool) -> usize {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    let files = fixtures(kind);
    for fixture in &files {
        let (valid, text) = outcome(fixture);
        let expected_path = fixture.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &text).expect("write expected");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if valid != want_valid || text != expected {
            failures.push(format!(
                "{}: valid={valid}\n--- expected\n{expected}--- got\n{text}",
                fixture.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    files.len()
}

#[test]
fn invalid_policies_fail_with_exactly_the_expected_messages() {
    let count = check("invalid", false);
    assert!(count >= 40, "only {count} invalid fixtures");
}

#[test]
fn valid_policies_load_into_exactly_the_expected_model() {
    check("valid", true);
}
