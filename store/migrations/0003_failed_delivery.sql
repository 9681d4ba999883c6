-- A failed version's tombstone remembers the delivery that failed (a replay
-- id or an ingest run id): late chunks of that delivery are ignored, and a
-- chunk of another delivery (a replay, a fresh ingest) clears the tombstone.
ALTER TABLE failed_versions ADD COLUMN delivery text NOT NULL DEFAULT '';
