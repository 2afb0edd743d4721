-- Read model: each account's actor key pair for HTTP signatures (SPKI / PKCS#8 PEM). NULL only
-- for accounts registered before keys existed, until the node generates theirs at start.
ALTER TABLE accounts ADD COLUMN public_key_pem TEXT;
ALTER TABLE accounts ADD COLUMN private_key_pem TEXT;
