use super::{group_url, groups, without_label};
use crate::schedule::Metrics;

#[test]
fn the_exposition_is_split_by_policy_in_the_pushgateway_format() {
    let metrics = Metrics::new();
    metrics.run("logs", "success");
    metrics.run("a/b \"c\"", "failure");
    let outcome = (
        ("drop".to_string(), "delete".to_string(), "done".to_string()),
        (3, 30),
    );
    metrics.outcomes("logs", [(&outcome.0, &outcome.1)]);
    let groups = groups(&metrics.encode());
    let keys: Vec<_> = groups.keys().cloned().collect();
    assert_eq!(keys, [None, Some("a/b \"c\"".into()), Some("logs".into())]);

    let logs = &groups[&Some("logs".to_string())];
    for line in [
        "# HELP shelflife_policy_runs_total Policy runs by result.",
        "# TYPE shelflife_policy_runs_total counter",
        "shelflife_policy_runs_total{result=\"success\"} 1",
        "# TYPE shelflife_objects_total counter",
        "shelflife_objects_total{rule=\"drop\",action=\"delete\",outcome=\"done\"} 3",
        "shelflife_bytes_total{rule=\"drop\",action=\"delete\",outcome=\"done\"} 30",
        "# TYPE shelflife_last_success_timestamp_seconds gauge",
    ] {
        assert!(
            logs.lines().any(|l| l == line),
            "{line:?} missing from\n{logs}"
        );
    }
    for text in groups.values() {
        assert!(!text.contains("policy="), "{text}");
        assert!(
            !text.contains("# EOF") && !text.contains("# UNIT"),
            "{text}"
        );
    }
    let other = &groups[&Some("a/b \"c\"".to_string())];
    assert!(other.contains("shelflife_policy_runs_total{result=\"failure\"} 1"));
    assert!(
        !other.contains("last_success"),
        "no success: no gauge\n{other}"
    );
    // Process-wide series go to the job's own group.
    let job = &groups[&None];
    assert!(job.contains("# TYPE shelflife_storage_retries_total counter\n"));
    assert!(job.contains("\nshelflife_storage_retries_total "), "{job}");
    assert!(!job.contains("policy_runs"), "{job}");
}

#[test]
fn the_policy_label_is_taken_out_with_its_escapes() {
    let line = r#"m_total{a="x\"y,}",policy="p\\q\"r",b="z"} 1"#;
    let (policy, rest) = without_label(line, "policy");
    assert_eq!(policy.as_deref(), Some(r#"p\q"r"#));
    assert_eq!(rest, r#"m_total{a="x\"y,}",b="z"} 1"#);
    let (policy, rest) = without_label(r#"m{policy="p"} 2.5"#, "policy");
    assert_eq!((policy.as_deref(), rest.as_str()), (Some("p"), "m 2.5"));
    let (policy, rest) = without_label("m 7", "policy");
    assert_eq!((policy, rest.as_str()), (None, "m 7"));
    let broken = r#"m{policy="p} 1"#;
    assert_eq!(without_label(broken, "policy"), (None, broken.to_string()));
}

#[test]
fn group_addresses_encode_label_values_that_are_not_path_segments() {
    let gw = "http://pgw:9091/";
    assert_eq!(group_url(gw, None), "http://pgw:9091/metrics/job/shelflife");
    assert_eq!(
        group_url(gw, Some("logs-180d")),
        "http://pgw:9091/metrics/job/shelflife/policy/logs-180d"
    );
    assert_eq!(
        group_url(gw, Some("a/b")),
        "http://pgw:9091/metrics/job/shelflife/policy@base64/YS9i"
    );
}
