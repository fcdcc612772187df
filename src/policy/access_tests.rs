//! Validation of access logs, access conditions and dataset groups: each mistake is reported
//! at its place.

use super::tests::errors_of;

fn policy(target_extra: &str, spec_extra: &str, rules: &str) -> String {
    format!(
        "apiVersion: shelflife.dev/v1
kind: Policy
metadata: {{ name: data }}
spec:
  target:
    storage: local
    bucket: b
{target_extra}{spec_extra}  rules:
{rules}"
    )
}

const LOGS: &str =
    "    access:\n      logs: { storage: local, bucket: logs, prefix: s3/, format: s3 }\n";
const STALE: &str =
    "    - name: stale\n      when: { accessed: { notWithin: 90d } }\n      then: delete\n";

#[test]
fn access_conditions_validate_with_logs_and_groups_with_a_placeholder() {
    let group = "  group: { pattern: \"datasets/{name}/\" }\n  age: { from: last-access }\n";
    assert_eq!(errors_of(&policy(LOGS, group, STALE)), Vec::<String>::new());
}

#[test]
fn access_mistakes_are_located() {
    let errors = errors_of(&policy("", "  age: { from: last-access }\n", STALE));
    assert_eq!(
        errors,
        [
            "policy.yaml:8:16: data: age.from: last-access needs the bucket's access logs: add spec.target.access",
            "policy.yaml:11:13: data/stale: accessed needs the bucket's access logs: add spec.target.access",
        ]
    );
    let bad_format = LOGS.replace("format: s3", "format: nginx");
    let both = "    - name: both\n      when: { accessed: { within: 7d, notWithin: 90d } }\n      then: delete\n";
    let errors = errors_of(&policy(&bad_format, "", both));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("policy.yaml:9:66: data: unknown log format \"nginx\""),
        "{errors:?}"
    );
    assert!(
        errors[1].contains("accessed needs exactly one of within or notWithin"),
        "{errors:?}"
    );
}

#[test]
fn group_mistakes_are_located() {
    let errors = errors_of(&policy(
        LOGS,
        "  group: { pattern: \"datasets/\" }\n",
        STALE,
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]
            .starts_with("policy.yaml:10:21: data: group pattern \"datasets/\" has no placeholder"),
        "{errors:?}"
    );
    let noncurrent = "    - name: old\n      when: { version: noncurrent }\n      then: delete\n";
    let errors = errors_of(&policy(
        LOGS,
        "  group: { pattern: \"d/{name}/\" }\n",
        noncurrent,
    ));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("data/old: a policy with spec.group decides groups of current objects"),
        "{errors:?}"
    );
}
