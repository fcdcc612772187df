//! The planner on real buckets: Object Lock blocks removals, the cost guard, limits of each
//! kind, and forecasts with `--as-of` (explain.rs checks `explain` against the plan).

use crate::helpers::*;
use chrono::{Duration, DurationRound, Utc};
use shelflife::plan::{explain::explain, Prices};
use shelflife::storage::s3::{BucketOptions, PutOptions, S3Store};
use shelflife::storage::LockMode;
use sqlx::PgPool;

async fn put_with(store: &S3Store, bucket: &str, key: &str, body: Vec<u8>, options: PutOptions) {
    store
        .put_object(bucket, key, body, &options)
        .await
        .expect("put object");
}

const DELETE_ALL: &str = "    - name: delete-all
      when: { size: { atLeast: 0B } }
      then: { delete: { permanent: true } }
";

#[sqlx::test]
async fn removals_of_locked_versions_are_blocked_until_they_become_eligible(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "blocked", BucketOptions::OBJECT_LOCK).await;
    let now = Utc::now();
    let compliance_until = (now + Duration::days(10))
        .duration_trunc(Duration::seconds(1))
        .unwrap();
    let governance_until = (now + Duration::days(20))
        .duration_trunc(Duration::seconds(1))
        .unwrap();
    let retained = |mode, until| PutOptions {
        retention: Some((mode, until)),
        ..PutOptions::default()
    };
    let body = || b"data".to_vec();
    put_with(
        &store,
        &bucket,
        "compliance.bin",
        body(),
        retained(LockMode::Compliance, compliance_until),
    )
    .await;
    put_with(
        &store,
        &bucket,
        "governance.bin",
        body(),
        retained(LockMode::Governance, governance_until),
    )
    .await;
    let held = PutOptions {
        legal_hold: true,
        ..PutOptions::default()
    };
    put_with(&store, &bucket, "held.bin", body(), held).await;
    put_with(&store, &bucket, "free.bin", body(), PutOptions::default()).await;

    let dir = PolicyDir::new(&policy_yaml("locks", &bucket, "", DELETE_ALL));
    let set = dir.load();
    let plan = scan_and_plan(&pool, &store, &set, "locks").await;
    let line = plan.line("delete-all").unwrap();
    assert_eq!(
        (line.objects, line.blocked.objects, plan.blocked),
        (1, 3, 3),
        "{plan:#?}"
    );
    assert_eq!(sample_keys(line), ["free.bin"]);
    assert_eq!(line.blocked.next_eligible, Some(compliance_until));
    let items: Vec<ItemRow> = sqlx::query_as(
        "SELECT key, state, eligible_at, reason FROM plan_items WHERE plan_id = $1 ORDER BY key",
    )
    .bind(plan.plan_id)
    .fetch_all(&pool)
    .await
    .unwrap();
    let states: Vec<(&str, &str, Option<_>)> = items
        .iter()
        .map(|(k, s, e, _)| (k.as_str(), s.as_str(), *e))
        .collect();
    assert_eq!(
        states,
        vec![
            ("compliance.bin", "blocked", Some(compliance_until)),
            ("free.bin", "pending", None),
            ("governance.bin", "blocked", Some(governance_until)),
            ("held.bin", "blocked", None),
        ]
    );
    assert!(
        items[0]
            .3
            .as_deref()
            .unwrap()
            .contains("COMPLIANCE retention until"),
        "{items:?}"
    );
    assert_eq!(items[3].3.as_deref(), Some("blocked: legal hold"));

    // Explain shows the same, with the lock state.
    let policy = set.policy("locks").unwrap();
    let e = explain(
        &pool,
        policy,
        &Prices::default(),
        "governance.bin",
        None,
        Utc::now(),
    )
    .await
    .unwrap();
    let v = &e.versions[0];
    assert_eq!(
        (v.outcome.as_str(), v.rule.as_deref()),
        ("blocked", Some("delete-all"))
    );
    assert!(v.lock.starts_with("GOVERNANCE retention until"), "{v:?}");

    // After the retention ends (a forecast), only the legal hold still blocks.
    let later = plan_at(&pool, &set, "locks", now + Duration::days(21)).await;
    assert_eq!((later.changes(), later.blocked), (3, 1), "{later:#?}");

    // Apply removes only the free version; the plan's blocked items are left alone.
    apply_plan(&pool, &store, &plan).await;
    let mut left = live_keys(&store, &bucket).await;
    left.sort();
    assert_eq!(left, vec!["compliance.bin", "governance.bin", "held.bin"]);
}

/// A plan item's key, state, eligible date and reason.
type ItemRow = (
    String,
    String,
    Option<chrono::DateTime<Utc>>,
    Option<String>,
);

async fn apply_plan(pool: &PgPool, store: &S3Store, plan: &shelflife::plan::PlanSummary) {
    let options = shelflife::execute::ApplyOptions::new("test");
    let report = shelflife::execute::apply(pool, store, plan, &options)
        .await
        .expect("apply");
    assert_eq!(
        report.count(shelflife::audit::Outcome::Done),
        plan.changes(),
        "{report:?}"
    );
}

const GLACIER: &str = "    - name: to-glacier
      when: { age: { olderThan: 30d } }
      then: { tier: { storageClass: GLACIER FORCE } }
";

/// GLACIER bills 40 KiB of overhead per object at 0.0036 $/GB-month: a 4-byte object costs
/// more there than in STANDARD (0.023 $/GB-month), a 100 KiB one less.
#[sqlx::test]
async fn the_cost_guard_skips_tiny_objects_to_glacier_and_plans_large_ones(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "guard", BucketOptions::default()).await;
    put_with(
        &store,
        &bucket,
        "tiny.bin",
        b"tiny".to_vec(),
        PutOptions::default(),
    )
    .await;
    put_with(
        &store,
        &bucket,
        "large.bin",
        vec![7u8; 102_400],
        PutOptions::default(),
    )
    .await;
    let text = format!(
        "{}---\n{}",
        policy_yaml("guarded", &bucket, "", &GLACIER.replace(" FORCE", "")),
        policy_yaml(
            "forced",
            &bucket,
            "",
            &GLACIER.replace(" FORCE", ", force: true")
        )
    );
    let dir = PolicyDir::with_storage_extra("  costs: aws-us-east-1\n", &text);
    let set = dir.load();
    scan_policy(&pool, &store, set.policy("guarded").unwrap()).await;
    let in_40_days = Utc::now() + Duration::days(40);
    let plan = plan_at(&pool, &set, "guarded", in_40_days).await;
    let line = plan.line("to-glacier").unwrap();
    assert_eq!((line.objects, line.uneconomic.objects), (1, 1), "{plan:#?}");
    assert_eq!(sample_keys(line), ["large.bin"]);
    assert_eq!(line.uneconomic.samples[0].version.key, "tiny.bin");
    assert!(line.uneconomic.samples[0]
        .reason
        .starts_with("uneconomic: GLACIER costs $0.000000"));
    // By hand: 102400 B at 0.023 before; (102400 + 40960) B at 0.0036 after; 0.03 $ per 1000.
    let cost = line.cost.expect("priced");
    let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
    assert!(
        close(cost.monthly_before, 0.023 * 102_400.0 / 1e9),
        "{cost:?}"
    );
    assert!(
        close(cost.monthly_after, 0.0036 * 143_360.0 / 1e9),
        "{cost:?}"
    );
    assert!(close(cost.requests, 0.000_03), "{cost:?}");
    assert_eq!(cost.early_deletion, 0.0);
    let daily = (0.023 * 102_400.0 - 0.0036 * 143_360.0) / 1e9 / 30.0;
    assert!(
        (line.break_even_days.unwrap() - 0.000_03 / daily).abs() < 1e-6,
        "{line:?}"
    );

    let forced = plan_at(&pool, &set, "forced", in_40_days).await;
    assert_eq!(
        forced.changes(),
        2,
        "force: true skips the guard: {forced:#?}"
    );
}

#[sqlx::test]
async fn each_limit_kind_refuses_with_exit_3_and_nothing_changes(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "limits", BucketOptions::default()).await;
    for key in ["a", "b", "c"] {
        put(&store, &bucket, key, "12345").await;
    }
    let limited = |name: &str, limit: &str| {
        policy_yaml(
            name,
            &bucket,
            &format!("  limits: {{ {limit} }}\n"),
            DELETE_ALL,
        )
    };
    let dir = PolicyDir::new(
        &[
            limited("objects", "maxObjects: 2"),
            limited("bytes", "maxBytes: 14B"),
            limited("percent", "maxPercent: 50"),
        ]
        .join("---\n"),
    );
    let cases = [
        ("objects", "maxObjects 2 exceeded by 1 (3 planned)"),
        ("bytes", "maxBytes 14 exceeded by 1 bytes (15 planned)"),
        (
            "percent",
            "maxPercent 50% exceeded: 100.00% of 3 versions planned",
        ),
    ];
    for (policy, why) in cases {
        let out = shelflife(&pool, dir.path(), &["scan", "--policy", policy]);
        assert!(out.status.success(), "{}", describe(&out));
        let out = shelflife(&pool, dir.path(), &["plan", "--policy", policy]);
        assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
        assert!(
            stdout(&out).contains(&format!("REFUSED: {why}")),
            "{}",
            describe(&out)
        );
        let out = shelflife(&pool, dir.path(), &["apply", "--policy", policy, "--yes"]);
        assert_eq!(out.status.code(), Some(3), "{}", describe(&out));
    }
    assert_eq!(
        live_keys(&store, &bucket).await.len(),
        3,
        "nothing was deleted"
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM audit_events").await, 0);
}

const AGES: &str = "    - name: expire-after-30d
      when: { age: { olderThan: 30d } }
      then: delete
";

#[sqlx::test]
async fn as_of_forecasts_what_ages_into_a_rule_and_applying_a_forecast_is_opt_in(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "asof", BucketOptions::default()).await;
    put(&store, &bucket, "x.log", "x").await;
    let dir = PolicyDir::new(&policy_yaml("ages", &bucket, "", AGES));
    let run = |args: &[&str]| shelflife(&pool, dir.path(), args);
    assert!(run(&["scan"]).status.success());
    let now = run(&["plan", "--detailed-exitcode"]);
    assert_eq!(now.status.code(), Some(0), "{}", describe(&now));
    let json = run(&[
        "plan",
        "--as-of",
        "+31d",
        "--format",
        "json",
        "--detailed-exitcode",
    ]);
    assert_eq!(json.status.code(), Some(10), "{}", describe(&json));
    let plans: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let plan = &plans["plans"][0];
    let as_of: chrono::DateTime<Utc> = plan["as_of"].as_str().unwrap().parse().unwrap();
    assert!(
        as_of > Utc::now() + Duration::days(30),
        "the plan records its clock: {plan}"
    );
    assert_eq!(plan["limits"]["objects"], 1);
    let sample = &plan["actions"][0]["samples"][0];
    assert_eq!(
        (&sample["key"], &sample["version"]),
        (&"x.log".into(), &"current".into())
    );
    let schema = jsonschema::validator_for(&shelflife::plan::json_schema()).unwrap();
    let errors: Vec<String> = schema.iter_errors(&plans).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "`schema plan` describes the output: {errors:?}"
    );
    let id = plan["plan_id"].to_string();
    let refused = run(&["apply", "--plan", &id, "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--allow-future-clock"));
    assert_eq!(live_keys(&store, &bucket).await, vec!["x.log"]);
    let applied = run(&["apply", "--plan", &id, "--yes", "--allow-future-clock"]);
    assert!(applied.status.success(), "{}", describe(&applied));
    assert!(live_keys(&store, &bucket).await.is_empty());
    let recorded: serde_json::Value =
        sqlx::query_scalar("SELECT state_before FROM audit_events WHERE item_id IS NOT NULL")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(recorded["future_clock_allowed"], true, "{recorded}");
}
