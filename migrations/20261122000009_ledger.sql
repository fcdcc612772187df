-- The audit trail as evidence (issue 7): what every event must say, runs in the chain, and a
-- role that cannot rewrite history.

-- The git commit the policy came from (SHELFLIFE_POLICY_REVISION, or `git rev-parse HEAD` of
-- the checkout holding the policy file; "+dirty" when the file differs from that commit).
ALTER TABLE plans ADD COLUMN policy_revision TEXT;

-- Who and where: the machine, the OS user, the command line and the tool version.
ALTER TABLE runs
    ADD COLUMN host TEXT,
    ADD COLUMN os_user TEXT,
    ADD COLUMN args TEXT,
    ADD COLUMN version TEXT;

-- Per event: the policy's git revision, the clock ages were measured against, the worker.
-- Runs are in the chain too: `run.start` (outcome `started`) and `run.end` (`done` on exit 0,
-- `failed` otherwise). Items the plan skipped as uneconomic get the outcome `uneconomic`.
ALTER TABLE audit_events
    ADD COLUMN policy_revision TEXT,
    ADD COLUMN clock TIMESTAMPTZ,
    ADD COLUMN worker TEXT;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_outcome_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_outcome_check
    CHECK (outcome IN ('done', 'skipped', 'blocked', 'failed', 'uneconomic', 'started'));
CREATE INDEX audit_events_at ON audit_events (at);

-- `shelflife_app`: what shelflife needs and no more on the audit tables (INSERT and SELECT).
-- Grant it to the login role the jobs use (see docs/audit.md); the migrations themselves run
-- as the schema owner. Roles are cluster-wide: created once, granted per database. Without
-- the CREATEROLE privilege the role is left to the administrator, with a notice.
DO $$
BEGIN
    -- Not `IF NOT EXISTS`: two databases of one cluster migrated at once would both see no
    -- role, and the second CREATE fails on the catalog's unique index when the first commits.
    BEGIN
        CREATE ROLE shelflife_app NOLOGIN;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO shelflife_app', current_database());
    GRANT USAGE ON SCHEMA public TO shelflife_app;
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO shelflife_app;
    GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO shelflife_app;
    REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_checkpoints FROM shelflife_app;
    -- Scans create their inventory partitions and attach them to `inventory`, which takes
    -- ownership of the parent table; the audit tables stay with the schema owner.
    GRANT CREATE ON SCHEMA public TO shelflife_app;
    ALTER TABLE inventory OWNER TO shelflife_app;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'shelflife_app role not created (no CREATEROLE privilege): %', SQLERRM;
END
$$;
