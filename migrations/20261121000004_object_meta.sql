-- Per-object data beyond the listing (tags, Object Lock state, user metadata). Each costs a
-- request per object, so it is fetched only for policies that read it and cached here keyed by
-- the exact version (version id, or '' for unversioned stores, and ETag), so the next scan asks
-- only for new versions and entries older than its maximum age.
CREATE TABLE object_meta (
    storage       TEXT NOT NULL,
    bucket        TEXT NOT NULL,
    key           TEXT NOT NULL,
    version_key   TEXT NOT NULL,
    etag          TEXT NOT NULL,
    -- NULL: tags not fetched.
    tags          JSONB,
    tags_at       TIMESTAMPTZ,
    -- false: HeadObject not fetched, and the three columns below are unknown.
    head_fetched  BOOLEAN NOT NULL DEFAULT false,
    head_at       TIMESTAMPTZ,
    lock_mode     TEXT,
    retain_until  TIMESTAMPTZ,
    legal_hold    BOOLEAN,
    user_meta     JSONB,
    -- The version was gone when asked (deleted between listing and fetching).
    missing       BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (storage, bucket, key, version_key, etag)
);

-- A scan covers one or more disjoint prefixes of a bucket.
ALTER TABLE scans ADD COLUMN prefixes TEXT[];
UPDATE scans SET prefixes = ARRAY[prefix];
ALTER TABLE scans ALTER COLUMN prefixes SET NOT NULL;
DROP INDEX scans_target;
ALTER TABLE scans DROP COLUMN prefix;
CREATE INDEX scans_target ON scans (storage, bucket, prefixes, status, id DESC);
