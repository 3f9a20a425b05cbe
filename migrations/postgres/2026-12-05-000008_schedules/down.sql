DROP TABLE unsubscribe_tokens;
DROP TABLE mail_schedules;
