-- The event log. Columns are those of cqrs-es's stock repositories plus a global position.
CREATE TABLE events (
    position       BIGINT  NOT NULL UNIQUE,
    aggregate_type VARCHAR(64) NOT NULL,
    aggregate_id   VARCHAR(255) NOT NULL,
    sequence       BIGINT  NOT NULL,
    event_type     VARCHAR(128) NOT NULL,
    event_version  VARCHAR(16) NOT NULL,
    payload        MEDIUMTEXT NOT NULL,
    metadata       MEDIUMTEXT NOT NULL,
    recorded_at    BIGINT  NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE snapshots (
    aggregate_type   VARCHAR(64) NOT NULL,
    aggregate_id     VARCHAR(255) NOT NULL,
    last_sequence    BIGINT  NOT NULL,
    current_snapshot BIGINT  NOT NULL,
    payload          MEDIUMTEXT NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row: the last position handed out. Appenders lock it, so positions follow commit order.
CREATE TABLE log_head (
    id       BIGINT  NOT NULL PRIMARY KEY,
    position BIGINT  NOT NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
INSERT INTO log_head (id, position) VALUES (1, 0);

CREATE TABLE projection_checkpoints (
    name     VARCHAR(255) NOT NULL PRIMARY KEY,
    position BIGINT  NOT NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
