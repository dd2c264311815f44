-- Template policies beyond TTLs: activity bumps by a step, a required stop at the owner's quiet hours
-- on some days, dormancy of unused workspaces (then their deletion), and stopping failed workspaces.
-- 0 and '{}' mean the policy is off.
ALTER TABLE templates
    ADD COLUMN activity_bump_seconds      bigint NOT NULL DEFAULT 0 CHECK (activity_bump_seconds >= 0), -- 0: the TTL
    ADD COLUMN autostop_requirement_days  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN dormancy_threshold_seconds bigint NOT NULL DEFAULT 0 CHECK (dormancy_threshold_seconds >= 0),
    ADD COLUMN dormancy_delete_seconds    bigint NOT NULL DEFAULT 0 CHECK (dormancy_delete_seconds >= 0),
    ADD COLUMN failure_ttl_seconds        bigint NOT NULL DEFAULT 0 CHECK (failure_ttl_seconds >= 0);

-- When the owner's day is over (cron, CRON_TZ= for the zone): required stops happen at its times.
-- Empty: midnight UTC.
ALTER TABLE users ADD COLUMN quiet_hours_schedule text NOT NULL DEFAULT '';

-- A dormant workspace is stopped and cannot start until someone makes it active again.
ALTER TABLE workspaces ADD COLUMN dormant_at timestamptz;
CREATE INDEX workspaces_last_used_at ON workspaces (last_used_at) WHERE NOT deleted AND dormant_at IS NULL;
CREATE INDEX workspaces_dormant_at ON workspaces (dormant_at) WHERE NOT deleted AND dormant_at IS NOT NULL;

CREATE OR REPLACE VIEW workspace_overview AS
SELECT w.id, w.owner_id, w.template_id, w.name, w.deleted, w.created_at, w.updated_at, w.last_used_at,
    u.username AS owner_name, t.name AS template_name, t.display_name AS template_display_name,
    t.icon AS template_icon, t.active_version_id AS template_active_version_id,
    b.id AS build_id, b.number AS build_number, b.transition AS build_transition, b.status AS build_status,
    b.template_version_id, b.job_id AS build_job_id, b.error AS build_error, b.created_at AS build_created_at,
    b.completed_at AS build_completed_at, workspace_status(b.transition, b.status) AS status,
    w.ttl_seconds, w.deadline, w.max_deadline,
    t.default_ttl_seconds AS template_default_ttl_seconds, t.max_ttl_seconds AS template_max_ttl_seconds,
    t.allow_user_autostop AS template_allow_user_autostop,
    w.autostart_schedule, w.next_autostart_at, t.allow_user_autostart AS template_allow_user_autostart,
    t.autostart_days AS template_autostart_days,
    w.dormant_at, t.dormancy_threshold_seconds AS template_dormancy_threshold_seconds,
    t.dormancy_delete_seconds AS template_dormancy_delete_seconds, t.failure_ttl_seconds AS template_failure_ttl_seconds,
    t.autostop_requirement_days AS template_autostop_requirement_days, u.quiet_hours_schedule AS owner_quiet_hours_schedule
FROM workspaces w
JOIN users u ON u.id = w.owner_id
JOIN templates t ON t.id = w.template_id
JOIN LATERAL (SELECT * FROM workspace_builds wb WHERE wb.workspace_id = w.id ORDER BY wb.number DESC LIMIT 1) b ON true;
