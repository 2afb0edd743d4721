-- Read model: accounts (a projection of the log).
CREATE TABLE accounts (
    id             TEXT    NOT NULL PRIMARY KEY,
    username       TEXT    NOT NULL,
    username_lower TEXT    NOT NULL UNIQUE,
    email          TEXT    NOT NULL,
    email_lower    TEXT    NOT NULL,
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
    role           TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    locale         TEXT    NOT NULL,
    reason         TEXT,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE INDEX accounts_email ON accounts (email_lower);
CREATE INDEX accounts_state ON accounts (state, id);

-- Read model: the node's settings (a projection of the log).
CREATE TABLE instance_settings (
    id                 BIGINT  NOT NULL PRIMARY KEY,
    registrations_mode TEXT    NOT NULL,
    title              TEXT,
    description        TEXT,
    contact_email      TEXT,
    contact_username   TEXT
);
INSERT INTO instance_settings (id, registrations_mode) VALUES (1, 'approval');
