-- The position of each row in its scan's listing. S3 lists a key's versions newest first, and
-- that order is authoritative: Last-Modified has coarse granularity on some servers and ties.
ALTER TABLE inventory ADD COLUMN ordinal BIGINT;
