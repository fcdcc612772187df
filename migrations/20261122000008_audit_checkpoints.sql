-- Checkpoints of the audit chain, one at the end of each run: the head it reached, signed with
-- the operator's Ed25519 key when one is configured. Append-only, like the events.
CREATE TABLE audit_checkpoints (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
    run_id      BIGINT REFERENCES runs (id),
    -- The chain head covered: the last event's seq (0 for an empty chain) and hash.
    seq         BIGINT NOT NULL,
    head        TEXT NOT NULL,
    -- Hex Ed25519 public key and signature over the checkpoint message; NULL when unsigned.
    public_key  TEXT,
    signature   TEXT,
    CHECK ((public_key IS NULL) = (signature IS NULL))
);

CREATE TRIGGER audit_checkpoints_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION shelflife_reject_audit_change();
CREATE TRIGGER audit_checkpoints_no_truncate
    BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION shelflife_reject_audit_change();
