-- Retention of plan items (plan/prune.rs).
--
-- A nightly run over a 10M-version bucket writes about a million items, some 600 bytes each
-- with their index: left alone, `plan_items` grows by hundreds of gigabytes a year. What an
-- item records is kept elsewhere: the plan's figures in `plans.summary`, and every action
-- taken in the audit trail. So the items of old plans are deleted, and the plan says when, so
-- that `apply` refuses a pruned plan that was never applied instead of finding nothing to do
-- and marking it applied.
ALTER TABLE plans ADD COLUMN items_pruned_at timestamptz;
