//! The audit trail as evidence: append-only tables, tampering found at the right place, and
//! signed checkpoints that `audit verify` checks.

use crate::helpers::*;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::SigningKey;
use shelflife::audit::{self, AuditKey, NewEvent, Outcome};
use sqlx::PgPool;
use std::path::{Path, PathBuf};

fn event(n: i64) -> NewEvent {
    NewEvent {
        run_id: None,
        plan_id: None,
        item_id: None,
        policy: "logs".into(),
        policy_sha256: "ab".repeat(32),
        rule: "expire".into(),
        action: "delete".into(),
        storage: "local".into(),
        bucket: "b".into(),
        key: format!("logs/{n}.json"),
        version_id: Some(format!("v{n}")),
        size: n,
        outcome: Outcome::Done,
        reason: None,
        state_before: serde_json::json!({ "storage_class": "STANDARD" }).into(),
        state_after: serde_json::json!({ "deleted": true }).into(),
        policy_revision: Some("0123abcd".into()),
        clock: Some(chrono::Utc::now()),
        worker: Some("test:1".into()),
    }
}

async fn append(pool: &PgPool, events: i64) {
    let mut tx = pool.begin().await.unwrap();
    let batch: Vec<NewEvent> = (1..=events).map(event).collect();
    audit::append(&mut tx, &batch).await.unwrap();
    tx.commit().await.unwrap();
}

/// Runs SQL as the superuser with the append-only triggers off, as an attacker with the
/// database's owner account could.
async fn tamper(pool: &PgPool, table: &str, sql: &str) {
    let mut tx = pool.begin().await.unwrap();
    for statement in [
        format!("ALTER TABLE {table} DISABLE TRIGGER USER"),
        sql.to_string(),
        format!("ALTER TABLE {table} ENABLE TRIGGER USER"),
    ] {
        sqlx::query(&statement).execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn verify(pool: &PgPool, env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = PolicyDir::new("");
    let out = shelflife_with_env(pool, dir.path(), &["audit", "verify"], env);
    (out.status.code(), stdout(&out))
}

/// Writes a key pair from `seed`: (private key file, public key file).
fn key_files(dir: &Path, seed: u8) -> (PathBuf, PathBuf) {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let private = dir.join(format!("audit-{seed}.pem"));
    let public = dir.join(format!("audit-{seed}.pub.pem"));
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
    std::fs::write(&private, pem.as_bytes()).unwrap();
    let pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    std::fs::write(&public, pem).unwrap();
    (private, public)
}

#[sqlx::test]
async fn the_audit_tables_reject_update_delete_and_truncate(pool: PgPool) {
    append(&pool, 2).await;
    audit::write_checkpoint(&pool, None, None).await.unwrap();
    for sql in [
        "UPDATE audit_events SET size = 0",
        "DELETE FROM audit_events WHERE seq = 1",
        "TRUNCATE audit_events",
        "UPDATE audit_checkpoints SET seq = 0",
        "DELETE FROM audit_checkpoints",
        "TRUNCATE audit_checkpoints",
    ] {
        let err = sqlx::query(sql).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[sqlx::test]
async fn an_altered_event_is_found_at_its_seq(pool: PgPool) {
    append(&pool, 5).await;
    tamper(
        &pool,
        "audit_events",
        "UPDATE audit_events SET key = 'logs/other.json' WHERE seq = 3",
    )
    .await;
    let (code, out) = verify(&pool, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("BROKEN at seq 3: event hash (the event was altered)"),
        "{out}"
    );
}

#[sqlx::test]
async fn a_deleted_event_is_found_at_its_seq(pool: PgPool) {
    append(&pool, 5).await;
    tamper(
        &pool,
        "audit_events",
        "DELETE FROM audit_events WHERE seq = 4",
    )
    .await;
    let (code, out) = verify(&pool, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("BROKEN at seq 5: sequence number (an event is missing)"),
        "{out}"
    );
}

#[sqlx::test]
async fn signed_checkpoints_verify_and_fail_once_tampered_with(pool: PgPool) {
    let keys = tempfile::tempdir().unwrap();
    let (private, public) = key_files(keys.path(), 7);
    let (_, stranger) = key_files(keys.path(), 9);
    let key = AuditKey::from_file(&private).unwrap();
    append(&pool, 3).await;
    let checkpoint = audit::write_checkpoint(&pool, None, Some(&key))
        .await
        .unwrap();
    assert_eq!((checkpoint.seq, checkpoint.signed), (3, true));

    let trusted = [("SHELFLIFE_AUDIT_PUBLIC_KEY_FILE", public.to_str().unwrap())];
    let (code, out) = verify(&pool, &trusted);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(
            "checkpoints consistent with the chain: 1; 1 signed and verified with the trusted key"
        ),
        "{out}"
    );

    let other = [(
        "SHELFLIFE_AUDIT_PUBLIC_KEY_FILE",
        stranger.to_str().unwrap(),
    )];
    let (code, out) = verify(&pool, &other);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("checkpoint 1 BROKEN: signed by another key"),
        "{out}"
    );

    // Moving the checkpoint's time keeps its head right but breaks its signature.
    tamper(
        &pool,
        "audit_checkpoints",
        "UPDATE audit_checkpoints SET at = at + interval '1 second'",
    )
    .await;
    let (code, out) = verify(&pool, &trusted);
    assert_eq!(code, Some(2), "{out}");
    assert!(
        out.contains("checkpoint 1 BROKEN: signature does not match"),
        "{out}"
    );
}

#[sqlx::test]
async fn a_chain_rewritten_from_the_start_no_longer_matches_its_checkpoint(pool: PgPool) {
    append(&pool, 2).await;
    audit::write_checkpoint(&pool, None, None).await.unwrap();
    // Drop everything and append a different history: the chain itself is consistent again.
    tamper(&pool, "audit_events", "DELETE FROM audit_events").await;
    let mut tx = pool.begin().await.unwrap();
    audit::append(&mut tx, &[event(40), event(41)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (code, out) = verify(&pool, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("audit trail intact: 2 events"), "{out}");
    assert!(out.contains("checkpoint 1 BROKEN: head"), "{out}");
}

#[sqlx::test]
async fn unsigned_checkpoints_are_reported_as_such(pool: PgPool) {
    append(&pool, 1).await;
    audit::write_checkpoint(&pool, None, None).await.unwrap();
    let (code, out) = verify(&pool, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("checkpoints consistent with the chain: 1; unsigned"),
        "{out}"
    );
}

#[sqlx::test]
async fn apply_ends_with_a_checkpoint_signed_by_the_configured_key(pool: PgPool) {
    let store = store().await;
    let bucket = new_bucket(&store, "signed", Default::default()).await;
    put(&store, &bucket, "tmp/a", "x").await;
    let rules = "    - name: drop\n      when: { key: { prefix: tmp/ } }\n      then: delete\n";
    let dir = PolicyDir::new(&policy_yaml("signed", &bucket, "", rules));
    let keys = tempfile::tempdir().unwrap();
    let (private, public) = key_files(keys.path(), 3);
    let key = [("SHELFLIFE_AUDIT_KEY_FILE", private.to_str().unwrap())];
    for args in [&["scan"][..], &["plan"], &["apply", "--yes"]] {
        let out = shelflife_with_env(&pool, dir.path(), args, &key);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    }
    let signed = "SELECT count(*) FROM audit_checkpoints \
                  WHERE seq = (SELECT max(seq) FROM audit_events) AND signature IS NOT NULL";
    assert_eq!(count(&pool, signed).await, 1);
    let trusted = [("SHELFLIFE_AUDIT_PUBLIC_KEY_FILE", public.to_str().unwrap())];
    let (code, out) = verify(&pool, &trusted);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("1 signed and verified with the trusted key"),
        "{out}"
    );

    let bad = [("SHELFLIFE_AUDIT_KEY_FILE", public.to_str().unwrap())];
    let out = shelflife_with_env(&pool, dir.path(), &["apply", "--yes"], &bad);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a public key is no signing key: {}",
        describe(&out)
    );
}
