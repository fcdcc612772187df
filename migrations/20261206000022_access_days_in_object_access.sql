-- Reads per day move into object_access (`days`: {"YYYY-MM-DD": reads}), one row per key and
-- version: at 1M log lines the separate access_days table took 143k inserts per batch, as long
-- as the rest of the merge. Two aggregates sum day maps across staging rows and into the
-- existing row.
DROP TABLE access_days;
ALTER TABLE object_access ADD COLUMN days jsonb NOT NULL DEFAULT '{}';

CREATE FUNCTION access_add_days(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(jsonb_object_agg(d, n), '{}'::jsonb)
  FROM (SELECT d, sum(n::bigint) AS n
        FROM (SELECT * FROM jsonb_each_text(coalesce(a, '{}'::jsonb))
              UNION ALL
              SELECT * FROM jsonb_each_text(coalesce(b, '{}'::jsonb))) e(d, n)
        GROUP BY d) s
$$;

CREATE AGGREGATE access_sum_days(jsonb) (SFUNC = access_add_days, STYPE = jsonb, INITCOND = '{}');
