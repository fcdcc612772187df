-- `shelflife db prune` drops the snapshots of targets no policy has any more (their rows would
-- otherwise stay forever: only a newer scan of the same target supersedes a snapshot). The
-- scans row stays, for the plans made from it, with status 'dropped'.
ALTER TABLE scans DROP CONSTRAINT scans_status_check;
ALTER TABLE scans ADD CONSTRAINT scans_status_check
    CHECK (status IN ('running', 'complete', 'failed', 'dropped'));
