-- Reblogs (boosts) are statuses of their own, as in Mastodon: a row of statuses whose
-- reblog_of_id is the status reblogged, with no text of its own. Only timelines that follow
-- accounts (home, a profile) list them; public and tag timelines leave them out.
ALTER TABLE statuses ADD COLUMN reblog_of_id BIGINT;
CREATE INDEX statuses_reblog_of ON statuses (reblog_of_id, account_id);
