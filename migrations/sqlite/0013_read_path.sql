-- The read path (issue 15): counters kept by the projections that own the rows they count, and
-- the home feed, written when a status is appended instead of searched for on every read.

-- Statuses read model. Replies and reblogs (by active accounts) of each status.
ALTER TABLE statuses ADD COLUMN replies_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE statuses ADD COLUMN reblogs_count BIGINT NOT NULL DEFAULT 0;

-- What the statuses read model keeps of each account: the key of its events (the lower-cased
-- username of a local account, the actor URI of a remote one), whether it is ours and active,
-- its statuses (direct ones left out) and, for a local account, an upper bound of its home feed
-- rows (see projections/src/home.rs).
CREATE TABLE status_accounts (
    account_id     TEXT NOT NULL PRIMARY KEY,
    event_key      TEXT NOT NULL,
    is_local       BIGINT NOT NULL,
    is_active      BIGINT NOT NULL,
    statuses_count BIGINT NOT NULL,
    last_status_at BIGINT,
    home_rows      BIGINT NOT NULL
);
CREATE INDEX status_accounts_key ON status_accounts (event_key);

-- Home feeds: one row per local account and status (or reblog) in its home timeline, the
-- newest 800 kept. A page is one range of the primary key.
CREATE TABLE home_feed (
    account_id TEXT NOT NULL,
    status_id  BIGINT NOT NULL,
    PRIMARY KEY (account_id, status_id)
) WITHOUT ROWID;

-- The statuses read model's own copy of the social graph the home feeds depend on (the
-- relationships read model follows the log at its own pace): follows by local accounts, blocks
-- and mutes.
CREATE TABLE home_follows (
    target_id  TEXT NOT NULL,
    account_id TEXT NOT NULL,
    PRIMARY KEY (target_id, account_id)
) WITHOUT ROWID;
CREATE INDEX home_follows_account ON home_follows (account_id, target_id);
CREATE TABLE home_blocks (
    account_id TEXT NOT NULL,
    target_id  TEXT NOT NULL,
    PRIMARY KEY (account_id, target_id)
) WITHOUT ROWID;
CREATE TABLE home_mutes (
    account_id TEXT NOT NULL,
    target_id  TEXT NOT NULL,
    PRIMARY KEY (account_id, target_id)
) WITHOUT ROWID;

-- The new tables depend on the whole history (follows made before a post, accounts suspended
-- after a reblog), so the statuses read model is rebuilt from the log: emptied here, caught up
-- from position 0 when the node next opens the database (before it serves anything).
DELETE FROM status_edits;
DELETE FROM status_mentions;
DELETE FROM status_tags;
DELETE FROM statuses;
UPDATE projection_checkpoints SET position = 0 WHERE name = 'statuses';

-- Relationships read model. Followers, following and pending requests per account, one row
-- per account with any; counted from its own tables, which are at the same log position.
CREATE TABLE follow_counts (
    account_id            TEXT NOT NULL PRIMARY KEY,
    followers_count       BIGINT NOT NULL,
    following_count       BIGINT NOT NULL,
    follow_requests_count BIGINT NOT NULL
);
INSERT INTO follow_counts (account_id, followers_count, following_count, follow_requests_count)
SELECT x.id,
       (SELECT COUNT(*) FROM follows f WHERE f.target_id = x.id),
       (SELECT COUNT(*) FROM follows f WHERE f.account_id = x.id),
       (SELECT COUNT(*) FROM follow_requests r WHERE r.target_id = x.id)
FROM (SELECT account_id AS id FROM follows
      UNION SELECT target_id AS id FROM follows
      UNION SELECT target_id AS id FROM follow_requests) x;

-- Engagements read model. Favourites per status, one row per status with any.
CREATE TABLE favourite_counts (
    status_id        BIGINT NOT NULL PRIMARY KEY,
    favourites_count BIGINT NOT NULL
);
INSERT INTO favourite_counts (status_id, favourites_count)
SELECT status_id, COUNT(*) FROM favourites GROUP BY status_id;
