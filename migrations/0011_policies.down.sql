DROP VIEW workspace_overview;
CREATE VIEW workspace_overview AS
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
    t.autostart_days AS template_autostart_days
FROM workspaces w
JOIN users u ON u.id = w.owner_id
JOIN templates t ON t.id = w.template_id
JOIN LATERAL (SELECT * FROM workspace_builds wb WHERE wb.workspace_id = w.id ORDER BY wb.number DESC LIMIT 1) b ON true;
DROP INDEX workspaces_dormant_at;
DROP INDEX workspaces_last_used_at;
ALTER TABLE workspaces DROP COLUMN dormant_at;
ALTER TABLE users DROP COLUMN quiet_hours_schedule;
ALTER TABLE templates DROP COLUMN activity_bump_seconds, DROP COLUMN autostop_requirement_days,
    DROP COLUMN dormancy_threshold_seconds, DROP COLUMN dormancy_delete_seconds, DROP COLUMN failure_ttl_seconds;
