-- `shelflife run` and `serve` (issue 8): one row per policy run (scan, plan, apply), so that
-- `--due` knows when each policy last succeeded.
CREATE TABLE policy_runs (
    id           BIGSERIAL PRIMARY KEY,
    policy       TEXT NOT NULL,
    run_id       BIGINT REFERENCES runs (id),
    started_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at  TIMESTAMPTZ,
    exit_code    INTEGER,
    worker       TEXT NOT NULL
);
CREATE INDEX policy_runs_succeeded ON policy_runs (policy, started_at DESC) WHERE exit_code = 0;

DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'shelflife_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON policy_runs TO shelflife_app;
        GRANT USAGE, SELECT ON SEQUENCE policy_runs_id_seq TO shelflife_app;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'policy_runs not granted to shelflife_app: %', SQLERRM;
END
$$;
