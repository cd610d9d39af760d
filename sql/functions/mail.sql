-- Mail: the outbox, the verification and password-reset tokens. The poller sends
-- what rv_mail_enqueue wrote (common/mail_outbox.c); nothing here talks to SMTP.
--
-- Delivery is at least once: a mail is marked sent only after the SMTP server
-- accepted it (250 after DATA). A poller that dies between that answer and
-- rv_outbox_sent's commit leaves the row pending; once its lease (locked_until)
-- runs out another poller sends it again, with the same Message-ID. Once
-- rv_outbox_sent has committed, the row is never sent again.

-- A random token: 244 bits from the server's strong random source (two v4 UUIDs),
-- as 64 hex characters. Only its SHA-256 is stored (mail_tokens); the plain token
-- travels in the mail's link.
CREATE OR REPLACE FUNCTION rv_random_token() RETURNS text LANGUAGE sql VOLATILE AS
$$ SELECT encode(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid()), 'hex') $$;
REVOKE ALL ON FUNCTION rv_random_token FROM PUBLIC, reelvox_app, reelvox_poller;

CREATE OR REPLACE FUNCTION rv_token_hash(p_token text) RETURNS bytea LANGUAGE sql IMMUTABLE AS
$$ SELECT sha256(convert_to(p_token, 'UTF8')) $$;
REVOKE ALL ON FUNCTION rv_token_hash FROM PUBLIC, reelvox_app, reelvox_poller;

CREATE OR REPLACE FUNCTION rv_mail_setting(p_name text, p_default bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT CASE WHEN jsonb_typeof(value -> p_name) = 'number'
                                 THEN (value ->> p_name)::numeric::bigint END
                       FROM admin_config WHERE key = 'mail'), p_default)
$$;
REVOKE ALL ON FUNCTION rv_mail_setting FROM PUBLIC, reelvox_app, reelvox_poller;

-- Queues one mail of p_template ('verify', 'reset', 'receipt') to user p_user, in
-- the caller's transaction, and wakes the poller. p_data: what the template shows
-- (verify/reset: {token}; receipt: {credits, amountCents, currency, packName?,
-- paymentId}); the address and name are the user's at this moment. p_dedupe: a key
-- that makes the call idempotent (e.g. 'receipt:' || payment id): a second call
-- with it queues nothing. Returns the outbox id, NULL when nothing was queued (no
-- such user, or a repeated p_dedupe).
CREATE OR REPLACE FUNCTION rv_mail_enqueue(p_user uuid, p_template text, p_data jsonb,
                                           p_dedupe text DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    oid bigint;
BEGIN
    INSERT INTO outbox (user_id, to_addr, to_name, template, data, dedupe_key)
    SELECT u.id, u.email, u.name, p_template, COALESCE(p_data, '{}'), p_dedupe
      FROM users u WHERE u.id = p_user
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id INTO oid;
    IF oid IS NOT NULL THEN
        PERFORM pg_notify('reelvox_jobs', 'mail');
    END IF;
    RETURN oid;
END $$;
REVOKE ALL ON FUNCTION rv_mail_enqueue FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_mail_enqueue TO reelvox_poller;

-- A new link token of p_purpose for p_user, and its mail. Internal.
CREATE OR REPLACE FUNCTION rv_mail_token_send(p_user uuid, p_purpose text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    tok text := rv_random_token();
    ttl bigint := CASE p_purpose WHEN 'verify' THEN rv_mail_setting('verifyTtlSeconds', 172800)
                                 ELSE rv_mail_setting('resetTtlSeconds', 3600) END;
BEGIN
    INSERT INTO mail_tokens (token_hash, user_id, purpose, expires_at)
    VALUES (rv_token_hash(tok), p_user, p_purpose, now() + make_interval(secs => ttl));
    PERFORM rv_mail_enqueue(p_user, p_purpose, jsonb_build_object('token', tok));
END $$;
REVOKE ALL ON FUNCTION rv_mail_token_send FROM PUBLIC, reelvox_app, reelvox_poller;

-- Every new account is sent its verification link, whoever made it (registration,
-- rvctl): in the transaction that made it.
CREATE OR REPLACE FUNCTION rv_users_verify_mail() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NOT NEW.email_verified THEN
        PERFORM rv_mail_token_send(NEW.id, 'verify');
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER users_verify_mail AFTER INSERT ON users
    FOR EACH ROW EXECUTE FUNCTION rv_users_verify_mail();

-- Spends a live token of p_purpose: marks it used and returns its user, or NULL
-- when the token is unknown, used, expired or of another purpose. Internal.
CREATE OR REPLACE FUNCTION rv_mail_token_spend(p_token text, p_purpose text) RETURNS uuid
LANGUAGE plpgsql AS $$
DECLARE
    uid uuid;
BEGIN
    UPDATE mail_tokens SET used_at = now()
     WHERE token_hash = rv_token_hash(p_token) AND purpose = p_purpose
       AND used_at IS NULL AND expires_at > now()
    RETURNING user_id INTO uid;
    RETURN uid;
END $$;
REVOKE ALL ON FUNCTION rv_mail_token_spend FROM PUBLIC, reelvox_app, reelvox_poller;

-- POST /api/auth/verify: the account of a live verify token is verified (its other
-- verify tokens are spent too) and its pending referral qualifies (paid once,
-- rv_referral_qualify). status: ok | invalid_token.
CREATE OR REPLACE FUNCTION rv_verify_email(p_token text)
RETURNS TABLE (status text, user_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_mail_token_spend(p_token, 'verify');
BEGIN
    IF uid IS NULL THEN
        RETURN QUERY SELECT 'invalid_token', NULL::json;
        RETURN;
    END IF;
    UPDATE mail_tokens SET used_at = now()
     WHERE user_id = uid AND purpose = 'verify' AND used_at IS NULL;
    UPDATE users SET email_verified = true, updated_at = now() WHERE id = uid;
    PERFORM rv_referral_qualify(uid);
    RETURN QUERY SELECT 'ok', rv_user_json(u) FROM users u WHERE u.id = uid;
END $$;
REVOKE ALL ON FUNCTION rv_verify_email FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_verify_email TO reelvox_app;

-- POST /api/auth/verify/resend: a new link for the request's user, unless already
-- verified; at most mail.forgotPerHour per hour. status: sent | verified | limited.
CREATE OR REPLACE FUNCTION rv_verify_resend() RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_uid_required();
BEGIN
    IF (SELECT email_verified FROM users WHERE id = uid) THEN
        RETURN 'verified';
    END IF;
    IF rv_attempt_take('verify_resend', uuid_send(uid), rv_mail_setting('forgotPerHour', 3),
                       3600) > 0 THEN
        RETURN 'limited';
    END IF;
    PERFORM rv_mail_token_send(uid, 'verify');
    RETURN 'sent';
END $$;
REVOKE ALL ON FUNCTION rv_verify_resend FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_verify_resend TO reelvox_app;

-- POST /api/auth/forgot: records the request, at most mail.forgotPerHour per email
-- per hour, whatever the email; the account is looked up later by the poller
-- (rv_reset_requests_process). The request does the same work and answers the same
-- whether or not the account exists: its time tells nothing either.
CREATE OR REPLACE FUNCTION rv_password_forgot(p_email text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF rv_attempt_take('forgot', rv_login_subject(p_email), rv_mail_setting('forgotPerHour', 3),
                       3600) > 0 THEN
        RETURN;
    END IF;
    INSERT INTO reset_requests (email) VALUES (p_email);
    PERFORM pg_notify('reelvox_jobs', 'mail');
END $$;
REVOKE ALL ON FUNCTION rv_password_forgot FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_password_forgot TO reelvox_app;

-- The poller's side of forgot: up to p_limit requests, each a reset link mailed to
-- its account when there is one (and it is not disabled), then removed. Returns
-- how many requests were taken.
CREATE OR REPLACE FUNCTION rv_reset_requests_process(p_limit integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    req reset_requests;
    uid uuid;
    n integer := 0;
BEGIN
    FOR req IN DELETE FROM reset_requests
                WHERE id IN (SELECT id FROM reset_requests ORDER BY id LIMIT p_limit
                               FOR UPDATE SKIP LOCKED)
                RETURNING * LOOP
        SELECT id INTO uid FROM users
         WHERE lower(email) = lower(req.email) AND disabled_at IS NULL;
        IF uid IS NOT NULL THEN
            PERFORM rv_mail_token_send(uid, 'reset');
        END IF;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION rv_reset_requests_process FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_reset_requests_process TO reelvox_poller;

-- POST /api/auth/reset: a live reset token sets the new hash and ends every
-- session of the account (every refresh family revoked: their access tokens answer
-- 401 within the recheck interval). The mailbox is proven: the email counts as
-- verified. status: ok | invalid_token.
CREATE OR REPLACE FUNCTION rv_password_reset(p_token text, p_hash text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_mail_token_spend(p_token, 'reset');
BEGIN
    IF uid IS NULL THEN
        RETURN 'invalid_token';
    END IF;
    UPDATE mail_tokens SET used_at = now()
     WHERE user_id = uid AND purpose = 'reset' AND used_at IS NULL;
    PERFORM rv_set_password(uid, p_hash, NULL);
    UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = uid AND revoked_at IS NULL;
    IF NOT (SELECT email_verified FROM users WHERE id = uid) THEN
        UPDATE users SET email_verified = true, updated_at = now() WHERE id = uid;
        PERFORM rv_referral_qualify(uid);
    END IF;
    RETURN 'ok';
END $$;
REVOKE ALL ON FUNCTION rv_password_reset FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_password_reset TO reelvox_app;

-- Whether p_user may buy or start paid work: always, unless
-- admin_config.require_verified is true and the email is not verified.
CREATE OR REPLACE FUNCTION rv_verified_ok(p_user uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT COALESCE((SELECT value = 'true'::jsonb FROM admin_config
                      WHERE key = 'require_verified'), false) IS NOT TRUE
        OR COALESCE((SELECT email_verified FROM users WHERE id = p_user), false)
$$;
REVOKE ALL ON FUNCTION rv_verified_ok FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_verified_ok TO reelvox_app, reelvox_poller;

-- ------------------------------------------------------------ the poller's side
-- Takes up to p_limit due mails, each leased to p_poller for p_lease seconds (its
-- attempt counted). The Message-ID is fixed at the first claim, so a mail sent
-- twice in the at-least-once window carries the same one.
CREATE OR REPLACE FUNCTION rv_outbox_claim(p_poller text, p_limit integer, p_lease integer,
                                           p_domain text)
RETURNS TABLE (id bigint, to_addr text, to_name text, template text, data jsonb,
               attempts integer, message_id text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY
    UPDATE outbox o SET locked_until = now() + make_interval(secs => p_lease),
                        locked_by = p_poller, attempts = o.attempts + 1,
                        message_id = COALESCE(o.message_id,
                                              '<' || rv_random_token() || '@' || p_domain || '>')
      FROM (SELECT x.id FROM outbox x
             WHERE x.status = 'pending' AND x.next_at <= now()
               AND (x.locked_until IS NULL OR x.locked_until < now())
             ORDER BY x.next_at LIMIT p_limit FOR UPDATE SKIP LOCKED) due
     WHERE o.id = due.id
    RETURNING o.id, o.to_addr, o.to_name, o.template, o.data, o.attempts, o.message_id;
END $$;
REVOKE ALL ON FUNCTION rv_outbox_claim FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_outbox_claim TO reelvox_poller;

-- The SMTP server accepted mail p_id: it is never sent again. The link token
-- leaves the row.
CREATE OR REPLACE FUNCTION rv_outbox_sent(p_id bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE outbox SET status = 'sent', sent_at = now(), data = data - 'token',
                      locked_until = NULL, last_error = NULL
     WHERE id = p_id AND status = 'pending'
$$;
REVOKE ALL ON FUNCTION rv_outbox_sent FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_outbox_sent TO reelvox_poller;

-- Mail p_id was not sent: tried again in p_run_in seconds, or failed for good when
-- p_permanent (the server refused the address) or out of attempts.
CREATE OR REPLACE FUNCTION rv_outbox_retry(p_id bigint, p_error text, p_run_in double precision,
                                           p_permanent boolean)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    st text;
BEGIN
    UPDATE outbox SET status = CASE WHEN p_permanent OR attempts >= max_attempts
                                    THEN 'failed' ELSE 'pending' END,
                      next_at = now() + make_interval(secs => p_run_in),
                      locked_until = NULL, last_error = left(p_error, 500)
     WHERE id = p_id AND status = 'pending'
    RETURNING status INTO st;
    RETURN st;
END $$;
REVOKE ALL ON FUNCTION rv_outbox_retry FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_outbox_retry TO reelvox_poller;
