-- The event log. Columns are those of cqrs-es's stock repositories plus a global position.
CREATE TABLE events (
    position       BIGINT  NOT NULL UNIQUE,
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    sequence       BIGINT  NOT NULL,
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    payload        TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    recorded_at    BIGINT  NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE TABLE snapshots (
    aggregate_type   TEXT    NOT NULL,
    aggregate_id     TEXT    NOT NULL,
    last_sequence    BIGINT  NOT NULL,
    current_snapshot BIGINT  NOT NULL,
    payload          TEXT    NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- One row: the last position handed out. Appenders lock it, so positions follow commit order.
CREATE TABLE log_head (
    id       BIGINT  NOT NULL PRIMARY KEY,
    position BIGINT  NOT NULL
);
INSERT INTO log_head (id, position) VALUES (1, 0);

CREATE TABLE projection_checkpoints (
    name     TEXT    NOT NULL PRIMARY KEY,
    position BIGINT  NOT NULL
);
