-- Accounts: users, their credentials and sessions, the credit ledger and admin
-- configuration. Balances move only through rv_credit_move(); the application role
-- has no write access to balances, ledger, credentials or sessions except through
-- the SECURITY DEFINER functions below.

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reelvox_app') THEN
        CREATE ROLE reelvox_app LOGIN;
    END IF;
END $$;
GRANT USAGE ON SCHEMA public TO reelvox_app;

-- The request context set by every transaction (SET LOCAL through set_config).
CREATE FUNCTION rv_uid() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT NULLIF(current_setting('reelvox.user_id', true), '')::uuid $$;
CREATE FUNCTION rv_role() RETURNS text LANGUAGE sql STABLE AS
$$ SELECT COALESCE(NULLIF(current_setting('reelvox.role', true), ''), 'anonymous') $$;
CREATE FUNCTION rv_ts(t timestamptz) RETURNS text LANGUAGE sql STABLE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

CREATE TABLE admin_config (
    key        text PRIMARY KEY CHECK (key ~ '^[a-z_]{1,64}$'),
    value      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO admin_config (key, value) VALUES
    ('signup_credits', '100'),
    ('referral_bonus', '20');

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

CREATE TABLE refresh_tokens (
    token_hash  bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    replaced_by bytea,
    created_at  timestamptz NOT NULL DEFAULT now()
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

-- The only way a balance moves: one ledger row per change, in the same transaction.
-- A balance that would go negative fails with check_violation (23514).
CREATE FUNCTION rv_credit_move(p_user uuid, p_delta bigint, p_kind text, p_reason text,
                               p_job uuid DEFAULT NULL, p_payment uuid DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    balance bigint;
BEGIN
    UPDATE users SET credits = credits + p_delta, updated_at = now()
     WHERE id = p_user RETURNING credits INTO balance;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such user' USING ERRCODE = 'no_data_found';
    END IF;
    INSERT INTO credit_ledger (user_id, delta, kind, reason, job_id, payment_id)
    VALUES (p_user, p_delta, p_kind, p_reason, p_job, p_payment);
    RETURN balance;
END $$;

CREATE FUNCTION rv_user_json(u users) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', u.id, 'email', u.email, 'name', u.name, 'role', u.role,
                             'credits', u.credits, 'referralCode', u.referral_code,
                             'createdAt', rv_ts(u.created_at))
$$;

CREATE FUNCTION rv_config_int(p_key text, p_default bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT CASE WHEN jsonb_typeof(value) = 'number' THEN value::text::bigint END
                       FROM admin_config WHERE key = p_key), p_default)
$$;

-- A session is a refresh-token family; its id is the access token's `sid`.
CREATE FUNCTION rv_session_start(p_user uuid, p_token_hash text, p_ttl integer)
RETURNS TABLE (user_json json, role text, session_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    fam uuid := gen_random_uuid();
BEGIN
    INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at)
    VALUES (decode(p_token_hash, 'hex'), p_user, fam, now() + make_interval(secs => p_ttl));
    RETURN QUERY SELECT rv_user_json(u), u.role, fam FROM users u WHERE u.id = p_user;
END $$;

-- Registration in one transaction: the user, the hash, signup and referral credits
-- and the first session. status: ok | email_taken | bad_referral.
CREATE FUNCTION rv_register(p_email text, p_hash text, p_name text, p_referral text,
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
        amount := rv_config_int('referral_bonus', 20);
        IF amount > 0 THEN
            PERFORM rv_credit_move(uid, amount, 'referral', 'Referral bonus');
            PERFORM rv_credit_move(referrer, amount, 'referral', 'Referral bonus');
        END IF;
    END IF;
    RETURN QUERY SELECT 'ok', s.user_json, uid, s.role, s.session_id
                   FROM rv_session_start(uid, p_token_hash, p_ttl) s;
END $$;

CREATE FUNCTION rv_login_lookup(p_email text)
RETURNS TABLE (user_id uuid, password_hash text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.id, c.password_hash FROM users u JOIN user_credentials c ON c.user_id = u.id
     WHERE lower(u.email) = lower(p_email)
$$;

-- Sets a new hash for the caller, or for p_user during login (rehash on new
-- parameters). Ends every other session of the user when p_keep is given.
CREATE FUNCTION rv_set_password(p_user uuid, p_hash text, p_keep uuid)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE user_credentials SET password_hash = p_hash, updated_at = now()
     WHERE user_id = p_user;
    IF p_keep IS NOT NULL THEN
        UPDATE refresh_tokens SET revoked_at = now()
         WHERE user_id = p_user AND family_id <> p_keep AND revoked_at IS NULL;
    END IF;
END $$;

CREATE FUNCTION rv_my_password_hash() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT password_hash FROM user_credentials WHERE user_id = rv_uid()
$$;

-- Rotation: the presented token is spent and a new one of the same family issued.
-- A token presented after it was spent revokes its whole family.
-- status: ok | reused | invalid.
CREATE FUNCTION rv_refresh_rotate(p_old text, p_new text, p_ttl integer)
RETURNS TABLE (status text, user_json json, user_id uuid, role text, session_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid;
    fam uuid;
    spent timestamptz;
BEGIN
    UPDATE refresh_tokens t SET revoked_at = now(), replaced_by = decode(p_new, 'hex')
     WHERE t.token_hash = decode(p_old, 'hex') AND t.revoked_at IS NULL
       AND t.expires_at > now()
    RETURNING t.user_id, t.family_id INTO uid, fam;
    IF uid IS NULL THEN
        SELECT t.family_id, t.revoked_at INTO fam, spent
          FROM refresh_tokens t WHERE t.token_hash = decode(p_old, 'hex');
        IF spent IS NOT NULL THEN
            UPDATE refresh_tokens t SET revoked_at = now()
             WHERE t.family_id = fam AND t.revoked_at IS NULL;
            RETURN QUERY SELECT 'reused', NULL::json, NULL::uuid, NULL::text, NULL::uuid;
        ELSE
            RETURN QUERY SELECT 'invalid', NULL::json, NULL::uuid, NULL::text, NULL::uuid;
        END IF;
        RETURN;
    END IF;
    INSERT INTO refresh_tokens (token_hash, user_id, family_id, expires_at)
    VALUES (decode(p_new, 'hex'), uid, fam, now() + make_interval(secs => p_ttl));
    RETURN QUERY SELECT 'ok', rv_user_json(u), u.id, u.role, fam FROM users u WHERE u.id = uid;
END $$;

-- Logout: ends the caller's session (its refresh family).
CREATE FUNCTION rv_session_end(p_session uuid) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    UPDATE refresh_tokens SET revoked_at = now()
     WHERE family_id = p_session AND user_id = rv_uid() AND revoked_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Row level security: defence in depth behind the WHERE clauses of the handlers.
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_own ON users USING (id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE credit_ledger ENABLE ROW LEVEL SECURITY;
CREATE POLICY ledger_own ON credit_ledger USING (user_id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE user_credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;

GRANT SELECT ON users, credit_ledger, admin_config TO reelvox_app;
GRANT UPDATE (name, updated_at) ON users TO reelvox_app;

REVOKE EXECUTE ON FUNCTION rv_credit_move, rv_session_start, rv_register, rv_login_lookup,
    rv_set_password, rv_my_password_hash, rv_refresh_rotate, rv_session_end FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rv_credit_move, rv_session_start, rv_register, rv_login_lookup,
    rv_set_password, rv_my_password_hash, rv_refresh_rotate, rv_session_end TO reelvox_app;
