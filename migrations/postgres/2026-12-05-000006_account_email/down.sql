DROP TABLE mail_requests;
DROP TABLE mail_outbox;
DROP TABLE account_tokens;
ALTER TABLE users DROP COLUMN email_verified_at;
