-- Hardening of accounts and money (issue 8): referrals that pay only once the
-- referred account qualifies, per-account throttles on logins and profile changes,
-- a grace window and an absolute lifetime for refresh-token families, and the
-- session check behind access-token revocation.

INSERT INTO admin_config (key, value) VALUES
    -- paid referrals per referrer in any 24 hours; 0 pays none
    ('referral_limits', '{"perReferrerPerDay": 10}'),
    -- loginFailures per account (email) and profileChanges (PATCH /api/me) per user
    -- in windowSeconds (0 disables each); sessionMaxDays: absolute session lifetime
    -- (rotation does not extend it); refreshGraceSeconds: how long a just-rotated
    -- refresh token still answers its successor.
    ('auth_limits', '{"loginFailures": 10, "profileChanges": 10, "windowSeconds": 900,
                      "sessionMaxDays": 90, "refreshGraceSeconds": 10}')
ON CONFLICT (key) DO NOTHING;

CREATE FUNCTION rv_auth_limit(p_name text, p_default bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT CASE WHEN jsonb_typeof(value -> p_name) = 'number'
                                 THEN (value ->> p_name)::numeric::bigint END
                       FROM admin_config WHERE key = 'auth_limits'), p_default)
$$;

-- ---------------------------------------------------------------- referrals

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
ALTER TABLE referrals ENABLE ROW LEVEL SECURITY;

-- Referrals made before this migration were paid at registration.
INSERT INTO referrals (referred_id, referrer_id, state, bonus, created_at, paid_at)
SELECT id, referred_by, 'paid', NULL, created_at, created_at FROM users
 WHERE referred_by IS NOT NULL AND referred_by <> id;

-- Registration: as before, but a referral is only recorded (pending), never paid
-- here. signup_credits may be 0 (no ledger row then).
CREATE OR REPLACE FUNCTION rv_register(p_email text, p_hash text, p_name text, p_referral text,
                                       p_token_hash text, p_ttl integer)
RETURNS TABLE (status text, user_json json, user_id uuid, role text, session_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid;
    referrer uuid;
    code text;
    amount bigint;
BEGIN
    IF p_referral IS NOT NULL THEN
        SELECT id INTO referrer FROM users WHERE referral_code = upper(p_referral);
        IF referrer IS NULL THEN
            RETURN QUERY SELECT 'bad_referral', NULL::json, NULL::uuid, NULL::text, NULL::uuid;
            RETURN;
        END IF;
    END IF;
    LOOP
        code := upper(substr(md5(gen_random_uuid()::text), 1, 8));
        EXIT WHEN NOT EXISTS (SELECT 1 FROM users WHERE referral_code = code);
    END LOOP;
    INSERT INTO users (email, name, referral_code, referred_by)
    VALUES (p_email, COALESCE(p_name, ''), code, referrer)
    ON CONFLICT ((lower(email))) DO NOTHING
    RETURNING id INTO uid;
    IF uid IS NULL THEN
        RETURN QUERY SELECT 'email_taken', NULL::json, NULL::uuid, NULL::text, NULL::uuid;
        RETURN;
    END IF;
    INSERT INTO user_credentials (user_id, password_hash) VALUES (uid, p_hash);
    amount := rv_config_int('signup_credits', 100);
    IF amount > 0 THEN
        PERFORM rv_credit_move(uid, amount, 'signup', 'Signup credits');
    END IF;
    IF referrer IS NOT NULL THEN
        INSERT INTO referrals (referred_id, referrer_id) VALUES (uid, referrer);
    END IF;
    RETURN QUERY SELECT 'ok', s.user_json, uid, s.role, s.session_id
                   FROM rv_session_start(uid, p_token_hash, p_ttl) s;
END $$;

-- Pays the pending referral of p_referred: the referral_bonus to both sides, at
-- most once, and at most referral_limits.perReferrerPerDay paid referrals per
-- referrer in any 24 hours. status: paid | already_paid | no_referral | capped (the
-- referral stays pending; a later qualifying event may pay it).
CREATE FUNCTION rv_referral_qualify(p_referred uuid) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r referrals;
    lim bigint;
    paid bigint;
    amount bigint;
BEGIN
    SELECT * INTO r FROM referrals WHERE referred_id = p_referred FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_referral';
    END IF;
    IF r.state = 'paid' THEN
        RETURN 'already_paid';
    END IF;
    -- One qualification per referrer at a time: makes the daily cap exact.
    PERFORM 1 FROM users WHERE id = r.referrer_id FOR UPDATE;
    lim := COALESCE((SELECT CASE WHEN jsonb_typeof(value -> 'perReferrerPerDay') = 'number'
                                 THEN (value ->> 'perReferrerPerDay')::numeric::bigint END
                       FROM admin_config WHERE key = 'referral_limits'), 10);
    SELECT count(*) INTO paid FROM referrals
     WHERE referrer_id = r.referrer_id AND state = 'paid' AND paid_at > now() - interval '1 day';
    IF paid >= lim THEN
        RETURN 'capped';
    END IF;
    amount := rv_config_int('referral_bonus', 20);
    IF amount > 0 THEN
        PERFORM rv_credit_move(r.referred_id, amount, 'referral', 'Referral bonus');
        PERFORM rv_credit_move(r.referrer_id, amount, 'referral', 'Referral bonus');
    END IF;
    UPDATE referrals SET state = 'paid', paid_at = now(), bonus = amount
     WHERE referred_id = p_referred;
    RETURN 'paid';
END $$;

-- ---------------------------------------------------------------- throttles

-- Recent attempts per subject: a login (subject: SHA-256 of the lower-cased email,
-- so unknown emails are throttled alike and not stored) or a profile change
-- (subject: the user id).
CREATE TABLE auth_attempts (
    action  text NOT NULL CHECK (action IN ('login', 'profile')),
    subject bytea NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX auth_attempts_subject ON auth_attempts (action, subject, at DESC);
ALTER TABLE auth_attempts ENABLE ROW LEVEL SECURITY;

-- Takes one attempt of p_action for p_subject unless p_limit attempts are already
-- inside the last p_window seconds; returns 0 when taken, else the seconds until
-- the oldest of those leaves the window. p_limit <= 0 disables the limit.
-- Internal: called by the SECURITY DEFINER functions below.
CREATE FUNCTION rv_attempt_take(p_action text, p_subject bytea, p_limit bigint, p_window bigint)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    oldest timestamptz;
BEGIN
    IF p_limit <= 0 THEN
        RETURN 0;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(p_action || encode(p_subject, 'hex'), 7275));
    DELETE FROM auth_attempts
     WHERE action = p_action AND subject = p_subject AND at <= now() - make_interval(secs => p_window);
    IF random() < 0.01 THEN -- now and then, the leftovers of every subject
        DELETE FROM auth_attempts WHERE at <= now() - interval '1 day';
    END IF;
    SELECT at INTO oldest FROM auth_attempts
     WHERE action = p_action AND subject = p_subject
     ORDER BY at DESC OFFSET p_limit - 1 LIMIT 1;
    IF oldest IS NOT NULL THEN
        RETURN GREATEST(1, ceil(p_window - extract(epoch FROM now() - oldest)))::integer;
    END IF;
    INSERT INTO auth_attempts (action, subject) VALUES (p_action, p_subject);
    RETURN 0;
END $$;

CREATE FUNCTION rv_login_subject(p_email text) RETURNS bytea LANGUAGE sql IMMUTABLE AS
$$ SELECT sha256(convert_to(lower(p_email), 'UTF8')) $$;

-- The start of a login: counts the attempt against the account (presumed failed
-- until rv_login_succeeded) and answers the hash to check. Always one row:
-- retry_after > 0 (and no user) when the account is throttled; user_id and
-- password_hash NULL for an unknown email.
CREATE FUNCTION rv_login_begin(p_email text)
RETURNS TABLE (retry_after integer, user_id uuid, password_hash text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    wait integer := rv_attempt_take('login', rv_login_subject(p_email),
                                    rv_auth_limit('loginFailures', 10),
                                    rv_auth_limit('windowSeconds', 900));
BEGIN
    IF wait > 0 THEN
        RETURN QUERY SELECT wait, NULL::uuid, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 0, x.id, x.password_hash
                   FROM (SELECT 1) one
                   LEFT JOIN (SELECT u.id, c.password_hash FROM users u
                                JOIN user_credentials c ON c.user_id = u.id
                               WHERE lower(u.email) = lower(p_email)) x ON true;
END $$;

-- A correct password clears the account's failures.
CREATE FUNCTION rv_login_succeeded(p_email text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM auth_attempts WHERE action = 'login' AND subject = rv_login_subject(p_email)
$$;

-- PATCH /api/me: one change (and its Argon2 work) taken for the caller; 0 or the
-- seconds to wait.
CREATE FUNCTION rv_profile_change_take() RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT rv_attempt_take('profile', uuid_send(rv_uid()), rv_auth_limit('profileChanges', 10),
                           rv_auth_limit('windowSeconds', 900))
$$;

-- ---------------------------------------------------------------- sessions

-- Every token of a family carries the family's end; rotation does not move it.
ALTER TABLE refresh_tokens ADD COLUMN session_expires_at timestamptz;
UPDATE refresh_tokens t SET session_expires_at = f.started + interval '90 days'
  FROM (SELECT family_id, min(created_at) AS started FROM refresh_tokens GROUP BY family_id) f
 WHERE f.family_id = t.family_id;
ALTER TABLE refresh_tokens ALTER COLUMN session_expires_at SET NOT NULL,
    ALTER COLUMN session_expires_at SET DEFAULT now() + interval '90 days';

CREATE OR REPLACE FUNCTION rv_session_start(p_user uuid, p_token_hash text, p_ttl integer)
RETURNS TABLE (user_json json, role text, session_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    fam uuid := gen_random_uuid();
    ends timestamptz := now() + make_interval(days => rv_auth_limit('sessionMaxDays', 90)::integer);
BEGIN
    INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, session_expires_at)
    VALUES (decode(p_token_hash, 'hex'), p_user, fam,
            LEAST(now() + make_interval(secs => p_ttl), ends), ends);
    RETURN QUERY SELECT rv_user_json(u), u.role, fam FROM users u WHERE u.id = p_user;
END $$;

-- Rotation: the presented token is spent and p_new of the same family issued, no
-- later than the family's end. The handler derives p_new from the presented token,
-- so a second use of a just-spent token within refreshGraceSeconds, while its
-- successor is still live, answers that same successor ('ok': two tabs refreshing
-- at once). Any other use of a spent token revokes its whole family.
-- status: ok | reused | invalid.
CREATE OR REPLACE FUNCTION rv_refresh_rotate(p_old text, p_new text, p_ttl integer)
RETURNS TABLE (status text, user_json json, user_id uuid, role text, session_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid;
    fam uuid;
    ends timestamptz;
    spent timestamptz;
    successor bytea;
BEGIN
    UPDATE refresh_tokens t SET revoked_at = now(), replaced_by = decode(p_new, 'hex')
     WHERE t.token_hash = decode(p_old, 'hex') AND t.revoked_at IS NULL
       AND t.expires_at > now() AND t.session_expires_at > now()
    RETURNING t.user_id, t.family_id, t.session_expires_at INTO uid, fam, ends;
    IF uid IS NULL THEN
        SELECT t.user_id, t.family_id, t.revoked_at, t.replaced_by INTO uid, fam, spent, successor
          FROM refresh_tokens t WHERE t.token_hash = decode(p_old, 'hex');
        IF spent IS NOT NULL AND successor = decode(p_new, 'hex')
           AND spent > now() - make_interval(secs => rv_auth_limit('refreshGraceSeconds', 10))
           AND EXISTS (SELECT 1 FROM refresh_tokens s
                        WHERE s.token_hash = successor AND s.revoked_at IS NULL
                          AND s.expires_at > now()) THEN
            RETURN QUERY SELECT 'ok', rv_user_json(u), u.id, u.role, fam
                           FROM users u WHERE u.id = uid;
        ELSIF spent IS NOT NULL THEN
            UPDATE refresh_tokens t SET revoked_at = now()
             WHERE t.family_id = fam AND t.revoked_at IS NULL;
            RETURN QUERY SELECT 'reused', NULL::json, NULL::uuid, NULL::text, NULL::uuid;
        ELSE
            RETURN QUERY SELECT 'invalid', NULL::json, NULL::uuid, NULL::text, NULL::uuid;
        END IF;
        RETURN;
    END IF;
    INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at, session_expires_at)
    VALUES (decode(p_new, 'hex'), uid, fam, LEAST(now() + make_interval(secs => p_ttl), ends),
            ends);
    RETURN QUERY SELECT 'ok', rv_user_json(u), u.id, u.role, fam FROM users u WHERE u.id = uid;
END $$;

-- Logout by refresh token: revokes the family of the presented token, whatever
-- state the token is in (spent, expired). Returns the family, NULL when the token
-- is unknown.
CREATE FUNCTION rv_logout_refresh(p_token_hash text) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    fam uuid;
BEGIN
    SELECT family_id INTO fam FROM refresh_tokens WHERE token_hash = decode(p_token_hash, 'hex');
    IF fam IS NOT NULL THEN
        UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = fam AND revoked_at IS NULL;
    END IF;
    RETURN fam;
END $$;

-- Whether an access token of session p_session for p_user with p_role still stands:
-- the family has a live token and the user still has that role. Logout, reuse
-- detection, a password change (other sessions), the session's end and a role
-- change all make it false.
CREATE FUNCTION rv_session_valid(p_session uuid, p_user uuid, p_role text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM refresh_tokens t JOIN users u ON u.id = t.user_id
                    WHERE t.family_id = p_session AND t.user_id = p_user AND u.role = p_role
                      AND t.revoked_at IS NULL AND t.expires_at > now())
$$;

REVOKE EXECUTE ON FUNCTION rv_auth_limit, rv_referral_qualify, rv_attempt_take,
    rv_login_subject, rv_login_begin, rv_login_succeeded, rv_profile_change_take,
    rv_logout_refresh, rv_session_valid FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rv_auth_limit, rv_referral_qualify, rv_login_begin,
    rv_login_succeeded, rv_profile_change_take, rv_logout_refresh, rv_session_valid
    TO reelvox_app;
