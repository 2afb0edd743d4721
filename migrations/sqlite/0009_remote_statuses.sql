-- Statuses received from other nodes share the statuses read model: uri is their ActivityPub
-- id (NULL for local statuses, whose URI derives from their id), url their page, and
-- remote_media their photos as the remote node describes them (JSON), which stay on that node.
ALTER TABLE statuses ADD COLUMN uri TEXT;
ALTER TABLE statuses ADD COLUMN url TEXT;
ALTER TABLE statuses ADD COLUMN remote_media TEXT;
CREATE INDEX statuses_uri ON statuses (uri);

-- Read model: received activities not yet interpreted, in log order. The inbox answers 202 once
-- an activity is in the log; the inbox worker interprets these rows and records each outcome.
CREATE TABLE inbox_queue (
    position    BIGINT NOT NULL PRIMARY KEY,
    activity_id TEXT NOT NULL,
    actor_uri   TEXT NOT NULL,
    raw         TEXT NOT NULL
);
