//! Property tests of the loader: arbitrary bytes and arbitrary YAML trees never panic, and
//! always give either a model or errors located inside the file that was read.

use super::*;
use proptest::prelude::*;
use serde_yaml::{Mapping, Value};

const STORAGE: &str =
    "apiVersion: shelflife.dev/v1\nkind: Storage\nmetadata: { name: s }\nspec: { provider: aws }\n";

/// Field names and words of the policy language, so generated trees reach deep validation.
const WORDS: &[&str] = &[
    "apiVersion",
    "kind",
    "metadata",
    "name",
    "spec",
    "target",
    "storage",
    "bucket",
    "prefix",
    "prefixes",
    "rules",
    "when",
    "then",
    "key",
    "age",
    "olderThan",
    "youngerThan",
    "size",
    "atLeast",
    "tags",
    "version",
    "noncurrent",
    "newerVersions",
    "moreThan",
    "any",
    "all",
    "not",
    "delete",
    "keep",
    "tier",
    "storageClass",
    "archive",
    "lock",
    "mode",
    "retainFor",
    "retainUntil",
    "legalHold",
    "tag",
    "set",
    "remove",
    "limits",
    "maxPercent",
    "schedule",
    "timezone",
    "source",
    "inventory",
    "from",
    "pattern",
    "key-date",
    "ttl",
    "provider",
    "costs",
    "classes",
    "perGbMonth",
    "30d",
    "7y",
    "128KiB",
    "GLACIER_IR",
    "COMPLIANCE",
    "on",
    "s",
    "p",
    "Policy",
    "Storage",
    "shelflife.dev/v1",
    "logs/{yyyy}/{mm}/{dd}/",
    "@daily",
    "0 3 * * *",
    "glob",
    "regex",
    "[",
    "(",
    "${X}",
    "",
];

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(WORDS).prop_map(str::to_string),
        1 => "[ -~]{0,12}",
    ]
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => word().prop_map(Value::String),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
    ]
}

fn tree() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Sequence),
            prop::collection::vec((word(), inner), 0..6).prop_map(|entries| {
                let map: Mapping = entries
                    .into_iter()
                    .map(|(k, v)| (Value::String(k), v))
                    .collect();
                Value::Mapping(map)
            }),
        ]
    })
}

const MATCHERS: &[&str] = &[
    "key",
    "age",
    "modifiedBefore",
    "modifiedAfter",
    "size",
    "storageClass",
    "version",
    "noncurrentFor",
    "newerVersions",
    "newerInFolder",
    "tags",
    "locked",
    "legalHold",
    "ttl",
    "any",
    "all",
    "not",
];
const ACTIONS: &[&str] = &[
    "keep",
    "delete",
    "tier",
    "archive",
    "lock",
    "legalHold",
    "tag",
];

fn map(entries: Vec<(String, Value)>) -> Value {
    Value::Mapping(
        entries
            .into_iter()
            .map(|(k, v)| (Value::String(k), v))
            .collect(),
    )
}

/// Valid `when` entries and actions, so that mixed with arbitrary ones some rules validate.
const GOOD_WHEN: &[&str] = &[
    "age: { olderThan: 30d }",
    "key: { prefix: logs/, glob: 'logs/**' }",
    "tags: { keep: 'true' }",
    "version: noncurrent",
    "size: { atLeast: 1KiB }",
    "legalHold: off",
    "ttl: { tag: days }",
    "newerInFolder: { moreThan: 2 }",
    "not: { key: { suffix: .tmp } }",
    "storageClass: STANDARD",
];
const GOOD_THEN: &[&str] = &[
    "delete",
    "keep",
    "{ tier: { storageClass: GLACIER_IR } }",
    "{ legalHold: on }",
    "{ lock: { mode: GOVERNANCE, retainFor: 30d } }",
    "{ tag: { set: { a: b } } }",
    "{ archive: { bucket: cold } }",
    "{ delete: { permanent: true } }",
];

fn parsed(texts: &'static [&'static str]) -> impl Strategy<Value = Value> {
    prop::sample::select(texts).prop_map(|t| serde_yaml::from_str(t).expect("valid YAML"))
}

/// A rule with real matcher and action names around arbitrary values.
fn rule() -> impl Strategy<Value = Value> {
    let key = |names: &'static [&'static str]| prop::sample::select(names).prop_map(str::to_string);
    let good = parsed(GOOD_WHEN).prop_map(|v| match v {
        Value::Mapping(m) => m
            .into_iter()
            .next()
            .map(|(k, v)| (k.as_str().unwrap_or("").to_string(), v)),
        _ => None,
    });
    let entry = prop_oneof![
        2 => good.prop_filter_map("one entry", |e| e),
        1 => (key(MATCHERS), tree()),
    ];
    let when = prop::collection::vec(entry, 0..4).prop_map(map);
    let then = prop_oneof![
        2 => parsed(GOOD_THEN),
        1 => key(ACTIONS).prop_map(Value::String),
        1 => (key(ACTIONS), tree()).prop_map(|(k, v)| map(vec![(k, v)])),
    ];
    let name = prop_oneof![2 => "[a-z]{1,8}", 1 => word()];
    (name, when, then).prop_map(|(name, when, then)| {
        map(vec![
            ("name".into(), Value::String(name)),
            ("when".into(), when),
            ("then".into(), then),
        ])
    })
}

/// A Policy spec shaped like the real thing, with arbitrary parts.
fn policy_spec() -> impl Strategy<Value = Value> {
    let target = (word(), word()).prop_map(|(bucket, prefix)| {
        map(vec![
            ("storage".into(), Value::String("s".into())),
            ("bucket".into(), Value::String(bucket)),
            ("prefix".into(), Value::String(prefix)),
        ])
    });
    let extra = prop::collection::vec((word(), tree()), 0..2);
    let extra = prop_oneof![2 => Just(Vec::new()), 1 => extra];
    (target, prop::collection::vec(rule(), 0..4), extra).prop_map(|(target, rules, extra)| {
        let mut entries = vec![
            ("target".into(), target),
            ("rules".into(), Value::Sequence(rules)),
        ];
        entries.extend(extra);
        map(entries)
    })
}

/// A document with the right envelope around an arbitrary spec, or an arbitrary tree.
fn document() -> impl Strategy<Value = String> {
    let spec = prop_oneof![
        2 => policy_spec().prop_map(|s| ("Policy", s)),
        1 => (prop::sample::select(&["Policy", "Storage"][..]), tree()),
    ];
    let envelope = spec.prop_map(|(kind, spec)| {
        let spec = serde_yaml::to_string(&spec).unwrap_or_default();
        let indented: String = spec.lines().map(|l| format!("  {l}\n")).collect();
        format!("apiVersion: shelflife.dev/v1\nkind: {kind}\nmetadata: {{ name: p }}\nspec:\n{indented}")
    });
    prop_oneof![
        3 => envelope,
        1 => tree().prop_map(|t| serde_yaml::to_string(&t).unwrap_or_default()),
    ]
}

/// Loads `text` as `policy.yaml` next to a valid Storage document and checks the outcome.
fn load_checked(text: &[u8]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a-storage.yaml"), STORAGE).unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::write(&file, text).unwrap();
    let lines = text.split(|b| *b == b'\n').count().max(1);
    match load_with_env(&[dir.path().to_path_buf()], &|_| None) {
        Ok(_) => {}
        Err(Invalid(diagnostics)) => {
            prop_assert!(diagnostics.iter().any(|d| d.severity == Severity::Error));
            for d in &diagnostics {
                prop_assert_eq!(&d.file, &file, "{}", d);
                prop_assert!(
                    d.line >= 1 && d.line <= lines + 1,
                    "{} (file has {} lines)",
                    d,
                    lines
                );
                prop_assert!(d.column >= 1, "{}", d);
                prop_assert!(!d.message.is_empty());
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        load_checked(&bytes)?;
    }

    #[test]
    fn arbitrary_yaml_trees_give_a_model_or_located_errors(text in document()) {
        load_checked(text.as_bytes())?;
    }
}
