DROP TABLE alert_settings;
DROP TABLE access_log;
DROP TABLE code_failures;
DROP TABLE care_links;
DROP TABLE invitations;
