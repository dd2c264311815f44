-- Users who sign in with OIDC are found by the issuer's subject, which never changes, not by email.
ALTER TABLE users ADD COLUMN oidc_issuer text, ADD COLUMN oidc_subject text;
CREATE UNIQUE INDEX users_oidc_key ON users (oidc_issuer, oidc_subject) WHERE oidc_subject IS NOT NULL;
