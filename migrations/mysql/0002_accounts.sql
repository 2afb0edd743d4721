-- Read model: accounts (a projection of the log).
CREATE TABLE accounts (
    id             VARCHAR(64) NOT NULL PRIMARY KEY,
    username       VARCHAR(64) NOT NULL,
    username_lower VARCHAR(64) NOT NULL UNIQUE,
    email          TEXT    NOT NULL,
    email_lower    VARCHAR(254) NOT NULL,
    password_hash  TEXT    NOT NULL,
    display_name   TEXT    NOT NULL,
    note           TEXT    NOT NULL,
    avatar_hash    TEXT,
    avatar_type    TEXT,
    header_hash    TEXT,
    header_type    TEXT,
    locked         BIGINT  NOT NULL,
    bot            BIGINT  NOT NULL,
    discoverable   BIGINT  NOT NULL,
    fields         TEXT    NOT NULL,
    role           VARCHAR(16) NOT NULL,
    state          VARCHAR(16) NOT NULL,
    locale         VARCHAR(16) NOT NULL,
    reason         TEXT,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX accounts_email ON accounts (email_lower);
CREATE INDEX accounts_state ON accounts (state, id);

-- Read model: the node's settings (a projection of the log).
CREATE TABLE instance_settings (
    id                 BIGINT  NOT NULL PRIMARY KEY,
    registrations_mode VARCHAR(16) NOT NULL,
    title              TEXT,
    description        TEXT,
    contact_email      TEXT,
    contact_username   TEXT
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO instance_settings (id, registrations_mode) VALUES (1, 'approval');
