DROP TABLE user_git_ssh_keys;
