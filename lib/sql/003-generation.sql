-- 003-generation.sql: a change counter for caching readers
-- (htg-dir-pg-cache(3)). Every change of what htg-policyd looks up counts
-- it up in the changing transaction; a caching process reads it at most
-- once a millisecond and empties its cache when it moved, so a change is
-- seen from 1 ms after its commit on. It replaces 001's NOTIFY (an
-- announcement can arrive tens of milliseconds late on a loaded machine).
CREATE TABLE htg.generation (n bigint NOT NULL);
INSERT INTO htg.generation VALUES (0);
CREATE OR REPLACE FUNCTION htg.announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE htg.generation SET n = n + 1;
	RETURN NULL;
END
$$;
