-- Accounts: formatting and configuration helpers, the credit ledger, registration,
-- referrals and the per-account throttles. (Sessions, logins and passwords:
-- sessions.sql.) See README in this folder for how these files are applied.

CREATE OR REPLACE FUNCTION rv_ts(t timestamptz) RETURNS text LANGUAGE sql STABLE AS
$$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

-- The only way a balance moves: one ledger row per change, in the same transaction.
-- A balance that would go negative fails with check_violation (23514).
CREATE OR REPLACE FUNCTION rv_credit_move(p_user uuid, p_delta bigint, p_kind text, p_reason text,
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
REVOKE ALL ON FUNCTION rv_credit_move FROM PUBLIC, reelvox_app, reelvox_poller;

CREATE OR REPLACE FUNCTION rv_user_json(u users) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', u.id, 'email', u.email, 'name', u.name, 'role', u.role,
                                        'credits', u.credits, 'referralCode', u.referral_code,
                                        'emailVerified', u.email_verified,
                                        'createdAt', rv_ts(u.created_at))
$$;

CREATE OR REPLACE FUNCTION rv_config_int(p_key text, p_default bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT CASE WHEN jsonb_typeof(value) = 'number' THEN value::text::bigint END
                       FROM admin_config WHERE key = p_key), p_default)
$$;

-- Registration in one transaction: the user, the hash, signup credits (signup_credits
-- may be 0: no ledger row then) and the first session. A referral is only recorded
-- (pending), never paid here: rv_referral_qualify pays it.
-- status: ok | email_taken | bad_referral.
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
REVOKE ALL ON FUNCTION rv_register FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_register TO reelvox_app;

-- --------------------------------------------------------------- referrals
-- Pays the pending referral of p_referred: the referral_bonus to both sides, at
-- most once, and at most referral_limits.perReferrerPerDay paid referrals per
-- referrer in any 24 hours. status: paid | already_paid | no_referral | capped (the
-- referral stays pending; a later qualifying event may pay it).
CREATE OR REPLACE FUNCTION rv_referral_qualify(p_referred uuid) RETURNS text
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
REVOKE ALL ON FUNCTION rv_referral_qualify FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_referral_qualify TO reelvox_app;

-- --------------------------------------------------------------- throttles
CREATE OR REPLACE FUNCTION rv_auth_limit(p_name text, p_default bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT CASE WHEN jsonb_typeof(value -> p_name) = 'number'
                                 THEN (value ->> p_name)::numeric::bigint END
                       FROM admin_config WHERE key = 'auth_limits'), p_default)
$$;
REVOKE ALL ON FUNCTION rv_auth_limit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_auth_limit TO reelvox_app;

-- Takes one attempt of p_action for p_subject unless p_limit attempts are already
-- inside the last p_window seconds; returns 0 when taken, else the seconds until
-- the oldest of those leaves the window. p_limit <= 0 disables the limit.
-- Internal: called by the SECURITY DEFINER functions below.
CREATE OR REPLACE FUNCTION rv_attempt_take(p_action text, p_subject bytea, p_limit bigint,
                                           p_window bigint)
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
REVOKE ALL ON FUNCTION rv_attempt_take FROM PUBLIC, reelvox_app, reelvox_poller;

-- PATCH /api/me: one change (and its Argon2 work) taken for the caller; 0 or the
-- seconds to wait.
CREATE OR REPLACE FUNCTION rv_profile_change_take() RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT rv_attempt_take('profile', uuid_send(rv_uid()), rv_auth_limit('profileChanges', 10),
                           rv_auth_limit('windowSeconds', 900))
$$;
REVOKE ALL ON FUNCTION rv_profile_change_take FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_profile_change_take TO reelvox_app;
