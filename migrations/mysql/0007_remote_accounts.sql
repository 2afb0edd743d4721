-- Remote accounts share the accounts read model: username_lower is "user@domain" for them
-- (local names never contain @), domain is NULL for local accounts.
ALTER TABLE accounts MODIFY username VARCHAR(255) NOT NULL;
ALTER TABLE accounts MODIFY username_lower VARCHAR(255) NOT NULL;
ALTER TABLE accounts ADD COLUMN domain VARCHAR(255);
ALTER TABLE accounts ADD COLUMN uri VARCHAR(255);
ALTER TABLE accounts ADD COLUMN url TEXT;
ALTER TABLE accounts ADD COLUMN inbox_url TEXT;
ALTER TABLE accounts ADD COLUMN shared_inbox_url TEXT;
ALTER TABLE accounts ADD COLUMN key_id VARCHAR(255);
ALTER TABLE accounts ADD COLUMN avatar_remote_url TEXT;
ALTER TABLE accounts ADD COLUMN header_remote_url TEXT;
ALTER TABLE accounts ADD COLUMN followers_url TEXT;
CREATE INDEX accounts_uri ON accounts (uri);
CREATE INDEX accounts_key_id ON accounts (key_id);

-- Read model: Follow activities by id, received and sent (to answer a Follow with Accept or
-- Reject, and to know what an Accept naming only a Follow id accepts).
CREATE TABLE remote_follows (
    activity_id  VARCHAR(255) NOT NULL PRIMARY KEY,
    follower_uri VARCHAR(255) NOT NULL,
    followee_uri VARCHAR(255) NOT NULL,
    position     BIGINT NOT NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX remote_follows_pair ON remote_follows (follower_uri, followee_uri, position);
