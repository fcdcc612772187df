-- Planner v2 (issue 5).
--
-- Whether the scanned bucket has Object Lock enabled (NULL: could not be determined). On a
-- bucket without it no version can be retained or held, so a plan knows every version's lock
-- state without a HeadObject per version.
ALTER TABLE scans ADD COLUMN object_lock BOOLEAN;

-- Items that will not be acted on are kept with the plan for reviewers: `blocked` (Object Lock
-- retention or legal hold; `eligible_at` is when retention ends, NULL for a legal hold) and
-- `skipped` with reason `uneconomic: ...` (the cost guard).
ALTER TABLE plan_items ADD COLUMN eligible_at TIMESTAMPTZ;
