-- Delete markers are removed by version id (deleting one by key would add another marker), so
-- plan items must say whether they are one.
ALTER TABLE plan_items ADD COLUMN is_delete_marker BOOLEAN NOT NULL DEFAULT false;
