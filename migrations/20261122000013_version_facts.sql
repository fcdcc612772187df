-- A key's version facts stored with each version when the scan could work them out while
-- ingesting (inventory/context.rs), so planning reads them instead of joining and sorting
-- every multi-version key (about 7 s of an 11 s read at 10M rows, 10% noncurrent).
--
-- NULL in all three means "the only version of its key" for a scan whose `version_facts`
-- is true, and "not computed" otherwise (the planner then derives them with window functions).
ALTER TABLE inventory
    ADD COLUMN newer_versions INTEGER,
    ADD COLUMN successor_modified TIMESTAMPTZ,
    ADD COLUMN key_versions INTEGER;

-- Scans still in progress write to tables not yet attached to `inventory`; they get the
-- columns too, so they attach when resumed.
DO $$
DECLARE t text;
BEGIN
    FOR t IN SELECT c.relname FROM pg_class c
             WHERE c.relkind = 'r' AND c.relname ~ '^inventory_p[0-9]+$'
               AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid)
    LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN IF NOT EXISTS newer_versions INTEGER, '
                       'ADD COLUMN IF NOT EXISTS successor_modified TIMESTAMPTZ, '
                       'ADD COLUMN IF NOT EXISTS key_versions INTEGER', t);
    END LOOP;
END $$;

-- Whether every row of the scan carries its key's facts.
ALTER TABLE scans ADD COLUMN version_facts BOOLEAN NOT NULL DEFAULT false;

-- Per report file: its first and last key, and whether each key's versions came together in
-- key order. The scan has its facts only if every file's did and no two files share a key.
ALTER TABLE scan_partitions
    ADD COLUMN first_key TEXT,
    ADD COLUMN last_key TEXT,
    ADD COLUMN keys_grouped BOOLEAN;
