//! Documentation that shows policy YAML must be valid policy YAML.

use std::path::Path;

/// The ```yaml blocks of a Markdown file, with the line each starts on.
fn yaml_blocks(markdown: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in markdown.lines().enumerate() {
        match (&mut current, line.trim_start()) {
            (None, "```yaml") => current = Some((n + 2, String::new())),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// A `when:` fragment, made into a one-rule policy over a defined storage.
fn as_policy(fragment: &str) -> String {
    let indented: String = fragment.lines().map(|l| format!("      {l}\n")).collect();
    format!(
        "apiVersion: shelflife.dev/v1\nkind: Storage\nmetadata: {{ name: local }}\nspec: {{ provider: aws }}\n---\n\
         apiVersion: shelflife.dev/v1\nkind: Policy\nmetadata: {{ name: doc }}\nspec:\n  target: {{ storage: local, bucket: b }}\n  rules:\n    - name: r\n{indented}      then: delete\n"
    )
}

#[test]
fn every_yaml_block_in_the_readme_is_valid_policy_yaml() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let blocks = yaml_blocks(&readme);
    assert!(blocks.len() >= 2, "the README shows policy YAML");
    for (line, block) in blocks {
        let text = if block.trim_start().starts_with("when:") {
            as_policy(&block)
        } else {
            block
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("block.yaml"), &text).unwrap();
        let env = |name: &str| (name == "S3_ENDPOINT").then(|| "http://127.0.0.1:9000".to_string());
        if let Err(invalid) = shelflife::policy::load_with_env(&[dir.path().to_path_buf()], &env) {
            panic!("README.md block at line {line} is invalid:\n{invalid}\n---\n{text}");
        }
    }
}

fn repo(path: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn example_env(name: &str) -> Option<String> {
    (name == "S3_ENDPOINT").then(|| "http://127.0.0.1:9000".to_string())
}

#[test]
fn every_example_policy_is_valid_without_warnings() {
    let loaded = shelflife::policy::load_with_env(&[repo("policies")], &example_env)
        .unwrap_or_else(|invalid| panic!("policies/ is invalid:\n{invalid}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let names: Vec<&str> = loaded
        .set
        .policies
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    for wanted in ["inference-logs", "datasets", "checkpoints", "models"] {
        assert!(names.contains(&wanted), "no {wanted} example in {names:?}");
    }
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let committed = std::fs::read_to_string(repo("policies/shelflife.schema.json")).unwrap();
    let generated = serde_json::to_string_pretty(&shelflife::policy::json_schema()).unwrap();
    assert_eq!(
        committed.trim_end(),
        generated,
        "regenerate it: shelflife schema > policies/shelflife.schema.json"
    );
}

/// Every YAML document of `file`, as JSON.
fn documents(file: &Path) -> Vec<serde_json::Value> {
    use serde::Deserialize;
    let text = std::fs::read_to_string(file).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|de| serde_yaml::Value::deserialize(de).unwrap())
        .filter(|v| !v.is_null())
        .map(|v| serde_json::to_value(v).unwrap())
        .collect()
}

fn yaml_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_json_schema_accepts_every_example_and_rejects_mistakes() {
    let schema = shelflife::policy::json_schema();
    let validator = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let mut files = yaml_files(&repo("policies"));
    files.extend(yaml_files(&repo("tests/fixtures/policies/valid")));
    files.push(repo("tests/fixtures/policies/storages.yaml"));
    let mut checked = 0;
    for file in &files {
        for doc in documents(file) {
            let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{}: {errors:?}", file.display());
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} documents checked");
    // Mistakes the loader rejects structurally, the schema rejects too.
    for name in [
        "unknown-spec-field",
        "unknown-field-in-tier",
        "unknown-action-map",
        "unknown-provider",
        "legal-hold-maybe",
        "lock-unknown-mode",
    ] {
        let file = repo(&format!("tests/fixtures/policies/invalid/{name}.yaml"));
        let docs = documents(&file);
        assert!(
            docs.iter().any(|d| !validator.is_valid(d)),
            "the schema accepts {name}"
        );
    }
}
