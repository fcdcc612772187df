-- access_days becomes append-only: each ingest batch inserts its reads per key and day, and
-- readers sum them. Upserting into the (storage, bucket, key, day) primary key cost 2.4 times
-- a plain insert with an index on the key (1.19 s for 143k rows at 1M log lines).
ALTER TABLE access_days DROP CONSTRAINT access_days_pkey;
CREATE INDEX access_days_key ON access_days (bucket, key);
