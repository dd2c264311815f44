DROP INDEX users_oidc_key;
ALTER TABLE users DROP COLUMN oidc_issuer, DROP COLUMN oidc_subject;
