package db

// ParseMigrations exposes parseMigrations to the tests.
var ParseMigrations = parseMigrations
