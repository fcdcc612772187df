//! Plan retention (`--keep-plans`): old plans lose their items, never the latest plan of a
//! policy nor one a worker holds claims in; a pruned plan never applied cannot be applied.
//! Scans forget the cached data of versions no snapshot holds; `db prune` also drops scans
//! left unfinished.

use crate::helpers::*;
use shelflife::storage::s3::BucketOptions;
use sqlx::PgPool;

const EXPIRE_TMP: &str =
    "    - name: drop-tmp\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";

async fn items_of(pool: &PgPool, plan_id: i64) -> i64 {
    count(
        pool,
        &format!("SELECT count(*) FROM plan_items WHERE plan_id = {plan_id}"),
    )
    .await
}

/// Backdates plan `plan_id` by `days`, as if it had been made then.
async fn age(pool: &PgPool, plan_id: i64, days: i32) {
    sqlx::query("UPDATE plans SET created_at = now() - make_interval(days => $2) WHERE id = $1")
        .bind(plan_id)
        .bind(days)
        .execute(pool)
        .await
        .unwrap();
}

async fn plan_ids(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT id FROM plans ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn old_plans_lose_their_items_and_a_pruned_unapplied_plan_cannot_be_applied(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "keep", BucketOptions::default()).await;
    for key in ["tmp/1", "tmp/2", "tmp/3", "data/4"] {
        put(&store, &bucket, key, "x").await;
    }
    let dir = PolicyDir::new(&policy_yaml("tmp", &bucket, "", EXPIRE_TMP));
    let run = |args: &[&str]| shelflife(&pool, dir.path(), args);
    assert!(run(&["scan"]).status.success());
    for _ in 0..3 {
        assert!(run(&["plan"]).status.success());
    }
    let [old, claimed, latest] = plan_ids(&pool).await[..] else {
        panic!("three plans")
    };
    for id in [old, claimed, latest] {
        age(&pool, id, 40).await;
    }
    sqlx::query("UPDATE plan_items SET state = 'claimed', claimed_by = 'w' WHERE plan_id = $1")
        .bind(claimed)
        .execute(&pool)
        .await
        .unwrap();

    let off = run(&["db", "prune", "--keep-plans", "off"]);
    assert!(off.status.success(), "{}", describe(&off));
    assert_eq!(items_of(&pool, old).await, 3, "off keeps everything");
    let kept = run(&["db", "prune", "--keep-plans", "41d"]);
    assert!(kept.status.success(), "{}", describe(&kept));
    assert_eq!(items_of(&pool, old).await, 3, "younger than the retention");

    let pruned = run(&["db", "prune"]);
    assert!(pruned.status.success(), "{}", describe(&pruned));
    assert!(
        stdout(&pruned).contains("deleted 3 items of 1 plan older"),
        "{}",
        describe(&pruned)
    );
    let left: Vec<i64> = vec![
        items_of(&pool, old).await,
        items_of(&pool, claimed).await,
        items_of(&pool, latest).await,
    ];
    assert_eq!(left, [0, 3, 3], "only the old, unclaimed, not-latest plan");
    let figures = count(
        &pool,
        &format!("SELECT (summary->'limits'->>'objects')::int8 FROM plans WHERE id = {old}"),
    )
    .await;
    assert_eq!(figures, 3, "the plan's figures remain");

    let refused = run(&["apply", "--plan", &old.to_string(), "--yes"]);
    assert_eq!(refused.status.code(), Some(2), "{}", describe(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("plan again"));
    assert_eq!(live_keys(&store, &bucket).await.len(), 4, "nothing touched");
    assert_eq!(count(&pool, ITEM_EVENTS).await, 0);

    let applied = run(&["apply", "--yes"]);
    assert!(applied.status.success(), "{}", describe(&applied));
    assert_eq!(live_keys(&store, &bucket).await, ["data/4"]);
}

#[sqlx::test]
async fn run_prunes_the_policy_it_ran(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "keeprun", BucketOptions::default()).await;
    put(&store, &bucket, "tmp/1", "x").await;
    let dir = PolicyDir::new(&policy_yaml("tmp", &bucket, "", EXPIRE_TMP));
    let run = |args: &[&str]| shelflife(&pool, dir.path(), args);
    let first = run(&["run", "--all"]);
    assert!(first.status.success(), "{}", describe(&first));
    let [applied] = plan_ids(&pool).await[..] else {
        panic!("one plan")
    };
    assert_eq!(items_of(&pool, applied).await, 1);
    age(&pool, applied, 31).await;
    let second = run(&["run", "--all"]);
    assert!(second.status.success(), "{}", describe(&second));
    assert!(
        stdout(&second).contains("deleted 1 item of 1 plan older"),
        "{}",
        describe(&second)
    );
    assert_eq!(items_of(&pool, applied).await, 0);
    let again = run(&["apply", "--plan", &applied.to_string(), "--yes"]);
    assert!(
        again.status.success(),
        "an applied plan stays applied: {}",
        describe(&again)
    );
    assert_eq!(
        count(&pool, ITEM_EVENTS).await,
        1,
        "its action stays in the trail"
    );
}

/// The keys of `bucket`'s cached versions, one per version, sorted.
async fn cached(pool: &PgPool, bucket: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT key FROM object_meta WHERE bucket = $1 ORDER BY key, etag")
        .bind(bucket)
        .fetch_all(pool)
        .await
        .unwrap()
}

fn tagged_policy(name: &str, bucket: &str, target_extra: &str) -> String {
    format!(
        "apiVersion: shelflife.dev/v1\nkind: Policy\nmetadata: {{ name: {name} }}\nspec:\n  \
         target: {{ storage: local, bucket: {bucket}{target_extra} }}\n  rules:\n    \
         - {{ name: drop-dev, when: {{ tags: {{ env: dev }} }}, then: delete }}\n---\n"
    )
}

#[sqlx::test]
async fn scans_forget_the_cached_data_of_versions_no_snapshot_holds(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "meta", BucketOptions::default()).await;
    put(&store, &bucket, "a/1", "old").await;
    put(&store, &bucket, "b/1", "x").await;
    // Two targets share the bucket: `a/` alone, and all of it.
    let both =
        tagged_policy("part", &bucket, ", prefix: a/") + &tagged_policy("whole", &bucket, "");
    let dir = PolicyDir::new(&both);
    let scan = |policy: &str| {
        let out = shelflife(&pool, dir.path(), &["scan", "--policy", policy]);
        assert!(out.status.success(), "{}", describe(&out));
    };
    scan("part");
    scan("whole");
    assert_eq!(cached(&pool, &bucket).await, ["a/1", "b/1"]);

    // a/1 is replaced (a new ETag) and b/1 deleted.
    put(&store, &bucket, "a/1", "new").await;
    delete(&store, &bucket, "b/1", None).await;
    scan("part");
    assert_eq!(
        cached(&pool, &bucket).await,
        ["a/1", "a/1", "b/1"],
        "the whole bucket's snapshot still holds the old a/1 and b/1"
    );
    scan("whole");
    assert_eq!(cached(&pool, &bucket).await, ["a/1"]);
}

#[sqlx::test]
async fn db_prune_drops_abandoned_scans_and_the_cache_nothing_holds(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "held", BucketOptions::default()).await;
    put(&store, &bucket, "a/1", "x").await;
    let dir = PolicyDir::new(&tagged_policy("held", &bucket, ""));
    let out = shelflife(&pool, dir.path(), &["scan"]);
    assert!(out.status.success(), "{}", describe(&out));
    assert_eq!(cached(&pool, &bucket).await.len(), 1);
    // Scans of a target that has since left the policies: one interrupted 40 days ago, one an
    // hour ago, and the tags the old one had fetched.
    let mut unfinished = vec![];
    for days in [40, 0] {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO scans (storage, bucket, prefixes, source, status, started_at) \
             VALUES ('local', 'removed', '{old/}', 'list', 'failed', \
                     now() - make_interval(days => $1, hours => 1)) RETURNING id",
        )
        .bind(days)
        .fetch_one(&pool)
        .await
        .unwrap();
        sqlx::query(&format!("CREATE TABLE inventory_p{id} (LIKE inventory)"))
            .execute(&pool)
            .await
            .unwrap();
        unfinished.push(id);
    }
    sqlx::query(
        "INSERT INTO object_meta (storage, bucket, key, version_key, etag, tags, tags_at) \
         VALUES ('local', 'removed', 'old/1', '', 'e', '{}', now())",
    )
    .execute(&pool)
    .await
    .unwrap();

    // While a scan of that target holds its lock (a process still working on it), it stays.
    let mut scanner = pool.acquire().await.unwrap();
    let lock = "SELECT pg_advisory_lock(hashtextextended('shelflife scan\u{1}local\u{1}removed\u{1}old/', 0))";
    sqlx::query(lock).execute(&mut *scanner).await.unwrap();
    let busy = shelflife(&pool, dir.path(), &["db", "prune"]);
    assert!(
        stdout(&busy).contains("deleted 0 scans left unfinished")
            && stdout(&busy).contains("state of 1 version no scan holds"),
        "{}",
        describe(&busy)
    );
    drop(scanner.detach());

    let pruned = shelflife(&pool, dir.path(), &["db", "prune"]);
    assert!(pruned.status.success(), "{}", describe(&pruned));
    assert!(
        stdout(&pruned).contains("deleted 1 scan left unfinished"),
        "{}",
        describe(&pruned)
    );
    assert_eq!(
        cached(&pool, &bucket).await.len(),
        1,
        "its snapshot holds it"
    );
    assert!(cached(&pool, "removed").await.is_empty());
    let mut tables = vec![];
    for id in &unfinished {
        let table: Option<String> =
            sqlx::query_scalar(&format!("SELECT to_regclass('inventory_p{id}')::text"))
                .fetch_one(&pool)
                .await
                .unwrap();
        tables.push(table.is_some());
    }
    assert_eq!(tables, [false, true], "only the old scan's rows go");
    let scans = count(&pool, "SELECT count(*) FROM scans WHERE bucket = 'removed'").await;
    assert_eq!(scans, 1);
}

/// The status of `bucket`'s one scan.
async fn scan_status(pool: &PgPool, bucket: &str) -> String {
    sqlx::query_scalar("SELECT status FROM scans WHERE bucket = $1")
        .bind(bucket)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn db_prune_drops_the_snapshots_of_targets_no_policy_has(pool: PgPool) {
    let store = store().await;
    let kept = new_bucket(&store, "kept", BucketOptions::default()).await;
    let gone = new_bucket(&store, "gone", BucketOptions::default()).await;
    for bucket in [&kept, &gone] {
        put(&store, bucket, "tmp/1", "x").await;
    }
    let kept_yaml = policy_yaml("kept", &kept, "", EXPIRE_TMP);
    let both = PolicyDir::new(&format!(
        "{kept_yaml}---\n{}",
        policy_yaml("gone", &gone, "", EXPIRE_TMP)
    ));
    let ok = |dir: &std::path::Path, args: &[&str]| {
        let out = shelflife(&pool, dir, args);
        assert!(out.status.success(), "{args:?}: {}", describe(&out));
        out
    };
    ok(both.path(), &["scan"]);
    ok(both.path(), &["plan", "--policy", "gone"]);
    sqlx::query("UPDATE scans SET finished_at = now() - interval '40 days'")
        .execute(&pool)
        .await
        .unwrap();
    // Without policies nothing tells a removed target: every snapshot stays.
    let empty = tempfile::tempdir().unwrap();
    let blind = ok(empty.path(), &["db", "prune"]);
    assert!(
        String::from_utf8_lossy(&blind.stderr).contains("snapshots kept"),
        "{}",
        describe(&blind)
    );
    assert_eq!(scan_status(&pool, &gone).await, "complete");

    let only_kept = PolicyDir::new(&kept_yaml);
    let pruned = ok(only_kept.path(), &["db", "prune"]);
    assert!(
        stdout(&pruned).contains("deleted the snapshots of 1 target (1 version)"),
        "{}",
        describe(&pruned)
    );
    assert_eq!(
        scan_status(&pool, &kept).await,
        "complete",
        "its policy remains"
    );
    assert_eq!(scan_status(&pool, &gone).await, "dropped");
    let tables = count(
        &pool,
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'inventory'::regclass",
    )
    .await;
    assert_eq!(tables, 1, "only the kept target's rows remain");

    // The target comes back: it has no snapshot until scanned again.
    let unscanned = shelflife(&pool, both.path(), &["plan", "--policy", "gone"]);
    assert_eq!(unscanned.status.code(), Some(2), "{}", describe(&unscanned));
    ok(both.path(), &["scan", "--policy", "gone"]);
    ok(both.path(), &["plan", "--policy", "gone"]);
}
