-- The audit trail's time index as a BRIN index instead of a B-tree.
--
-- Events are appended in time order under the chain's lock, so `at` follows the table's
-- physical order and a BRIN index (a few pages summarising ranges of blocks) finds a report's
-- time range as well as a B-tree does, while each append no longer inserts an index entry per
-- event: an apply of 20,000 deletes writes 20,000 events. `report --since/--until` is the only
-- reader of this index.
DROP INDEX IF EXISTS audit_events_at;
CREATE INDEX audit_events_at ON audit_events USING brin (at);
