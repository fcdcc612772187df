use super::*;
use std::io::Write;

const STORAGE: &str = "apiVersion: shelflife.dev/v1
kind: Storage
metadata: { name: local }
spec:
  provider: minio
  endpoint: ${S3_ENDPOINT:-http://127.0.0.1:9000}
";

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

fn no_env(_: &str) -> Option<String> {
    None
}

pub(super) fn errors_of(text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "a-storage.yaml", STORAGE);
    write(&dir, "policy.yaml", text);
    match load_with_env(&[dir.path().to_path_buf()], &no_env) {
        Ok(_) => Vec::new(),
        Err(Invalid(diags)) => diags
            .iter()
            .map(|d| {
                let file = d.file.file_name().unwrap().to_string_lossy();
                format!("{file}:{}:{}: {}: {}", d.line, d.column, d.scope, d.message)
            })
            .collect(),
    }
}

fn policy_text(rules: &str) -> String {
    format!(
        "apiVersion: shelflife.dev/v1
kind: Policy
metadata: {{ name: logs }}
spec:
  target: {{ storage: local, bucket: b, prefix: logs/ }}
  rules:
{rules}"
    )
}

#[test]
fn a_valid_policy_becomes_a_typed_model() {
    let dir = tempfile::tempdir().unwrap();
    let text = policy_text(
        "    - name: keep-pinned\n      when: { key: { prefix: logs/pinned/ } }\n      then: keep\n    - name: expire\n      when: { age: { olderThan: 180d } }\n      then: delete\n",
    );
    write(&dir, "storage.yaml", STORAGE);
    write(&dir, "policy.yaml", &text);
    let loaded = load_with_env(&[dir.path().to_path_buf()], &no_env).unwrap();
    let p = loaded.set.policy("logs").unwrap();
    assert_eq!(p.target.prefixes, vec!["logs/".to_string()]);
    assert_eq!(p.rules.len(), 2);
    assert_eq!(p.rules[0].then, Action::Keep);
    assert_eq!(
        p.rules[1].when,
        vec![Matcher::OlderThan(chrono::Duration::days(180))]
    );
    let storage = loaded.set.storage_of(p);
    assert_eq!(storage.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    assert!(storage.path_style);
}

#[test]
fn unknown_fields_are_reported_at_the_key() {
    let errors = errors_of(&policy_text(
        "    - name: r\n      then: delete\n      whne: {}\n",
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("policy.yaml:9:7: logs: spec.rules[0].whne: unknown field `whne`"),
        "{errors:?}"
    );
}

#[test]
fn wrong_types_and_bad_units_are_located() {
    let errors = errors_of(&policy_text(
        "    - name: r\n      when: { age: { olderThan: 30 days } }\n      then: delete\n",
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("policy.yaml:8:33: logs/r: invalid duration"),
        "{errors:?}"
    );
}

#[test]
fn every_semantic_problem_is_reported_at_once() {
    let text = "apiVersion: shelflife.dev/v1
kind: Policy
metadata: { name: logs }
spec:
  schedule: \"0 3 * *\"
  target: { storage: nowhere, bucket: b }
  rules:
    - name: r
      then: shred
    - name: r
      then: delete
";
    let errors = errors_of(text);
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert!(
        errors[0].starts_with("policy.yaml:5:13: logs: invalid schedule"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("policy.yaml:6:22: logs: unknown storage \"nowhere\""),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("policy.yaml:9:13: logs/r: unknown action \"shred\""),
        "{errors:?}"
    );
    assert!(
        errors[3].starts_with("policy.yaml:10:13: logs/r: duplicate rule name"),
        "{errors:?}"
    );
}

#[test]
fn yaml_syntax_errors_carry_their_position() {
    let errors = errors_of("apiVersion: shelflife.dev/v1\nkind: [Policy\n");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("policy.yaml:3:1: -: invalid YAML"),
        "{errors:?}"
    );
}

#[test]
fn documents_later_in_a_file_are_located_in_that_file() {
    let text = format!(
        "{STORAGE}---\n{}",
        policy_text("    - name: r\n      then: { delete: { forever: true } }\n")
    );
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "all.yaml", &text);
    let Err(Invalid(diags)) = load_with_env(&[dir.path().to_path_buf()], &no_env) else {
        panic!("expected an error");
    };
    assert_eq!(diags.len(), 1);
    assert_eq!((diags[0].line, diags[0].column), (15, 25), "{}", diags[0]);
    assert!(
        diags[0].message.contains("unknown field `forever`"),
        "{}",
        diags[0]
    );
}

#[test]
fn unset_variables_without_default_are_errors() {
    let text = STORAGE.replace(
        "${S3_ENDPOINT:-http://127.0.0.1:9000}",
        "${NOT_SET_ANYWHERE}",
    );
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "s.yaml", &text);
    let Err(Invalid(diags)) = load_with_env(&[dir.path().to_path_buf()], &no_env) else {
        panic!("expected an error");
    };
    assert_eq!((diags[0].line, diags[0].column), (6, 13));
    assert!(diags[0].message.contains("NOT_SET_ANYWHERE"));
}

#[test]
fn duplicate_names_across_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "s1.yaml", STORAGE);
    write(&dir, "s2.yaml", STORAGE);
    let Err(Invalid(diags)) = load_with_env(&[dir.path().to_path_buf()], &no_env) else {
        panic!("expected an error");
    };
    assert_eq!(diags.len(), 1);
    assert!(diags[0].file.ends_with("s2.yaml"));
    assert!(diags[0].message.contains("duplicate Storage name"));
}

#[test]
fn credentials_name_one_source_per_secret() {
    let dir = tempfile::tempdir().unwrap();
    let both = format!("{STORAGE}  credentials:\n    accessKeyIdEnv: A\n    accessKeyIdFile: /a\n    secretAccessKeyEnv: S\n");
    write(&dir, "s.yaml", &both);
    let Err(Invalid(diags)) = load_with_env(&[dir.path().to_path_buf()], &no_env) else {
        panic!("expected an error");
    };
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!((diags[0].line, diags[0].column), (8, 5));
    assert!(
        diags[0]
            .message
            .contains("either accessKeyIdEnv or accessKeyIdFile"),
        "{}",
        diags[0]
    );

    let missing = format!("{STORAGE}  credentials:\n    accessKeyIdEnv: A\n");
    write(&dir, "s.yaml", &missing);
    let Err(Invalid(diags)) = load_with_env(&[dir.path().to_path_buf()], &no_env) else {
        panic!("expected an error");
    };
    assert!(
        diags[0]
            .message
            .contains("credentials need secretAccessKeyEnv or secretAccessKeyFile"),
        "{}",
        diags[0]
    );

    let fine = format!(
        "{STORAGE}  credentials:\n    accessKeyIdEnv: A\n    secretAccessKeyFile: /run/secret\n"
    );
    write(&dir, "s.yaml", &fine);
    let loaded = load_with_env(&[dir.path().to_path_buf()], &no_env).unwrap();
    let expected = Credentials::Static {
        access_key_id: SecretSource::Env("A".into()),
        secret_access_key: SecretSource::File("/run/secret".into()),
        session_token: None,
    };
    assert_eq!(loaded.set.storages["local"].credentials, expected);
}

#[test]
fn the_full_matcher_set_validates_into_typed_matchers() {
    let rules = "    - name: r
      when:
        version: noncurrent
        key: { prefix: logs/, suffix: .jsonl, glob: \"logs/**/*.jsonl\", regex: \"^logs/[0-9]{4}/\" }
        age: { olderThan: 30d, youngerThan: 1y }
        modifiedBefore: 2026-01-01
        modifiedAfter: 2020-01-01T00:00:00Z
        size: { atLeast: 128KiB, atMost: 5GiB }
        storageClass: [STANDARD, STANDARD_IA]
        noncurrentFor: 7d
        newerVersions: { moreThan: 3 }
        any: [ { key: { suffix: .tmp } }, { size: { atMost: 0 } } ]
        not: { key: { prefix: logs/keep/ } }
      then: delete
";
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "storage.yaml", STORAGE);
    write(&dir, "policy.yaml", &policy_text(rules));
    let loaded =
        load_with_env(&[dir.path().to_path_buf()], &no_env).unwrap_or_else(|e| panic!("{e}"));
    let rule = &loaded.set.policy("logs").unwrap().rules[0];
    assert_eq!(rule.version, VersionScope::Noncurrent);
    assert_eq!(rule.when.len(), 15, "{:#?}", rule.when);
    assert!(rule.when.contains(&Matcher::SizeAtLeast(131_072)));
    assert!(rule.when.contains(&Matcher::NewerVersionsMoreThan(3)));
    assert!(rule.when.contains(&Matcher::StorageClass(vec![
        "STANDARD".into(),
        "STANDARD_IA".into()
    ])));
}

#[test]
fn impossible_and_malformed_conditions_are_located() {
    let rules = "    - name: r
      when:
        newerVersions: { moreThan: 2 }
        age: { olderThan: 30d, youngerThan: 7d }
        size: { atLeast: 1MB, atMost: 1KB }
        key: { glob: \"logs/[\", regex: \"(open\" }
        version: sometimes
        any: []
        not: { version: current }
        storageClass: glacier
      then: delete
";
    let errors = errors_of(&policy_text(rules));
    let expected = [
        "policy.yaml:13:18: logs/r: unknown version \"sometimes\": expected current, noncurrent, delete-marker or any",
        "policy.yaml:9:24: logs/r: newerVersions never matches with version: current; add version: noncurrent",
        "policy.yaml:12:22: logs/r: invalid glob \"logs/[\": unclosed character class; missing ']'",
        "policy.yaml:12:39: logs/r: invalid regex \"(open\": unclosed group",
        "policy.yaml:10:45: logs/r: age.youngerThan must be longer than age.olderThan, or nothing can match",
        "policy.yaml:11:39: logs/r: size.atMost is smaller than size.atLeast, so nothing can match",
        "policy.yaml:16:23: logs/r: storage class \"glacier\" is not a storage class name such as STANDARD or GLACIER_IR",
        "policy.yaml:14:14: logs/r: any needs at least one condition",
        "policy.yaml:15:25: logs/r: version applies to the whole rule: put it at the top of when",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (got, want) in errors.iter().zip(expected) {
        assert_eq!(got, want);
    }
}

#[test]
fn a_rule_behind_a_broader_one_is_a_warning_not_an_error() {
    let rules = "    - name: everything-old
      when: { age: { olderThan: 30d } }
      then: delete
    - name: old-logs
      when: { key: { prefix: logs/2020/ }, age: { olderThan: 90d } }
      then: keep
";
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "storage.yaml", STORAGE);
    write(&dir, "policy.yaml", &policy_text(rules));
    let loaded = load_with_env(&[dir.path().to_path_buf()], &no_env).unwrap();
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    let w = &loaded.warnings[0];
    assert_eq!((w.line, w.column, w.severity), (10, 7, Severity::Warning));
    assert!(
        w.to_string()
            .contains("logs/old-logs: warning: rule \"old-logs\" can never match"),
        "{w}"
    );
}

#[test]
fn bucket_names_no_provider_accepts_are_located_wherever_a_bucket_is_named() {
    let text = "apiVersion: shelflife.dev/v1
kind: Policy
metadata: { name: logs }
spec:
  target: { storage: local, bucket: \"logs bucket\" }
  source: { inventory: { storage: local, bucket: \"reports/daily\", prefix: inv/ } }
  rules:
    - name: away
      then: { archive: { storage: local, bucket: \"\" } }
";
    let errors = errors_of(text);
    assert_eq!(
        errors,
        [
            "policy.yaml:5:37: logs: bucket \"logs bucket\" contains ' '; bucket names hold only letters, digits, '.', '-' and '_'",
            "policy.yaml:6:50: logs: bucket \"reports/daily\" contains '/'; bucket names hold only letters, digits, '.', '-' and '_'",
            "policy.yaml:9:50: logs/away: bucket must not be empty",
        ],
        "{errors:#?}"
    );
    assert!(target::bucket_name("Legacy_Ceph.Bucket-1").is_ok());
    assert!(target::bucket_name(&"b".repeat(256)).is_err());
}

#[test]
fn an_archive_lock_has_no_governance_to_bypass() {
    let errors = errors_of(&policy_text(
        "    - name: r\n      then: { archive: { bucket: vault, lock: { mode: COMPLIANCE, retainFor: 7y, bypassGovernance: true } } }\n",
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("policy.yaml:8:100: logs/r: an archive locks a new copy"),
        "{errors:?}"
    );
}
