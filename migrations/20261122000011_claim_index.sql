-- Apply's bookkeeping without index maintenance (execute/claim.rs).
--
-- An item is updated twice while a plan is applied: claimed, then finished. Both updates
-- changed `state`, which the old indexes covered (plan_items_open's predicate and
-- plan_items_plan_state), so neither could be a heap-only (HOT) update: every one wrote new
-- entries into the primary key and the open-items index. Measured on 100,000 items, claiming
-- and finishing them took 5.1-5.9 s that way and 1.0-1.3 s with HOT updates.
--
-- So no index covers `state` or the claim columns any more; (plan_id, id) serves claims (which
-- walk it from the last id claimed), the planner's decided items and the open-item checks.
-- A fillfactor of 50 leaves room on each page for the claimed and finished versions of its
-- rows, which HOT needs; new pages of the table get it, existing ones keep theirs.
DROP INDEX IF EXISTS plan_items_open;
DROP INDEX IF EXISTS plan_items_plan_state;
CREATE INDEX IF NOT EXISTS plan_items_plan ON plan_items (plan_id, id);
ALTER TABLE plan_items SET (fillfactor = 50);

-- The chain's order is `seq` (the primary key), assigned under the chain's lock, and every
-- hash covers its seq and its predecessor's hash, so a unique index on `hash` could never fire;
-- it only cost an index entry per event. Nothing looks events up by hash.
ALTER TABLE audit_events DROP CONSTRAINT IF EXISTS audit_events_hash_key;
