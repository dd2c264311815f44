-- App tickets that travel in a URL (from the dashboard to a subdomain app's host) are single-use:
-- the first exchange records the ticket's ID here, and a second finds it. A row is kept until its
-- ticket has expired, when a replay fails on the expiry alone.
CREATE TABLE app_ticket_uses (
    id         text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX app_ticket_uses_expires_at ON app_ticket_uses (expires_at);
