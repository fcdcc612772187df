-- Access-log ingest (issue 27): which log objects were read for which bucket, and per key the
-- last access and the number of accesses per day.

CREATE TABLE access_logs (
    storage text NOT NULL,          -- the target's storage and bucket the reads were kept for
    bucket text NOT NULL,
    log_storage text NOT NULL,
    log_bucket text NOT NULL,
    log_key text NOT NULL,
    etag text,
    size bigint NOT NULL,
    format text NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    lines bigint NOT NULL,
    reads bigint NOT NULL,
    bad_lines bigint NOT NULL,
    bad jsonb NOT NULL DEFAULT '[]',
    first_at timestamptz,           -- the first and last request time of any line
    last_at timestamptz,
    PRIMARY KEY (storage, bucket, log_storage, log_bucket, log_key)
);

CREATE TABLE object_access (
    storage text NOT NULL,
    bucket text NOT NULL,
    key text NOT NULL,
    version_key text NOT NULL,      -- '' for reads that named no version
    last_access timestamptz NOT NULL,
    source_log text NOT NULL,       -- s3://log-bucket/log-key of the last access
    source_line bigint NOT NULL,
    accesses bigint NOT NULL,
    PRIMARY KEY (storage, bucket, key, version_key)
);

CREATE TABLE access_days (
    storage text NOT NULL,
    bucket text NOT NULL,
    key text NOT NULL,
    day date NOT NULL,
    accesses bigint NOT NULL,
    PRIMARY KEY (storage, bucket, key, day)
);
