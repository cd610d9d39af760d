-- The schema, part one: roles, the request context, admin configuration, and
-- accounts: users, their credentials and sessions, referrals, throttles and the
-- credit ledger. Balances move only through rv_credit_move(); the application role
-- has no write access to balances, ledger, credentials or sessions except through
-- the SECURITY DEFINER functions of sql/functions/.
--
-- The numbered files hold everything but functions (tables in their current shape,
-- indexes, row level security, table grants, seed rows); functions are in
-- sql/functions/, re-applied by scripts/migrate on every run (see the README there).
-- These files were folded before the first release: a change from now on is a new
-- numbered file, never an edit of an applied one.

-- ------------------------------------------------------------------------ roles
-- reelvox_owner (no login, not a superuser) owns every table, sequence and
-- function of the schema: SECURITY DEFINER functions run as it, never as a
-- superuser (sql/owner.sql, which scripts/migrate runs after the migrations every
-- time, hands everything to it, so what later migrations make is covered too).
-- reelvox_app (the handlers) and reelvox_poller (the poller) each get EXECUTE on
-- their own functions only: a handler cannot move a job's state, a poller cannot
-- sign anybody in. Functions that act for a user take the user from the
-- transaction's context (rv_uid(): reelvox.user_id, which db.c sets per
-- transaction), never from a parameter.
DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reelvox_app') THEN
        CREATE ROLE reelvox_app LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reelvox_owner') THEN
        CREATE ROLE reelvox_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reelvox_poller') THEN
        CREATE ROLE reelvox_poller LOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO reelvox_app;
-- Nobody but the owner creates objects in the schema (PostgreSQL 15 defaults to
-- this; a database upgraded from an older one does not).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO reelvox_owner;
GRANT USAGE ON SCHEMA public TO reelvox_poller;

-- The request context set by every transaction (SET LOCAL through set_config).
-- The row level security policies below are written in these two, so they are
-- made here, with the schema, rather than in sql/functions/ (a policy needs its
-- functions to exist); a change to either is a new numbered migration.
CREATE FUNCTION rv_uid() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT NULLIF(current_setting('reelvox.user_id', true), '')::uuid $$;
CREATE FUNCTION rv_role() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT COALESCE(NULLIF(current_setting('reelvox.role', true), ''), 'anonymous') $$;

-- ------------------------------------------------------------ admin_config
CREATE TABLE admin_config (
    key        text PRIMARY KEY CHECK (key ~ '^[a-z_]{1,64}$'),
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO admin_config (key, value) VALUES
    ('signup_credits', '100'),
    ('referral_bonus', '20'),
    ('job_costs', '{"tts": {"perChars": 100, "credits": 1}, "sfx": {"flat": 2},
                    "voice_clone": {"flat": 50}, "voice_conversion": {"perSecond": 0.1, "min": 2}}'),
    ('rate_limits', '{"generationsPerMinute": 3}'),
    -- Replicate's model for conversion takes the source as a URL (`source_audio`)
    -- and the target as a MiniMax voice id (`voice_id`), as our voices carry; the
    -- input mapping is in common/providers/replicate.c.
    ('providers', '{"kinds": {"tts": ["replicate", "local"], "sfx": ["replicate"],
                              "voice_clone": ["replicate"], "voice_conversion": ["replicate"]},
                    "replicate": {"models": {"tts": "minimax/speech-02-turbo",
                                             "sfx": "sepal/audiogen",
                                             "voice_clone": "minimax/voice-cloning",
                                             "voice_conversion": "minimax/voice-conversion"}},
                    "deadlines": {"tts": 600, "sfx": 900, "voice_clone": 1800,
                                  "voice_conversion": 900}}'),
    -- paid referrals per referrer in any 24 hours; 0 pays none
    ('referral_limits', '{"perReferrerPerDay": 10}'),
    -- loginFailures per account (email) and profileChanges (PATCH /api/me) per user
    -- in windowSeconds (0 disables each); sessionMaxDays: absolute session lifetime
    -- (rotation does not extend it); refreshGraceSeconds: how long a just-rotated
    -- refresh token still answers its successor.
    ('auth_limits', '{"loginFailures": 10, "profileChanges": 10, "windowSeconds": 900,
                      "sessionMaxDays": 90, "refreshGraceSeconds": 10}'),
    -- Storage quota: how much a user may keep in storage, in bytes and in files, all
    -- their audios together (uploads and generated ones); a missing or null field is
    -- no limit. Checked where an upload is recorded (rv_audio_upload); a job's output
    -- is never refused for it: the credits for that work are already spent.
    ('storage_quota', '{"bytes": 1073741824, "files": 1000}');

-- ---------------------------------------------------------------- accounts
CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    name          text NOT NULL DEFAULT '' CHECK (length(name) <= 100),
    role          text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'expert', 'admin')),
    credits       bigint NOT NULL DEFAULT 0 CHECK (credits >= 0),
    referral_code text NOT NULL UNIQUE,
    referred_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Kept apart from users so that no query of the application can read a hash.
CREATE TABLE user_credentials (
    user_id       uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    password_hash text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- A session is a refresh-token family (family_id, the access token's `sid`).
-- Every token of a family carries the family's end (session_expires_at); rotation
-- does not move it.
CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    replaced_by bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    session_expires_at timestamptz NOT NULL DEFAULT now() + interval '90 days'
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE credit_ledger (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    delta      bigint NOT NULL CHECK (delta <> 0),
    kind       text NOT NULL CHECK (kind IN ('signup', 'referral', 'grant', 'job_charge',
                                             'job_refund', 'purchase')),
    reason     text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    job_id     uuid,
    payment_id uuid,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX credit_ledger_user ON credit_ledger (user_id, created_at DESC, id DESC);
-- A job's charge and its refund are each at most one ledger row, whatever locks the
-- callers hold: a refund can't happen twice.
CREATE UNIQUE INDEX credit_ledger_job_once ON credit_ledger (job_id, kind)
    WHERE job_id IS NOT NULL;

-- One row per referred account. A referral is recorded at registration and pays
-- (both sides the referral_bonus) only through rv_referral_qualify(), which the
-- email verification and first-purchase flows call.
CREATE TABLE referrals (
    referred_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    referrer_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    state       text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'paid')),
    bonus       bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    paid_at     timestamptz,
    CHECK ((state = 'paid') = (paid_at IS NOT NULL)),
    CHECK (referred_id <> referrer_id)
);
CREATE INDEX referrals_referrer_paid ON referrals (referrer_id, paid_at) WHERE state = 'paid';

-- Recent attempts per subject: a login (subject: SHA-256 of the lower-cased email,
-- so unknown emails are throttled alike and not stored) or a profile change
-- (subject: the user id).
CREATE TABLE auth_attempts (
    action  text NOT NULL CHECK (action IN ('login', 'profile')),
    subject bytea NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_attempts_subject ON auth_attempts (action, subject, at DESC);

-- Row level security: defence in depth behind the WHERE clauses of the handlers.
-- Tables without a policy are reached only through SECURITY DEFINER functions.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_own ON users USING (id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE credit_ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_own ON credit_ledger USING (user_id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE user_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE referrals ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_attempts ENABLE ROW LEVEL SECURITY;

GRANT SELECT ON users, credit_ledger, admin_config TO reelvox_app;
GRANT UPDATE (name, updated_at) ON users TO reelvox_app;
