-- Read model: the delivery queue. One row per inbox of each activity we send, keyed by the
-- position of its ActivityQueued event and the inbox's index in it; its state follows the
-- DeliverySucceeded / DeliveryFailed / DeliveryAbandoned events of the Outbound aggregate.
CREATE TABLE deliveries (
    position        BIGINT NOT NULL,
    inbox_index     BIGINT NOT NULL,
    activity_id     TEXT NOT NULL,
    account_id      TEXT NOT NULL,
    inbox           TEXT NOT NULL,
    host            TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    queued_at       BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_attempt_at BIGINT,
    last_error      TEXT,
    PRIMARY KEY (position, inbox_index)
);
CREATE INDEX deliveries_activity ON deliveries (activity_id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at);

-- Read model: how each host we deliver to has been answering lately.
CREATE TABLE delivery_hosts (
    host                 TEXT NOT NULL PRIMARY KEY,
    consecutive_failures BIGINT NOT NULL,
    available            BIGINT NOT NULL,
    last_error           TEXT,
    last_failure_at      BIGINT,
    last_success_at      BIGINT,
    next_attempt_at      BIGINT
);
