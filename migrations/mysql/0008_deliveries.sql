-- Read model: the delivery queue. One row per inbox of each activity we send, keyed by the
-- position of its ActivityQueued event and the inbox's index in it; its state follows the
-- DeliverySucceeded / DeliveryFailed / DeliveryAbandoned events of the Outbound aggregate.
CREATE TABLE deliveries (
    position        BIGINT NOT NULL,
    inbox_index     BIGINT NOT NULL,
    activity_id     TEXT NOT NULL,
    account_id      VARCHAR(255) NOT NULL,
    inbox           TEXT NOT NULL,
    host            VARCHAR(255) NOT NULL,
    state           VARCHAR(16) NOT NULL,
    attempts        BIGINT NOT NULL,
    queued_at       BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    last_error      TEXT,
    PRIMARY KEY (position, inbox_index)
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX deliveries_activity ON deliveries (activity_id(191));
CREATE INDEX deliveries_due ON deliveries (next_attempt_at);

-- Read model: how each host we deliver to has been answering lately.
CREATE TABLE delivery_hosts (
    host                 VARCHAR(255) NOT NULL PRIMARY KEY,
    consecutive_failures BIGINT NOT NULL,
    available            BIGINT NOT NULL,
    last_error           TEXT,
    last_failure_at      BIGINT,
    last_success_at      BIGINT,
    next_attempt_at      BIGINT
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
