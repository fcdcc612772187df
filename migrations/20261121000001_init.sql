-- shelflife schema: inventory snapshots, plans and their items, runs, and the audit trail.

-- One scan of one target (storage, bucket, prefix). Only a `complete` scan is a snapshot that
-- plans may read; a failed scan never replaces the previous one.
CREATE TABLE scans (
    id           BIGSERIAL PRIMARY KEY,
    storage      TEXT NOT NULL,
    bucket       TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    source       TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ,
    objects      BIGINT NOT NULL DEFAULT 0,
    bytes        BIGINT NOT NULL DEFAULT 0,
    error        TEXT
);
CREATE INDEX scans_target ON scans (storage, bucket, prefix, status, id DESC);

-- One row per object version of a scan.
CREATE TABLE inventory (
    scan_id          BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    key              TEXT NOT NULL,
    version_id       TEXT,
    is_latest        BOOLEAN NOT NULL,
    is_delete_marker BOOLEAN NOT NULL,
    size             BIGINT NOT NULL,
    etag             TEXT,
    last_modified    TIMESTAMPTZ NOT NULL,
    storage_class    TEXT
);
CREATE INDEX inventory_scan_key ON inventory (scan_id, key);

-- One execution of a command that acts (apply, run): who, where, how it ended.
CREATE TABLE runs (
    id           BIGSERIAL PRIMARY KEY,
    command      TEXT NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ,
    worker       TEXT NOT NULL,
    exit_code    INTEGER
);

-- A plan: what one policy decided over one snapshot, as of one clock.
CREATE TABLE plans (
    id             BIGSERIAL PRIMARY KEY,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    as_of          TIMESTAMPTZ NOT NULL,
    policy         TEXT NOT NULL,
    policy_sha256  TEXT NOT NULL,
    storage        TEXT NOT NULL,
    bucket         TEXT NOT NULL,
    scan_id        BIGINT NOT NULL REFERENCES scans (id),
    state          TEXT NOT NULL CHECK (state IN ('planned', 'refused', 'applied')),
    refusal        TEXT,
    summary        JSONB NOT NULL
);
CREATE INDEX plans_policy ON plans (policy, id DESC);

-- One action on one object version. Items move pending → claimed → done | skipped | blocked |
-- failed; a claim expires so that a killed worker's items are taken up again.
CREATE TABLE plan_items (
    id              BIGSERIAL PRIMARY KEY,
    plan_id         BIGINT NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    rule            TEXT NOT NULL,
    action          TEXT NOT NULL,
    params          JSONB NOT NULL DEFAULT '{}'::jsonb,
    key             TEXT NOT NULL,
    version_id      TEXT,
    is_latest       BOOLEAN NOT NULL,
    size            BIGINT NOT NULL,
    etag            TEXT,
    last_modified   TIMESTAMPTZ NOT NULL,
    storage_class   TEXT,
    state           TEXT NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'claimed', 'done', 'skipped', 'blocked', 'failed')),
    claimed_by      TEXT,
    claimed_until   TIMESTAMPTZ,
    attempts        INTEGER NOT NULL DEFAULT 0,
    reason          TEXT,
    finished_at     TIMESTAMPTZ
);
CREATE INDEX plan_items_open ON plan_items (plan_id, id) WHERE state IN ('pending', 'claimed');
CREATE INDEX plan_items_plan_state ON plan_items (plan_id, state);

-- The audit trail: append-only and hash-chained. `hash` is the SHA-256 of the event's
-- canonical encoding (see src/audit/) including `prev_hash`, the hash of the event before it.
CREATE TABLE audit_events (
    seq            BIGINT PRIMARY KEY,
    at             TIMESTAMPTZ NOT NULL,
    run_id         BIGINT,
    plan_id        BIGINT,
    item_id        BIGINT UNIQUE,
    policy         TEXT NOT NULL,
    policy_sha256  TEXT NOT NULL,
    rule           TEXT NOT NULL,
    action         TEXT NOT NULL,
    storage        TEXT NOT NULL,
    bucket         TEXT NOT NULL,
    key            TEXT NOT NULL,
    version_id     TEXT,
    size           BIGINT NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('done', 'skipped', 'blocked', 'failed')),
    reason         TEXT,
    state_before   JSONB NOT NULL,
    state_after    JSONB NOT NULL,
    prev_hash      TEXT NOT NULL,
    hash           TEXT NOT NULL UNIQUE
);

CREATE FUNCTION shelflife_reject_audit_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION shelflife_reject_audit_change();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION shelflife_reject_audit_change();
