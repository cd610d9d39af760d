-- A user's own provider keys (table api_keys, 007_money.sql). The handler encrypts
-- (common/keybox.c) and checks a key with its provider before it stores it; only
-- the poller reads a ciphertext back, for a job that runs on it (rv_job_own_key).

CREATE OR REPLACE FUNCTION rv_api_key_json(k api_keys) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', k.id, 'service', k.service, 'last4', k.last4,
                             'isActive', k.is_active, 'createdAt', rv_ts(k.created_at))
$$;

-- The request's user's key for p_service, replacing the one they had (one per
-- service). Returns the key as the API shows it.
CREATE OR REPLACE FUNCTION rv_api_key_put(p_service text, p_key_id text, p_nonce bytea,
                                          p_ciphertext bytea, p_last4 text)
RETURNS json LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    k api_keys;
BEGIN
    IF rv_uid() IS NULL THEN
        RAISE EXCEPTION 'no user in the request context' USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO api_keys AS x (user_id, service, key_id, nonce, ciphertext, last4)
    VALUES (rv_uid(), p_service, p_key_id, p_nonce, p_ciphertext, p_last4)
    ON CONFLICT (user_id, service) DO UPDATE
       SET id = gen_random_uuid(), key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce,
           ciphertext = EXCLUDED.ciphertext, last4 = EXCLUDED.last4, is_active = true,
           failed_at = NULL, created_at = now()
    RETURNING * INTO k;
    RETURN rv_api_key_json(k);
END $$;
REVOKE ALL ON FUNCTION rv_api_key_put FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_api_key_put TO reelvox_app;

-- Removes the request's user's key p_id. Jobs already queued on it fail with
-- provider_key_rejected when the poller comes to them. Returns whether it existed.
CREATE OR REPLACE FUNCTION rv_api_key_delete(p_id uuid)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM api_keys WHERE id = p_id AND user_id = rv_uid();
    RETURN FOUND;
END $$;
REVOKE ALL ON FUNCTION rv_api_key_delete FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_api_key_delete TO reelvox_app;

-- The services p_user has an active key for (rv_submit: they make those providers
-- available to the user's jobs).
CREATE OR REPLACE FUNCTION rv_own_key_services(p_user uuid) RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT COALESCE(array_agg(service ORDER BY service), '{}') FROM api_keys
     WHERE user_id = p_user AND is_active
$$;
REVOKE ALL ON FUNCTION rv_own_key_services FROM PUBLIC, reelvox_app, reelvox_poller;

-- The key a job runs on, for the poller. status: service (not an own-key job: the
-- service's key) | own (the ciphertext and what it is bound to) | missing (the
-- user removed it, or it failed at the provider).
CREATE OR REPLACE FUNCTION rv_job_own_key(p_job uuid)
RETURNS TABLE (status text, user_id uuid, service text, key_id text, nonce text,
               ciphertext text)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
    k api_keys;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job;
    IF NOT FOUND OR NOT j.own_key THEN
        RETURN QUERY SELECT 'service', NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    SELECT * INTO k FROM api_keys x WHERE x.user_id = j.user_id AND x.service = j.provider
                                      AND x.is_active;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'missing', j.user_id, j.provider, NULL::text, NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'own', j.user_id, j.provider, k.key_id, encode(k.nonce, 'hex'),
                        encode(k.ciphertext, 'hex');
END $$;
REVOKE ALL ON FUNCTION rv_job_own_key FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_own_key TO reelvox_poller;

-- The provider refused the user's key while running their job: the key is marked
-- inactive (the user sees isActive false and adds it again), so their next jobs
-- fall back to the service's key and price.
CREATE OR REPLACE FUNCTION rv_api_key_rejected(p_user uuid, p_service text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE api_keys SET is_active = false, failed_at = now()
     WHERE user_id = p_user AND service = p_service AND is_active
$$;
REVOKE ALL ON FUNCTION rv_api_key_rejected FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_api_key_rejected TO reelvox_poller;
