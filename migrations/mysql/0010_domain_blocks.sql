-- Read model: domain blocks, one row per blocked domain (its normal form: lower-case, with an
-- optional :port), from the DomainBlock aggregate's events. `id` is the id the admin API shows
-- and pages by; a lifted block's row is deleted.
CREATE TABLE domain_blocks (
    domain          VARCHAR(255) NOT NULL PRIMARY KEY,
    id              BIGINT NOT NULL,
    severity        VARCHAR(16) NOT NULL,
    reject_media    BIGINT NOT NULL,
    reject_reports  BIGINT NOT NULL,
    private_comment TEXT,
    public_comment  TEXT,
    obfuscate       BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE UNIQUE INDEX domain_blocks_id ON domain_blocks (id);

-- Read model: the instance actor's key pair (SPKI / PKCS#8 PEM), with which the node signs its
-- own fetches (authorized fetch); NULL until the node generates it at start.
ALTER TABLE instance_settings ADD COLUMN actor_public_key_pem TEXT;
ALTER TABLE instance_settings ADD COLUMN actor_private_key_pem TEXT;
