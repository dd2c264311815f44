DROP TABLE modules;
