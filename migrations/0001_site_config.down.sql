DROP TABLE site_config;
