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
