-- Bringing data back (issue 25): a restore or undo item whose source version is in an archived
-- class (GLACIER, DEEP_ARCHIVE) is `thawing` once RestoreObject was asked for, until a later
-- apply finds it thawed and copies it. Its audit events say `thawing` and carry no item id
-- (an item has one final event).
ALTER TABLE plan_items DROP CONSTRAINT IF EXISTS plan_items_state_check;
ALTER TABLE plan_items ADD CONSTRAINT plan_items_state_check
    CHECK (state IN ('pending', 'claimed', 'done', 'skipped', 'blocked', 'failed', 'thawing'))
    NOT VALID;

ALTER TABLE audit_events DROP CONSTRAINT audit_events_outcome_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_outcome_check
    CHECK (outcome IN ('done', 'skipped', 'blocked', 'failed', 'uneconomic', 'changed', 'started',
                       'thawing'))
    NOT VALID;
