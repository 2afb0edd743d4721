-- Remote accounts share the accounts read model: username_lower is "user@domain" for them
-- (local names never contain @), domain is NULL for local accounts.
ALTER TABLE accounts ADD COLUMN domain TEXT;
ALTER TABLE accounts ADD COLUMN uri TEXT;
ALTER TABLE accounts ADD COLUMN url TEXT;
ALTER TABLE accounts ADD COLUMN inbox_url TEXT;
ALTER TABLE accounts ADD COLUMN shared_inbox_url TEXT;
ALTER TABLE accounts ADD COLUMN key_id TEXT;
ALTER TABLE accounts ADD COLUMN avatar_remote_url TEXT;
ALTER TABLE accounts ADD COLUMN header_remote_url TEXT;
ALTER TABLE accounts ADD COLUMN followers_url TEXT;
CREATE INDEX accounts_uri ON accounts (uri);
CREATE INDEX accounts_key_id ON accounts (key_id);

-- Read model: Follow activities by id, received and sent (to answer a Follow with Accept or
-- Reject, and to know what an Accept naming only a Follow id accepts).
CREATE TABLE remote_follows (
    activity_id  TEXT NOT NULL PRIMARY KEY,
    follower_uri TEXT NOT NULL,
    followee_uri TEXT NOT NULL,
    position     BIGINT NOT NULL
);
CREATE INDEX remote_follows_pair ON remote_follows (follower_uri, followee_uri, position);
