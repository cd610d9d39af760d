-- Mail, verification and password reset, roles, and the admin's audit log.
--   - users gain email_verified and disabled_at;
--   - outbox: every mail Reelvox sends, written in the transaction that decides to
--     send it (rv_mail_enqueue), sent by the poller over SMTP (sql/functions/mail.sql);
--   - mail_tokens: single-use, expiring tokens of the verification and reset links
--     (stored as SHA-256 only; the plain token travels in the mail);
--   - audit_log: every change an admin makes (who, when, what, old, new).

ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN disabled_at timestamptz;

-- Password-reset requests are throttled per email like logins (rv_attempt_take).
ALTER TABLE auth_attempts DROP CONSTRAINT auth_attempts_action_check;
ALTER TABLE auth_attempts ADD CONSTRAINT auth_attempts_action_check
    CHECK (action IN ('login', 'profile', 'forgot', 'verify_resend'));

-- ------------------------------------------------------------------ outbox
-- status: pending (due at next_at) -> sent, or failed after max_attempts. A poller
-- holds a row while it talks to the SMTP server (locked_until); a row whose lease
-- ran out is taken again. dedupe_key makes an enqueue idempotent (a receipt per
-- payment). data holds what the template needs; the link token in it is removed
-- once the mail is sent.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    user_id      uuid REFERENCES users (id) ON DELETE CASCADE,
    to_addr      text NOT NULL CHECK (length(to_addr) BETWEEN 3 AND 254),
    to_name      text NOT NULL DEFAULT '',
    template     text NOT NULL CHECK (template IN ('verify', 'reset', 'receipt')),
    data         jsonb NOT NULL DEFAULT '{}',
    dedupe_key   text UNIQUE CHECK (length(dedupe_key) BETWEEN 1 AND 200),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 10,
    next_at      timestamptz NOT NULL DEFAULT now(),
    locked_until timestamptz,
    locked_by    text,
    last_error   text,
    message_id   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX outbox_due ON outbox (next_at) WHERE status = 'pending';
CREATE INDEX outbox_user ON outbox (user_id, created_at DESC);

-- --------------------------------------------------------------- mail_tokens
CREATE TABLE mail_tokens (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('verify', 'reset')),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_tokens_user ON mail_tokens (user_id, purpose);

-- A password-reset request as POST /api/auth/forgot records it, for any email: the
-- poller looks the account up and mails the link (rv_reset_requests_process), so
-- the request does the same work whether or not the account exists.
CREATE TABLE reset_requests (
    id         bigserial PRIMARY KEY,
    email      text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- ------------------------------------------------------------------ audit
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    actor_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    action     text NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
    target     text NOT NULL DEFAULT '',
    old_value  jsonb,
    new_value  jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_time ON audit_log (created_at DESC, id DESC);

ALTER TABLE outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE mail_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE reset_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_admin ON audit_log USING (rv_role() = 'admin');
GRANT SELECT ON audit_log TO reelvox_app;

-- require_verified: when true, an unverified account may not buy credits or start
-- paid work (rv_verified_ok). mail_tokens: lifetimes of the links, in seconds.
INSERT INTO admin_config (key, value) VALUES
    ('require_verified', 'false'),
    ('mail', '{"verifyTtlSeconds": 172800, "resetTtlSeconds": 3600, "forgotPerHour": 3}')
ON CONFLICT (key) DO NOTHING;
