-- What was done, by whom, to what, and how it ended. Entries have no foreign keys: they outlive the
-- users and resources they name. Secrets never appear in diff.
CREATE TABLE audit_log (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time          timestamptz NOT NULL DEFAULT now(),
    user_id       uuid,
    username      text NOT NULL DEFAULT '',
    action        text NOT NULL,
    resource_type text NOT NULL DEFAULT '',
    resource_id   text NOT NULL DEFAULT '',
    resource_name text NOT NULL DEFAULT '',
    diff          jsonb NOT NULL DEFAULT '{}',
    ip            text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT '',
    request_id    text NOT NULL DEFAULT '',
    status        integer NOT NULL,
    result        text NOT NULL CHECK (result IN ('success', 'failure'))
);
CREATE INDEX audit_log_user_id ON audit_log (user_id, id);
CREATE INDEX audit_log_resource ON audit_log (resource_type, resource_id, id);
CREATE INDEX audit_log_time ON audit_log (time);
