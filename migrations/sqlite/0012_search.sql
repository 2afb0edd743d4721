-- Read model "search": the descriptions (alt text) of the photos of statuses received from other
-- nodes. Those photos stay on their node and are kept only as JSON in statuses.remote_media; one
-- row per described photo lets search match their words like those of our own photos (media).
CREATE TABLE remote_media_texts (
    status_id   BIGINT NOT NULL,
    ordinal     BIGINT NOT NULL,
    description TEXT   NOT NULL,
    PRIMARY KEY (status_id, ordinal)
);
