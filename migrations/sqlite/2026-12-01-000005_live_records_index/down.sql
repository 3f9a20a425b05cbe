DROP INDEX records_live_idx;
