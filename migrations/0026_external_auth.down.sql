ALTER TABLE template_versions DROP COLUMN external_auth;
DROP TABLE external_auth_links;
