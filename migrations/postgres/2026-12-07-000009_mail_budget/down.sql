DROP INDEX account_tokens_email_idx;
DROP TABLE mail_budget;
