-- Resumable scans. A scan is split into partitions: the top level of each target prefix
-- ('level', which discovers sub-folders), each sub-folder ('tree'), or each data file of an
-- S3 Inventory report ('file'). Rows are committed in chunks together with the partition's
-- cursor (the last version committed), so an interrupted scan resumes where it stopped; its
-- rows are never read until the scan completes.
CREATE TABLE scan_partitions (
    scan_id        BIGINT NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    kind           TEXT NOT NULL CHECK (kind IN ('level', 'tree', 'file')),
    name           TEXT NOT NULL,
    after_key      TEXT,
    after_version  TEXT,
    next_ordinal   BIGINT NOT NULL DEFAULT 0,
    objects        BIGINT NOT NULL DEFAULT 0,
    bytes          BIGINT NOT NULL DEFAULT 0,
    done           BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (scan_id, kind, name)
);

-- How many times a scan was started (1, plus one per resume), and for report scans the
-- manifest it reads, so a resume continues the same report.
ALTER TABLE scans ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE scans ADD COLUMN report TEXT;

-- Object Lock state as an S3 Inventory report gives it. `lock_known` says the report had the
-- retention and legal-hold columns, so NULLs mean "none" rather than "unknown".
ALTER TABLE inventory ADD COLUMN lock_mode TEXT;
ALTER TABLE inventory ADD COLUMN retain_until TIMESTAMPTZ;
ALTER TABLE inventory ADD COLUMN legal_hold BOOLEAN;
ALTER TABLE inventory ADD COLUMN lock_known BOOLEAN NOT NULL DEFAULT false;
