-- One inventory partition per scan. A scan writes into its own table (`inventory_p<scan id>`,
-- created unattached, with no index) so COPY runs at bare-table speed and readers never see a
-- half-written scan; the table is attached to `inventory` once its rows are all in. Replacing
-- a snapshot drops the superseded scan's table, which is instant, where deleting millions of
-- rows was slow and left the table bloated. (The foreign key to `scans` goes: attaching would
-- have to re-check every row; the code drops a scan's table with the scan.)
ALTER TABLE inventory RENAME TO inventory_unpartitioned;
CREATE TABLE inventory (LIKE inventory_unpartitioned INCLUDING DEFAULTS) PARTITION BY LIST (scan_id);

DO $$
DECLARE
    s BIGINT;
BEGIN
    FOR s IN SELECT DISTINCT scan_id FROM inventory_unpartitioned LOOP
        EXECUTE format('CREATE TABLE inventory_p%s PARTITION OF inventory FOR VALUES IN (%s)', s, s);
        EXECUTE format('INSERT INTO inventory_p%s SELECT * FROM inventory_unpartitioned WHERE scan_id = %s', s, s);
    END LOOP;
END
$$;

DROP TABLE inventory_unpartitioned;
