DROP TABLE app_ticket_uses;
