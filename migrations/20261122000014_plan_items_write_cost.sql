-- Cheaper plan items to write (issue 5).
--
-- A 10M-row plan copies in over a million items, and that COPY is the longest step of
-- planning. Three per-row costs go:
--
-- * The second B-tree, `plan_items_plan (plan_id, id)`. Every item row went into it and into
--   the primary key on `id`. A plan now records the range its items' ids lie in
--   (`first_item`..`last_item`, set by the planner from the sequence, NULL for a plan with no
--   items), and its items are found by that range on the primary key, `plan_id` still checked
--   (plans written at the same time may interleave their ranges). Keeping one index on
--   (plan_id, id) instead would not do: lookups of claimed items by id then depend on
--   statistics, and for a plan not yet analysed PostgreSQL estimates one item and scans all of
--   the plan's items to find the claimed ones.
-- * `params` as JSONB, which PostgreSQL parses and re-encodes into its binary form for every
--   row; JSON only checks the text. Nothing queries inside params: apply reads them whole.
-- * One sequence call per row: with CACHE 1000 a session takes ids 1000 at a time. The ids of
--   one plan still increase in the order its single COPY wrote them (claims walk them in that
--   order); other sessions' ranges leave gaps, which nothing relies on.
--
-- Measured as CPU time of copying the 1,085,786 items of the 10M-row benchmark plan
-- (scripts/bench) into tables built both ways: the second index cost 0.8-1.3 s, JSONB
-- 0.3-0.6 s more than JSON, the uncached sequence about 0.4 s.
ALTER TABLE plans ADD COLUMN first_item BIGINT;
ALTER TABLE plans ADD COLUMN last_item BIGINT;

UPDATE plans p SET first_item = r.first_item, last_item = r.last_item
FROM (SELECT plan_id, min(id) AS first_item, max(id) AS last_item
      FROM plan_items GROUP BY plan_id) r
WHERE p.id = r.plan_id;

DROP INDEX IF EXISTS plan_items_plan;

CREATE OR REPLACE FUNCTION shelflife_delete_plan_items() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM plan_items i USING removed_plans r
    WHERE i.id BETWEEN r.first_item AND r.last_item AND i.plan_id = r.id;
    RETURN NULL;
END;
$$;

ALTER TABLE plan_items ALTER COLUMN params DROP DEFAULT;
ALTER TABLE plan_items ALTER COLUMN params TYPE JSON USING params::json;
ALTER TABLE plan_items ALTER COLUMN params SET DEFAULT '{}'::json;

ALTER SEQUENCE plan_items_id_seq CACHE 1000;
