//! Reading policy files: directories are walked recursively and sorted, every YAML document is
//! parsed into the wire structs, and every problem is reported with its position.

use super::diagnostic::{Diagnostic, Severity};
use super::location::{display_path, index_documents, DocIndex, Path, Seg};
use super::wire::DocumentWire;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path as FsPath, PathBuf};

/// One parsed document with what is needed to locate messages about it.
pub struct SourceDoc {
    pub file: PathBuf,
    pub file_sha256: String,
    pub index: DocIndex,
    pub doc: DocumentWire,
}

/// Collects diagnostics for one document; `scope` is `policy` or `policy/rule`.
pub struct Reporter<'a> {
    pub file: &'a FsPath,
    pub index: &'a DocIndex,
    pub diagnostics: &'a mut Vec<Diagnostic>,
}

impl Reporter<'_> {
    pub fn error(&mut self, scope: &str, path: &[Seg], message: impl Into<String>) {
        let pos = self.index.value(path);
        self.push(scope, pos.line, pos.column, Severity::Error, message.into());
    }

    pub fn warning(&mut self, scope: &str, path: &[Seg], message: impl Into<String>) {
        let pos = self.index.key(path);
        self.push(
            scope,
            pos.line,
            pos.column,
            Severity::Warning,
            message.into(),
        );
    }

    pub fn error_at_key(&mut self, scope: &str, path: &[Seg], message: impl Into<String>) {
        let pos = self.index.key(path);
        self.push(scope, pos.line, pos.column, Severity::Error, message.into());
    }

    fn push(
        &mut self,
        scope: &str,
        line: usize,
        column: usize,
        severity: Severity,
        message: String,
    ) {
        self.diagnostics.push(Diagnostic {
            file: self.file.to_path_buf(),
            line,
            column,
            scope: scope.to_string(),
            severity,
            message,
        });
    }

    /// Deserializes `value` (found at `base`) into `T`, reporting a failure at the failing node.
    pub fn parse<T: DeserializeOwned>(
        &mut self,
        scope: &str,
        base: &[Seg],
        value: serde_yaml::Value,
    ) -> Option<T> {
        match serde_path_to_error::deserialize::<_, T>(value) {
            Ok(v) => Some(v),
            Err(err) => {
                let mut path: Path = base.to_vec();
                path.extend(err.path().iter().filter_map(|seg| match seg {
                    serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
                    serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
                    serde_path_to_error::Segment::Enum { variant } => {
                        Some(Seg::Key(variant.clone()))
                    }
                    serde_path_to_error::Segment::Unknown => None,
                }));
                let inner = untagged_hint(with_suggestion(err.into_inner().to_string()));
                let message = match display_path(&path) {
                    p if p.is_empty() => inner,
                    p => format!("{p}: {inner}"),
                };
                if message.contains("unknown field") {
                    self.error_at_key(scope, &path, message);
                } else {
                    self.error(scope, &path, message);
                }
                None
            }
        }
    }
}

/// serde_yaml reads an enum's map form (`{ tier: {...} }`) only as a YAML tag (`!tier {...}`);
/// turns a one-key map into that, so the enum's serde derive can read it.
pub fn single_key_as_tag(value: serde_yaml::Value) -> serde_yaml::Value {
    use serde_yaml::value::{Tag, TaggedValue};
    match value {
        serde_yaml::Value::Mapping(map) if map.len() == 1 => {
            let (k, v) = map.into_iter().next().expect("one entry");
            match k {
                serde_yaml::Value::String(name) => {
                    serde_yaml::Value::Tagged(Box::new(TaggedValue {
                        tag: Tag::new(name),
                        value: v,
                    }))
                }
                k => serde_yaml::Value::Mapping([(k, v)].into_iter().collect()),
            }
        }
        other => other,
    }
}

/// The policy files under `paths`: files as given, directories walked for `*.yaml`/`*.yml`.
/// Hidden entries (names starting with `.`) are not walked: a Kubernetes ConfigMap volume
/// holds each file twice more under `..data/` and a timestamped `..2026_…` directory, and
/// editors keep swap and backup files there.
pub fn policy_files(paths: &[PathBuf], diagnostics: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files, diagnostics);
        } else {
            files.push(path.clone());
        }
    }
    files.sort();
    files.dedup();
    files
}

fn walk(dir: &FsPath, files: &mut Vec<PathBuf>, diagnostics: &mut Vec<Diagnostic>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => return diagnostics.push(io_diagnostic(dir, &err)),
    };
    for entry in entries.flatten() {
        if entry.file_name().as_encoded_bytes().starts_with(b".") {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files, diagnostics);
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
}

fn io_diagnostic(path: &FsPath, err: &std::io::Error) -> Diagnostic {
    Diagnostic {
        file: path.to_path_buf(),
        line: 1,
        column: 1,
        scope: "-".into(),
        severity: Severity::Error,
        message: format!("cannot read: {err}"),
    }
}

/// Parses every document of one file into wire form; problems go to `diagnostics`.
pub fn read_file(file: &FsPath, diagnostics: &mut Vec<Diagnostic>) -> Vec<SourceDoc> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) => {
            diagnostics.push(io_diagnostic(file, &err));
            return Vec::new();
        }
    };
    let file_sha256 = hex::encode(Sha256::digest(text.as_bytes()));
    let indexes = index_documents(&text);
    let mut docs = Vec::new();
    for (n, de) in serde_yaml::Deserializer::from_str(&text).enumerate() {
        let index = indexes.get(n).cloned().unwrap_or_default();
        let value = match serde_yaml::Value::deserialize(de) {
            Ok(serde_yaml::Value::Null) => continue,
            Ok(value) => value,
            Err(err) => {
                let (line, column) = err.location().map_or((1, 1), |l| (l.line(), l.column()));
                diagnostics.push(Diagnostic {
                    file: file.to_path_buf(),
                    line,
                    column,
                    scope: "-".into(),
                    severity: Severity::Error,
                    message: format!("invalid YAML: {}", strip_location(&err.to_string())),
                });
                break;
            }
        };
        let scope = document_name(&value);
        let mut reporter = Reporter {
            file,
            index: &index,
            diagnostics,
        };
        if let Some(doc) = reporter.parse::<DocumentWire>(&scope, &[], value) {
            docs.push(SourceDoc {
                file: file.to_path_buf(),
                file_sha256: file_sha256.clone(),
                index,
                doc,
            });
        }
    }
    docs
}

/// `metadata.name` if the document has one, for scoping messages before it is parsed.
fn document_name(value: &serde_yaml::Value) -> String {
    value
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(|n| n.as_str())
        .unwrap_or("-")
        .to_string()
}

/// serde_yaml appends " at line L column C" to its messages; the diagnostic already says where.
fn strip_location(message: &str) -> String {
    match message.find(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// serde says only "data did not match any variant of untagged enum X"; says what X accepts.
fn untagged_hint(message: String) -> String {
    let Some(name) = message.strip_prefix("data did not match any variant of untagged enum ")
    else {
        return message;
    };
    let expected = match name.trim() {
        "TagCondWire" => {
            "a tag value, or one of { exists: true }, { absent: true }, { in: [a, b] }"
        }
        "SizeWire" => "a size such as 128KiB, 5GB, or a number of bytes",
        "OneOrMany" => "a storage class or a list of them",
        _ => return message,
    };
    format!("expected {expected}")
}

/// Adds "did you mean" to serde's "unknown field/variant `x`, expected one of `a`, `b`".
fn with_suggestion(message: String) -> String {
    let Some(rest) = message
        .split_once("unknown field `")
        .or_else(|| message.split_once("unknown variant `"))
        .map(|(_, r)| r)
    else {
        return message;
    };
    let Some((unknown, expected)) = rest.split_once('`') else {
        return message;
    };
    let candidates = expected.split('`').skip(1).step_by(2);
    let best = candidates
        .map(|c| {
            (
                strsim::levenshtein(&unknown.to_ascii_lowercase(), &c.to_ascii_lowercase()),
                c,
            )
        })
        .min();
    match best {
        Some((distance, c)) if distance <= (c.len() / 3).max(2) => {
            format!("{message}; did you mean `{c}`?")
        }
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::{policy_files, with_suggestion};
    use std::os::unix::fs::symlink;

    #[test]
    fn a_configmap_volume_yields_each_file_once() {
        // What the kubelet writes for a ConfigMap with two keys.
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let stamp = root.join("..2026_11_22_10_00_00.123456789");
        std::fs::create_dir(&stamp).unwrap();
        for name in ["logs.yaml", "models.yaml"] {
            std::fs::write(stamp.join(name), "kind: Policy\n").unwrap();
            symlink(format!("..data/{name}"), root.join(name)).unwrap();
        }
        symlink(stamp.file_name().unwrap(), root.join("..data")).unwrap();
        std::fs::write(root.join(".logs.yaml.swp"), "").unwrap();
        let mut diagnostics = Vec::new();
        let files = policy_files(&[root.to_path_buf()], &mut diagnostics);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(files, [root.join("logs.yaml"), root.join("models.yaml")]);
        // Named on the command line, a hidden path is still read.
        let named = policy_files(&[root.join("..data/logs.yaml")], &mut diagnostics);
        assert_eq!(named.len(), 1);
    }

    #[test]
    fn near_misses_get_a_suggestion_and_far_ones_do_not() {
        let m = with_suggestion(
            "unknown field `olderthan`, expected `olderThan` or `youngerThan`".into(),
        );
        assert!(m.ends_with("did you mean `olderThan`?"), "{m}");
        let m = with_suggestion(
            "unknown variant `amazon`, expected one of `aws`, `b2`, `minio`".into(),
        );
        assert!(!m.contains("did you mean"), "{m}");
        let m =
            with_suggestion("unknown field `whne`, expected one of `name`, `when`, `then`".into());
        assert!(m.ends_with("did you mean `when`?"), "{m}");
    }
}
