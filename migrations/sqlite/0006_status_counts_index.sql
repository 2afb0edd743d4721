-- Account counts (statuses_count, last_status_at) read only this index, not every status row.
CREATE INDEX statuses_account_visibility ON statuses (account_id, visibility, created_at);
