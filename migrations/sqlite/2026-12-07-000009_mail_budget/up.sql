-- Account mail each address received, for the per-address budget (5 an
-- hour, 20 a day, whatever asked for them). The address is kept only as
-- its SHA-256, so erasing an account erases nothing here that names it,
-- and an account erased and made again cannot reset the budget. Rows
-- older than a day count for nothing and are pruned.
CREATE TABLE mail_budget (
    id TEXT PRIMARY KEY NOT NULL,
    address_hash TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX mail_budget_address_idx ON mail_budget (address_hash, at);

-- One pending change of address per target address: found by the address.
CREATE INDEX account_tokens_email_idx ON account_tokens (email);
