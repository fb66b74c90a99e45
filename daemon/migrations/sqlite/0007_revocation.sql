-- Revocation. A removed user keeps their name on their tasks but loses every key pair and
-- token; `token_epoch` counts up whenever all of a user's tokens are revoked, and a token
-- carries the epoch it was issued in.
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN token_epoch INTEGER NOT NULL DEFAULT 0;

-- Single tokens revoked before they expire (signing out), by token id.
CREATE TABLE revoked_tokens (
    jti     TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    expires INTEGER NOT NULL
);
CREATE INDEX revoked_tokens_user ON revoked_tokens (user_id);
