DROP TABLE user_oidc_tokens;
