//! Signed checkpoints of the chain: at the end of each run, the head it reached, signed with the
//! operator's Ed25519 key (`SHELFLIFE_AUDIT_KEY_FILE`, PKCS#8 PEM as `openssl genpkey -algorithm
//! ed25519` writes it). Whoever holds the public key can then tell a chain rewritten from the
//! start (every hash recomputed) from the one that was checkpointed.
//!
//! Signed message: `shelflife audit checkpoint v1\n{seq}\n{head}\n{at}`, `at` as in events.

use super::{format_time, GENESIS};
use chrono::{DateTime, SubsecRound, Utc};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use futures::TryStreamExt;
use sqlx::PgPool;
use std::path::Path;

/// The key checkpoints are signed with.
pub struct AuditKey(SigningKey);

impl AuditKey {
    /// Reads a PKCS#8 PEM private key; the error names the file.
    pub fn from_file(path: &Path) -> Result<AuditKey, String> {
        let pem = std::fs::read_to_string(path)
            .map_err(|e| format!("audit key {}: {e}", path.display()))?;
        SigningKey::from_pkcs8_pem(&pem).map(AuditKey).map_err(|e| {
            format!(
                "audit key {}: not an Ed25519 PKCS#8 PEM private key: {e}",
                path.display()
            )
        })
    }

    pub fn public(&self) -> VerifyingKey {
        self.0.verifying_key()
    }
}

/// Reads a public key (SubjectPublicKeyInfo PEM, as `openssl pkey -pubout` writes it).
pub fn public_key_from_file(path: &Path) -> Result<VerifyingKey, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("audit public key {}: {e}", path.display()))?;
    VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
        format!(
            "audit public key {}: not an Ed25519 public key PEM: {e}",
            path.display()
        )
    })
}

fn message(seq: i64, head: &str, at: DateTime<Utc>) -> String {
    format!(
        "shelflife audit checkpoint v1\n{seq}\n{head}\n{}",
        format_time(at)
    )
}

/// A checkpoint as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub run_id: Option<i64>,
    pub seq: i64,
    pub head: String,
    pub signed: bool,
    /// Hex Ed25519 public key and signature, when signed.
    pub public_key: Option<String>,
    pub signature: Option<String>,
}

impl Checkpoint {
    /// The checkpoint as a self-describing JSON document (what is published to a bucket): the
    /// signed message is included so it can be checked without shelflife.
    pub fn document(&self) -> serde_json::Value {
        serde_json::json!({
            "format": "shelflife audit checkpoint v1",
            "id": self.id,
            "run_id": self.run_id,
            "seq": self.seq,
            "head": self.head,
            "at": format_time(self.at),
            "message": message(self.seq, &self.head, self.at),
            "public_key": self.public_key,
            "signature": self.signature,
        })
    }
}

/// Records the chain's current head, signed when `key` is given. Taken under the chain's lock,
/// so no event is half-appended.
pub async fn write(
    pool: &PgPool,
    run_id: Option<i64>,
    key: Option<&AuditKey>,
) -> Result<Checkpoint, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let (seq, head) = super::lock_head(&mut tx).await?;
    let at = Utc::now().trunc_subsecs(6);
    let signed = key.map(|k| {
        let signature = k.0.sign(message(seq, &head, at).as_bytes());
        (
            hex::encode(k.public().as_bytes()),
            hex::encode(signature.to_bytes()),
        )
    });
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO audit_checkpoints (at, run_id, seq, head, public_key, signature) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(at)
    .bind(run_id)
    .bind(seq)
    .bind(&head)
    .bind(signed.as_ref().map(|s| &s.0))
    .bind(signed.as_ref().map(|s| &s.1))
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    let (public_key, signature) = signed.unzip();
    Ok(Checkpoint {
        id,
        at,
        run_id,
        seq,
        head,
        signed: public_key.is_some(),
        public_key,
        signature,
    })
}

/// What the checkpoints say about the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckpointCheck {
    /// Every checkpoint matches the chain; `signed` of them carry a valid signature by the
    /// trusted key (or, without one, by the key they name), the others are unsigned.
    Consistent {
        checkpoints: i64,
        signed: i64,
        trusted_key: bool,
    },
    /// The first checkpoint that does not hold.
    Broken { id: i64, what: String },
}

#[derive(sqlx::FromRow)]
struct Stored {
    id: i64,
    at: DateTime<Utc>,
    seq: i64,
    head: String,
    public_key: Option<String>,
    signature: Option<String>,
    chain_hash: Option<String>,
}

/// Checks every checkpoint: its head is the chain's hash at its seq, and its signature is valid
/// (by `trusted` when given: a checkpoint signed by another key, or unsigned, then fails).
pub async fn check(
    pool: &PgPool,
    trusted: Option<&VerifyingKey>,
) -> Result<CheckpointCheck, sqlx::Error> {
    let mut rows = sqlx::query_as::<_, Stored>(
        "SELECT c.id, c.at, c.seq, c.head, c.public_key, c.signature, e.hash AS chain_hash \
         FROM audit_checkpoints c LEFT JOIN audit_events e ON e.seq = c.seq ORDER BY c.id",
    )
    .fetch(pool);
    let (mut checkpoints, mut signed) = (0, 0);
    while let Some(c) = rows.try_next().await? {
        let broken = |what: String| CheckpointCheck::Broken { id: c.id, what };
        let chain = c.chain_hash.clone().unwrap_or_else(|| GENESIS.to_string());
        if c.head != chain || (c.chain_hash.is_none() && c.seq != 0) {
            return Ok(broken(format!(
                "head {} at seq {} is not the chain's ({chain})",
                c.head, c.seq
            )));
        }
        match (&c.public_key, &c.signature) {
            (Some(key), Some(sig)) => {
                if let Err(what) = valid(key, sig, &message(c.seq, &c.head, c.at), trusted) {
                    return Ok(broken(what));
                }
                signed += 1;
            }
            _ if trusted.is_some() => return Ok(broken("unsigned, but a key is trusted".into())),
            _ => {}
        }
        checkpoints += 1;
    }
    Ok(CheckpointCheck::Consistent {
        checkpoints,
        signed,
        trusted_key: trusted.is_some(),
    })
}

/// Whether `signature` (hex) over `message` is valid for `key` (hex), which must be `trusted`
/// when one is given.
fn valid(
    key: &str,
    signature: &str,
    message: &str,
    trusted: Option<&VerifyingKey>,
) -> Result<(), String> {
    let key_bytes: [u8; 32] = hex::decode(key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("malformed public key")?;
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| "malformed public key")?;
    if trusted.is_some_and(|t| *t != key) {
        return Err(format!(
            "signed by another key ({})",
            hex::encode(key_bytes)
        ));
    }
    let sig_bytes: [u8; 64] = hex::decode(signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("malformed signature")?;
    key.verify(message.as_bytes(), &Signature::from_bytes(&sig_bytes))
        .map_err(|_| "signature does not match the checkpoint (altered)".to_string())
}
