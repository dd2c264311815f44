-- Terraform modules Hearth serves with the module registry protocol, so that templates' module
-- sources (registry.coder.com/NAMESPACE/NAME/SYSTEM) resolve without the internet. A version is
-- immutable once pushed; its archive is an uploaded file.
CREATE TABLE modules (
    host       text NOT NULL,
    namespace  text NOT NULL,
    name       text NOT NULL,
    system     text NOT NULL,
    version    text NOT NULL,
    file_hash  bytea NOT NULL REFERENCES files (hash),
    created_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, namespace, name, system, version)
);
