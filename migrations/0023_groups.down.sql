DROP TABLE workspace_grants;
DROP TABLE template_grants;
DROP TABLE group_members;
DROP TABLE groups;
