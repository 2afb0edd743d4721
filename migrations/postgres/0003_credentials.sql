-- OAuth credentials. Not events: they are secrets, not history, and replay does not touch them.
CREATE TABLE oauth_apps (
    id                 TEXT    NOT NULL PRIMARY KEY,
    name               TEXT    NOT NULL,
    website            TEXT,
    redirect_uris      TEXT    NOT NULL,
    scopes             TEXT    NOT NULL,
    client_id          TEXT    NOT NULL UNIQUE,
    client_secret_hash TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL
);

CREATE TABLE oauth_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    app_id     TEXT    NOT NULL,
    account_id TEXT,
    scopes     TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT ,
    revoked_at BIGINT 
);
CREATE INDEX oauth_tokens_account ON oauth_tokens (account_id);

CREATE TABLE oauth_codes (
    code_hash      TEXT    NOT NULL PRIMARY KEY,
    app_id         TEXT    NOT NULL,
    account_id     TEXT    NOT NULL,
    redirect_uri   TEXT    NOT NULL,
    scopes         TEXT    NOT NULL,
    code_challenge TEXT,
    challenge_method TEXT,
    expires_at     BIGINT  NOT NULL,
    used           BIGINT  NOT NULL
);
