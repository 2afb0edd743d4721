-- Read models for photos and the social graph (projections of the log).

-- Uploaded photos: their files in the block store and what describes them.
CREATE TABLE media (
    id              BIGINT  NOT NULL PRIMARY KEY,
    account_id      TEXT    NOT NULL,
    status_id       BIGINT,
    ordinal         BIGINT,
    original_cid    TEXT    NOT NULL,
    original_type   TEXT    NOT NULL,
    original_bytes  BIGINT  NOT NULL,
    original_width  BIGINT  NOT NULL,
    original_height BIGINT  NOT NULL,
    small_cid       TEXT    NOT NULL,
    small_type      TEXT    NOT NULL,
    small_bytes     BIGINT  NOT NULL,
    small_width     BIGINT  NOT NULL,
    small_height    BIGINT  NOT NULL,
    large_cid       TEXT    NOT NULL,
    large_type      TEXT    NOT NULL,
    large_bytes     BIGINT  NOT NULL,
    large_width     BIGINT  NOT NULL,
    large_height    BIGINT  NOT NULL,
    blurhash        TEXT    NOT NULL,
    exif            TEXT    NOT NULL,
    description     TEXT,
    focus           TEXT,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX media_account ON media (account_id, id);
CREATE INDEX media_status ON media (status_id, ordinal);

-- Posts and comments (a comment replies to another status). Deleted statuses are removed.
CREATE TABLE statuses (
    id                     BIGINT  NOT NULL PRIMARY KEY,
    account_id             TEXT    NOT NULL,
    in_reply_to_id         BIGINT,
    in_reply_to_account_id TEXT,
    visibility             TEXT    NOT NULL,
    text                   TEXT    NOT NULL,
    content                TEXT    NOT NULL,
    spoiler_text           TEXT    NOT NULL,
    is_sensitive           BIGINT  NOT NULL,
    language               TEXT,
    title                  TEXT,
    licence                TEXT    NOT NULL,
    allow_download         BIGINT  NOT NULL,
    media_count            BIGINT  NOT NULL,
    created_at             BIGINT  NOT NULL,
    edited_at              BIGINT
);
CREATE INDEX statuses_account ON statuses (account_id, id);
CREATE INDEX statuses_reply ON statuses (in_reply_to_id, id);
CREATE INDEX statuses_visibility ON statuses (visibility, id);

CREATE TABLE status_tags (
    status_id  BIGINT NOT NULL,
    tag        TEXT   NOT NULL,
    PRIMARY KEY (status_id, tag)
);
CREATE INDEX status_tags_tag ON status_tags (tag, status_id);

CREATE TABLE status_mentions (
    status_id  BIGINT NOT NULL,
    account_id TEXT   NOT NULL,
    username   TEXT   NOT NULL,
    PRIMARY KEY (status_id, account_id)
);
CREATE INDEX status_mentions_account ON status_mentions (account_id, status_id);

-- Every version of a status, the first included (Mastodon's status history).
CREATE TABLE status_edits (
    status_id  BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    content    TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (status_id, version)
);

-- The social graph. `position` is the log position of the event that created the row: the id
-- Mastodon clients page these lists by.
CREATE TABLE follows (
    account_id TEXT   NOT NULL,
    target_id  TEXT   NOT NULL,
    position   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, target_id)
);
CREATE INDEX follows_target ON follows (target_id, position);
CREATE INDEX follows_account ON follows (account_id, position);

CREATE TABLE follow_requests (
    account_id TEXT   NOT NULL,
    target_id  TEXT   NOT NULL,
    position   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, target_id)
);
CREATE INDEX follow_requests_target ON follow_requests (target_id, position);

CREATE TABLE blocks (
    account_id TEXT   NOT NULL,
    target_id  TEXT   NOT NULL,
    position   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, target_id)
);
CREATE INDEX blocks_target ON blocks (target_id);

CREATE TABLE mutes (
    account_id    TEXT   NOT NULL,
    target_id     TEXT   NOT NULL,
    notifications BIGINT NOT NULL,
    position      BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, target_id)
);

-- Favourites and bookmarks; `position` as for follows.
CREATE TABLE favourites (
    account_id        TEXT   NOT NULL,
    status_id         BIGINT NOT NULL,
    status_account_id TEXT   NOT NULL,
    position          BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    PRIMARY KEY (account_id, status_id)
);
CREATE INDEX favourites_status ON favourites (status_id, position);
CREATE INDEX favourites_account ON favourites (account_id, position);

CREATE TABLE bookmarks (
    account_id TEXT   NOT NULL,
    status_id  BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, status_id)
);
CREATE INDEX bookmarks_account ON bookmarks (account_id, position);

-- Notifications; the id is derived from the log position of the event that caused it.
CREATE TABLE notifications (
    id              BIGINT NOT NULL PRIMARY KEY,
    account_id      TEXT   NOT NULL,
    type            TEXT   NOT NULL,
    from_account_id TEXT   NOT NULL,
    status_id       BIGINT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX notifications_account ON notifications (account_id, id);
CREATE INDEX notifications_status ON notifications (status_id);
