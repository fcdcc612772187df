-- Never act on an object that changed since the snapshot (issue 22).

-- Items whose object was not the content the plan decided on are `skipped` with a reason that
-- starts `changed since scan`; their audit events have the outcome `changed`.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_outcome_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_outcome_check
    CHECK (outcome IN ('done', 'skipped', 'blocked', 'failed', 'uneconomic', 'changed', 'started'));

-- When the state a snapshot holds was read: an S3 Inventory report's creationTimestamp (reports
-- are daily or weekly, so often days older than the scan), NULL for a listing, which is as old
-- as the scan's start (`started_at`).
ALTER TABLE scans ADD COLUMN taken_at TIMESTAMPTZ;
