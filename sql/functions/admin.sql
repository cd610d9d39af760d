-- Administration: what the admin API (handlers/admin_*.c) and scripts/rvctl change,
-- each change recorded in audit_log. Every function a handler calls checks the
-- request's role first (rv_admin_required): the handlers' role cannot write
-- admin_config, users or the ledger any other way. (mail.sql comes before this
-- file: rv_random_token and rv_mail_token_send are made there.)

CREATE OR REPLACE FUNCTION rv_admin_required() RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF rv_role() <> 'admin' OR rv_uid() IS NULL THEN
        RAISE EXCEPTION 'administrators only' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN rv_uid();
END $$;
REVOKE ALL ON FUNCTION rv_admin_required FROM PUBLIC, reelvox_app, reelvox_poller;

-- One audit row: the request's user (NULL from rvctl), what, on what, before, after.
CREATE OR REPLACE FUNCTION rv_audit(p_action text, p_target text, p_old jsonb, p_new jsonb)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO audit_log (actor_id, action, target, old_value, new_value)
    VALUES (rv_uid(), p_action, COALESCE(p_target, ''), p_old, p_new)
$$;
REVOKE ALL ON FUNCTION rv_audit FROM PUBLIC, reelvox_app, reelvox_poller;

-- snake_case to camelCase ("paid_at" -> "paidAt"), and of every key of an object.
CREATE OR REPLACE FUNCTION rv_camel(k text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT string_agg(CASE WHEN i = 1 THEN w ELSE initcap(w) END, '' ORDER BY i)
      FROM unnest(string_to_array(k, '_')) WITH ORDINALITY AS t(w, i)
$$;
CREATE OR REPLACE FUNCTION rv_camel_keys(o jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
    SELECT COALESCE(jsonb_object_agg(rv_camel(key), value), '{}') FROM jsonb_each(o)
$$;

-- A user as an admin sees it: the user object plus disabled and updatedAt.
-- (plpgsql: rv_user_json and rv_ts are made by accounts.sql, after this file.)
CREATE OR REPLACE FUNCTION rv_admin_user_json(u users) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN rv_user_json(u)::jsonb || jsonb_build_object('disabled', u.disabled_at IS NOT NULL,
                                                        'disabledAt', rv_ts(u.disabled_at),
                                                        'updatedAt', rv_ts(u.updated_at));
END $$;

CREATE OR REPLACE FUNCTION rv_ledger_json(l credit_ledger) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN jsonb_strip_nulls(jsonb_build_object('id', l.id, 'userId', l.user_id, 'delta', l.delta,
                                                'kind', l.kind, 'reason', l.reason,
                                                'jobId', l.job_id, 'paymentId', l.payment_id,
                                                'createdAt', rv_ts(l.created_at)));
END $$;

-- ------------------------------------------------------------------ config
-- PUT /api/admin/config/{key}: the handler has checked p_value against the key's
-- schema (common/schema.c). Returns {key, value, updatedAt}.
CREATE OR REPLACE FUNCTION rv_admin_config_put(p_key text, p_value jsonb) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    old jsonb;
    c admin_config;
BEGIN
    PERFORM rv_admin_required();
    SELECT value INTO old FROM admin_config WHERE key = p_key FOR UPDATE;
    INSERT INTO admin_config (key, value, updated_at) VALUES (p_key, p_value, now())
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
    RETURNING * INTO c;
    PERFORM rv_audit('config.update', p_key, old, p_value);
    RETURN json_build_object('key', c.key, 'value', c.value, 'updatedAt', rv_ts(c.updated_at));
END $$;
REVOKE ALL ON FUNCTION rv_admin_config_put FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_admin_config_put TO reelvox_app;

-- ------------------------------------------------------------------- users
-- GET /api/admin/users/{id}: the user, balance, the 20 latest ledger rows and
-- jobs, and payments when the payments table exists (made by the money work;
-- its rows as they are, keys in camelCase). NULL when there is no such user.
CREATE OR REPLACE FUNCTION rv_admin_user_detail(p_user uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    u users;
    pays jsonb := '[]';
BEGIN
    PERFORM rv_admin_required();
    SELECT * INTO u FROM users WHERE id = p_user;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF to_regclass('public.payments') IS NOT NULL THEN
        -- the payment shape of GET /api/payments (times RFC 3339 UTC, no Stripe
        -- session ids or keys)
        EXECUTE 'SELECT COALESCE(jsonb_agg(rv_payment_json(p)::jsonb ORDER BY p.created_at DESC),'
                '''[]'') FROM (SELECT * FROM payments WHERE user_id = $1'
                ' ORDER BY created_at DESC LIMIT 20) p'
           INTO pays USING p_user;
    END IF;
    RETURN jsonb_build_object(
        'user', rv_admin_user_json(u),
        'balance', u.credits,
        'ledger', COALESCE((SELECT jsonb_agg(rv_ledger_json(l) ORDER BY l.created_at DESC, l.id DESC)
                              FROM (SELECT * FROM credit_ledger WHERE user_id = p_user
                                     ORDER BY created_at DESC, id DESC LIMIT 20) l), '[]'),
        'jobs', COALESCE((SELECT jsonb_agg(rv_job_json(j)::jsonb ORDER BY j.created_at DESC)
                            FROM (SELECT * FROM jobs WHERE user_id = p_user
                                   ORDER BY created_at DESC LIMIT 20) j), '[]'),
        'payments', pays);
END $$;
REVOKE ALL ON FUNCTION rv_admin_user_detail FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_admin_user_detail TO reelvox_app;

-- PATCH /api/admin/users/{id}: role and/or disabled (NULL: unchanged). Disabling
-- revokes every refresh family of the user, so each access token answers 401
-- within RV_SESSION_RECHECK_SECONDS, and login refuses the account; a role change
-- ends the tokens of the old role the same way (rv_session_valid). An admin cannot
-- disable or demote themselves (no locking the last door from inside).
-- status: ok | not_found | self.
CREATE OR REPLACE FUNCTION rv_admin_user_patch(p_user uuid, p_role text, p_disabled boolean)
RETURNS TABLE (status text, user_json jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    me uuid := rv_admin_required();
    u users;
    before jsonb;
BEGIN
    SELECT * INTO u FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::jsonb;
        RETURN;
    END IF;
    IF p_user = me AND ((p_role IS NOT NULL AND p_role <> 'admin') OR p_disabled) THEN
        RETURN QUERY SELECT 'self', NULL::jsonb;
        RETURN;
    END IF;
    before := jsonb_build_object('role', u.role, 'disabled', u.disabled_at IS NOT NULL);
    UPDATE users SET role = COALESCE(p_role, role),
                     disabled_at = CASE WHEN p_disabled IS NULL THEN disabled_at
                                        WHEN p_disabled THEN COALESCE(disabled_at, now())
                                        ELSE NULL END,
                     updated_at = now()
     WHERE id = p_user RETURNING * INTO u;
    IF p_disabled THEN
        UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = p_user AND revoked_at IS NULL;
    END IF;
    PERFORM rv_audit('user.update', p_user::text, before,
                     jsonb_build_object('role', u.role, 'disabled', u.disabled_at IS NOT NULL));
    RETURN QUERY SELECT 'ok', rv_admin_user_json(u);
END $$;
REVOKE ALL ON FUNCTION rv_admin_user_patch FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_admin_user_patch TO reelvox_app;

-- POST /api/admin/users/{id}/credits: one ledger row of kind grant (a negative
-- delta takes credits away, never below zero). status: ok | not_found | insufficient.
CREATE OR REPLACE FUNCTION rv_admin_credit(p_user uuid, p_delta bigint, p_reason text)
RETURNS TABLE (status text, entry jsonb, balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    bal bigint;
    l credit_ledger;
BEGIN
    PERFORM rv_admin_required();
    SELECT credits INTO bal FROM users WHERE id = p_user FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::jsonb, NULL::bigint;
        RETURN;
    END IF;
    IF bal + p_delta < 0 THEN
        RETURN QUERY SELECT 'insufficient', NULL::jsonb, bal;
        RETURN;
    END IF;
    bal := rv_credit_move(p_user, p_delta, 'grant', p_reason);
    SELECT * INTO l FROM credit_ledger WHERE user_id = p_user
     ORDER BY created_at DESC, id DESC LIMIT 1;
    PERFORM rv_audit('user.credits', p_user::text, NULL,
                     jsonb_build_object('delta', p_delta, 'reason', p_reason, 'ledgerId', l.id,
                                        'balance', bal));
    RETURN QUERY SELECT 'ok', rv_ledger_json(l), bal;
END $$;
REVOKE ALL ON FUNCTION rv_admin_credit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_admin_credit TO reelvox_app;

-- -------------------------------------------------------------------- jobs
-- POST /api/admin/jobs/{id}/refund: gives an ended job's credits back (a
-- succeeded job whose result was bad; a failed or cancelled one was refunded
-- already). At most once: the ledger's credit_ledger_job_once index.
-- status: ok | not_found | invalid_state (not ended) | conflict (refunded already,
-- or nothing was charged).
CREATE OR REPLACE FUNCTION rv_admin_job_refund(p_job uuid)
RETURNS TABLE (status text, entry jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
    l credit_ledger;
BEGIN
    PERFORM rv_admin_required();
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::jsonb;
        RETURN;
    END IF;
    IF NOT rv_job_terminal(j.status) THEN
        RETURN QUERY SELECT 'invalid_state', NULL::jsonb;
        RETURN;
    END IF;
    IF j.cost_credits = 0 OR EXISTS (SELECT 1 FROM credit_ledger
                                      WHERE job_id = p_job AND kind = 'job_refund') THEN
        RETURN QUERY SELECT 'conflict', NULL::jsonb;
        RETURN;
    END IF;
    PERFORM rv_credit_move(j.user_id, j.cost_credits, 'job_refund',
                           j.kind || ' job refunded by an administrator', j.id);
    SELECT * INTO l FROM credit_ledger WHERE job_id = p_job AND kind = 'job_refund';
    PERFORM rv_audit('job.refund', p_job::text, jsonb_build_object('status', j.status),
                     jsonb_build_object('ledgerId', l.id, 'credits', j.cost_credits));
    RETURN QUERY SELECT 'ok', rv_ledger_json(l);
END $$;
REVOKE ALL ON FUNCTION rv_admin_job_refund FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_admin_job_refund TO reelvox_app;

-- POST /api/admin/jobs/{id}/retry: a failed job runs again as a new job of its
-- user with the same kind, input and provider, free (cost 0: the failed job's
-- credits were refunded when it failed; the retry is the operator's, recorded in
-- the audit log; input.retryOf names the failed job). Only kinds whose job stands
-- alone (tts, sfx, voice_conversion): the others own rows (voices, clips, videos)
-- that a second job would not fit. p_idem: the request's Idempotency-Key (NULL:
-- none), kept in the audit row: the same admin's key for the same job answers the
-- retry it made (repeated, as it is now), for another job idempotency_conflict.
-- status: ok | repeated | idempotency_conflict | not_found | invalid_state | unsupported.
CREATE OR REPLACE FUNCTION rv_admin_job_retry(p_job uuid, p_idem text)
RETURNS TABLE (status text, job_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
    n jobs;
    cfg jsonb := (SELECT value FROM admin_config WHERE key = 'providers');
    prior audit_log;
BEGIN
    PERFORM rv_admin_required();
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    IF p_idem IS NOT NULL THEN
        SELECT * INTO prior FROM audit_log a
         WHERE a.action = 'job.retry' AND a.actor_id = rv_uid()
           AND a.new_value ->> 'idempotencyKey' = p_idem
         ORDER BY a.id DESC LIMIT 1;
        IF FOUND AND prior.target <> p_job::text THEN
            RETURN QUERY SELECT 'idempotency_conflict', NULL::json;
            RETURN;
        ELSIF FOUND THEN
            SELECT * INTO n FROM jobs x WHERE x.id = (prior.new_value ->> 'jobId')::uuid;
            RETURN QUERY SELECT 'repeated', rv_job_json(n);
            RETURN;
        END IF;
    END IF;
    IF j.status <> 'failed' THEN
        RETURN QUERY SELECT 'invalid_state', NULL::json;
        RETURN;
    END IF;
    IF j.kind NOT IN ('tts', 'sfx', 'voice_conversion') THEN
        RETURN QUERY SELECT 'unsupported', NULL::json;
        RETURN;
    END IF;
    INSERT INTO jobs (user_id, kind, input, provider, provider_model, callback_token,
                      deadline_at, cost_credits)
    VALUES (j.user_id, j.kind, j.input || jsonb_build_object('retryOf', j.id), j.provider,
            j.provider_model, left(rv_random_token(), 32),
            now() + make_interval(secs => COALESCE((cfg -> 'deadlines' ->> j.kind)::integer, 900)),
            0)
    RETURNING * INTO n;
    PERFORM rv_audit('job.retry', p_job::text, jsonb_build_object('status', j.status),
                     jsonb_strip_nulls(jsonb_build_object('jobId', n.id, 'costCredits', 0,
                                                          'idempotencyKey', p_idem)));
    PERFORM pg_notify('reelvox_jobs', n.id::text);
    RETURN QUERY SELECT 'ok', rv_job_json(n);
END $$;
REVOKE ALL ON FUNCTION rv_admin_job_retry FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_admin_job_retry TO reelvox_app;

-- ------------------------------------------------------------------- rvctl
-- `rvctl admin create EMAIL [NAME]` (as the owner, no request context): the
-- account becomes an admin — made when it does not exist, verified, with no
-- usable password and no signup credits — and gets a reset link (24 h) to choose
-- its password; the plain token is returned for rvctl to print. created: whether
-- the account is new.
CREATE OR REPLACE FUNCTION rv_admin_create(p_email text, p_name text)
RETURNS TABLE (user_id uuid, created boolean, token text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid;
    is_new boolean := false;
    code text;
    tok text := rv_random_token();
BEGIN
    SELECT id INTO uid FROM users WHERE lower(email) = lower(p_email) FOR UPDATE;
    IF uid IS NULL THEN
        LOOP
            code := upper(substr(md5(gen_random_uuid()::text), 1, 8));
            EXIT WHEN NOT EXISTS (SELECT 1 FROM users WHERE referral_code = code);
        END LOOP;
        INSERT INTO users (email, name, role, referral_code, email_verified)
        VALUES (p_email, COALESCE(p_name, ''), 'admin', code, true) RETURNING id INTO uid;
        -- not an Argon2 string: no password matches it until the reset link is used
        INSERT INTO user_credentials (user_id, password_hash) VALUES (uid, '!');
        is_new := true;
    ELSE
        UPDATE users SET role = 'admin', disabled_at = NULL, updated_at = now() WHERE id = uid;
    END IF;
    INSERT INTO mail_tokens (token_hash, user_id, purpose, expires_at)
    VALUES (rv_token_hash(tok), uid, 'reset', now() + interval '1 day');
    PERFORM rv_mail_enqueue(uid, 'reset', jsonb_build_object('token', tok));
    PERFORM rv_audit('admin.create', uid::text, NULL, jsonb_build_object('email', p_email,
                                                                         'created', is_new));
    RETURN QUERY SELECT uid, is_new, tok;
END $$;
REVOKE ALL ON FUNCTION rv_admin_create FROM PUBLIC, reelvox_app, reelvox_poller;

-- ------------------------------------------------------------------- stats
-- GET /api/admin/stats: the overview. Active users today: accounts that signed in,
-- refreshed a session or started a job since midnight UTC. Provider error rate:
-- failed / ended jobs per provider in the last 24 h. Credits sold: purchase rows;
-- spent: job charges less job refunds.
CREATE OR REPLACE FUNCTION rv_admin_stats() RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    today timestamptz := date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    since timestamptz := now() - interval '24 hours';
BEGIN
    PERFORM rv_admin_required();
    RETURN jsonb_build_object(
        'users', (SELECT jsonb_build_object(
                      'total', count(*),
                      'verified', count(*) FILTER (WHERE email_verified),
                      'disabled', count(*) FILTER (WHERE disabled_at IS NOT NULL),
                      'newToday', count(*) FILTER (WHERE created_at >= today),
                      'byRole', jsonb_build_object(
                          'user', count(*) FILTER (WHERE role = 'user'),
                          'expert', count(*) FILTER (WHERE role = 'expert'),
                          'admin', count(*) FILTER (WHERE role = 'admin')))
                    FROM users),
        'activeUsersToday', (SELECT count(*) FROM (
                                 SELECT user_id FROM refresh_tokens WHERE created_at >= today
                                 UNION SELECT user_id FROM jobs WHERE created_at >= today) a),
        'jobsLast24h', COALESCE((SELECT jsonb_object_agg(kind, by_status) FROM (
                                     SELECT kind, jsonb_object_agg(status, n) AS by_status
                                       FROM (SELECT kind, status, count(*) AS n FROM jobs
                                              WHERE created_at >= since GROUP BY kind, status) k
                                      GROUP BY kind) s), '{}'),
        'providers', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                                   'provider', provider, 'jobs', n, 'failed', failed,
                                   'errorRate', CASE WHEN ended > 0
                                                     THEN round(failed::numeric / ended, 4)
                                                     ELSE 0 END) ORDER BY provider)
                                 FROM (SELECT provider, count(*) AS n,
                                              count(*) FILTER (WHERE status = 'failed') AS failed,
                                              count(*) FILTER (WHERE status IN ('succeeded', 'failed'))
                                                AS ended
                                         FROM jobs WHERE created_at >= since
                                        GROUP BY provider) p), '[]'),
        'credits', (SELECT jsonb_build_object(
                        'soldLast24h', COALESCE(sum(delta) FILTER (
                                           WHERE kind = 'purchase' AND created_at >= since), 0),
                        'spentLast24h', COALESCE(-sum(delta) FILTER (
                                           WHERE kind IN ('job_charge', 'job_refund')
                                             AND created_at >= since), 0),
                        'soldTotal', COALESCE(sum(delta) FILTER (WHERE kind = 'purchase'), 0),
                        'spentTotal', COALESCE(-sum(delta) FILTER (
                                          WHERE kind IN ('job_charge', 'job_refund')), 0),
                        'balanceTotal', (SELECT COALESCE(sum(credits), 0) FROM users))
                      FROM credit_ledger),
        'queue', (SELECT jsonb_build_object(
                      'depth', count(*),
                      'oldestQueuedSeconds', COALESCE(floor(extract(epoch FROM now() - min(created_at))), 0))
                    FROM jobs WHERE status = 'queued'),
        'mail', (SELECT jsonb_build_object('pending', count(*) FILTER (WHERE status = 'pending'),
                                           'failed', count(*) FILTER (WHERE status = 'failed'))
                   FROM outbox),
        'generatedAt', rv_ts(now()));
END $$;
REVOKE ALL ON FUNCTION rv_admin_stats FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_admin_stats TO reelvox_app;
