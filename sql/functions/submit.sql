-- One submit path for every kind. rv_submit() decides: idempotency (the key and a
-- hash of the request; a different request under the same key is refused), the
-- per-user rate limit, the voice (rv_voice_usable, and its use recorded only when
-- the job is accepted), provider choice, the charge, the row and the NOTIFY.
-- rv_conversion_submit and rv_clone_submit add their own checks in front of it and
-- their rows after it. A refund is at most once by the ledger's partial unique
-- index credit_ledger_job_once (job_id, kind), whatever locks the callers hold.

-- The request's user, or an error: every submit acts for rv_uid() only.
CREATE OR REPLACE FUNCTION rv_uid_required() RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
DECLARE
    uid uuid := rv_uid();
BEGIN
    IF uid IS NULL THEN
        RAISE EXCEPTION 'no user in the request context' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN uid;
END $$;
REVOKE ALL ON FUNCTION rv_uid_required FROM PUBLIC, reelvox_app, reelvox_poller;

-- The hash a key is checked with: the kind and the request's parameters as the
-- handler bound them (defaults filled in), in jsonb's canonical text (keys sorted,
-- no insignificant whitespace), so key order and spacing of the body do not matter.
CREATE OR REPLACE FUNCTION rv_request_hash(p_kind text, p_input jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(p_kind || E'\n' || p_input::text, 'UTF8')), 'hex')
$$;
REVOKE ALL ON FUNCTION rv_request_hash FROM PUBLIC, reelvox_app, reelvox_poller;

-- The first step of every submit: takes the user's lock (one submit at a time per
-- user: makes the rate limit and the idempotency exact) and answers a key used
-- before: 'repeated' with the job as it is now when the request is the same
-- (same kind, same hash), 'idempotency_conflict' when it is not. No row when the
-- key is new or absent.
CREATE OR REPLACE FUNCTION rv_submit_repeat(p_kind text, p_idem text, p_hash text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_uid_required();
    bal bigint;
    j jobs;
BEGIN
    SELECT credits INTO bal FROM users WHERE id = uid FOR UPDATE;
    IF p_idem IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO j FROM jobs x WHERE x.user_id = uid AND x.idempotency_key = p_idem;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF j.kind <> p_kind OR j.request_hash <> p_hash THEN -- NULL: a job from before 008
        RETURN QUERY SELECT 'idempotency_conflict', NULL::json, j.id, 0, 0::bigint, bal;
    ELSE
        RETURN QUERY SELECT 'repeated', rv_job_json(j), j.id, 0, 0::bigint, bal;
    END IF;
END $$;
REVOKE ALL ON FUNCTION rv_submit_repeat FROM PUBLIC, reelvox_app, reelvox_poller;

-- Submits a job of p_kind for the request's user, in one transaction.
-- p_input: the request's parameters (what the idempotency hash covers and the job
-- shows as its input); p_extra: members the caller derived (a conversion's source,
-- a clone's voice id), merged in after the hash. p_voice: the voice the job speaks
-- with, checked by rv_voice_usable; its provider ids go into input.voice (hidden
-- from users), a clone goes only to providers that know it, and its last use is
-- recorded when the job is created. p_available: providers this deployment has
-- keys for. status: created | repeated | idempotency_conflict | rate_limited |
-- insufficient | no_provider | voice_not_found | voice_not_active | voice_expired.
CREATE OR REPLACE FUNCTION rv_submit(p_kind text, p_input jsonb, p_idem text, p_available text[],
                                     p_token text, p_voice uuid DEFAULT NULL,
                                     p_extra jsonb DEFAULT '{}')
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_uid_required();
    hash text := rv_request_hash(p_kind, p_input);
    rep record;
    chk record;
    v voices;
    j jobs;
    bal bigint;
    cost bigint;
    lim bigint;
    oldest timestamptz;
    prov text;
    own boolean;
    -- A user's own provider keys (api_keys.sql) make those providers available to them.
    avail text[] := p_available || rv_own_key_services(uid);
    input jsonb := p_input || COALESCE(p_extra, '{}');
    cfg jsonb := (SELECT value FROM admin_config WHERE key = 'providers');
BEGIN
    SELECT * INTO rep FROM rv_submit_repeat(p_kind, p_idem, hash) r;
    IF rep.status IS NOT NULL THEN
        RETURN QUERY SELECT rep.status, rep.job_json, rep.job_id, rep.retry_after, rep.required,
                            rep.balance;
        RETURN;
    END IF;
    SELECT credits INTO bal FROM users WHERE id = uid; -- locked by rv_submit_repeat
    IF p_voice IS NOT NULL THEN
        SELECT * INTO chk FROM rv_voice_usable(p_voice) u;
        IF chk.status <> 'ok' THEN
            RETURN QUERY SELECT chk.status, NULL::json, NULL::uuid, 0, 0::bigint, bal;
            RETURN;
        END IF;
        v := chk.v;
        input := input || jsonb_build_object('voice', COALESCE(input -> 'voice', '{}')
            || jsonb_build_object('presetKey', v.preset_key,
                                  'providerVoiceIds', v.provider_voice_ids));
        IF v.is_cloned THEN
            avail := ARRAY(SELECT unnest(avail)
                           INTERSECT SELECT jsonb_object_keys(v.provider_voice_ids));
            -- A narration is run by the poller itself (provider local), which has the
            -- clone's provider speak each section: it can when the deployment has a
            -- key for one that knows the voice (Replicate; users' own keys are not
            -- used for it). The speech model is the tts job's.
            IF p_kind = 'narration' THEN
                avail := CASE WHEN 'replicate' = ANY (p_available) AND 'replicate' = ANY (avail)
                              THEN ARRAY['local'] ELSE '{}' END;
                input := jsonb_set(input, '{voice,speechModel}',
                                   COALESCE(cfg -> 'replicate' -> 'models' -> 'tts', 'null'));
            END IF;
        END IF;
    END IF;
    SELECT p INTO prov FROM jsonb_array_elements_text(cfg -> 'kinds' -> p_kind) p
     WHERE p = ANY (avail) LIMIT 1;
    IF prov IS NULL THEN
        RETURN QUERY SELECT 'no_provider', NULL::json, NULL::uuid, 0, 0::bigint, bal;
        RETURN;
    END IF;
    -- Limited when the lim-th newest job is still inside the minute: it is also
    -- the job whose leaving frees a slot. 0 or less disables the limit.
    lim := COALESCE((SELECT (value ->> 'generationsPerMinute')::bigint FROM admin_config
                      WHERE key = 'rate_limits'), 3);
    IF lim > 0 THEN
        SELECT created_at INTO oldest FROM jobs
         WHERE user_id = uid AND created_at > now() - interval '60 seconds'
         ORDER BY created_at DESC OFFSET lim - 1 LIMIT 1;
        IF oldest IS NOT NULL THEN
            RETURN QUERY SELECT 'rate_limited', NULL::json, NULL::uuid,
                GREATEST(1, ceil(60 - extract(epoch FROM now() - oldest)))::integer, 0::bigint, bal;
            RETURN;
        END IF;
    END IF;
    -- On the user's own key the job costs own_key_fee instead (api_keys.sql).
    own := prov = ANY (rv_own_key_services(uid));
    cost := CASE WHEN own THEN GREATEST(rv_config_int('own_key_fee', 0), 0)
                 ELSE rv_job_cost(p_kind, input) END;
    IF bal < cost THEN
        RETURN QUERY SELECT 'insufficient', NULL::json, NULL::uuid, 0, cost, bal;
        RETURN;
    END IF;
    INSERT INTO jobs (user_id, kind, input, provider, provider_model, callback_token,
                      deadline_at, cost_credits, idempotency_key, request_hash, own_key)
    VALUES (uid, p_kind, input, prov, cfg -> prov -> 'models' ->> p_kind, p_token,
            now() + make_interval(secs => COALESCE((cfg -> 'deadlines' ->> p_kind)::integer, 900)),
            cost, p_idem, CASE WHEN p_idem IS NOT NULL THEN hash END, own)
    RETURNING * INTO j;
    IF cost > 0 THEN
        bal := rv_credit_move(uid, -cost, 'job_charge', p_kind || ' job', j.id);
    END IF;
    IF v.user_id IS NOT NULL THEN
        UPDATE voices x SET last_used_at = now() WHERE x.id = v.id;
    END IF;
    PERFORM pg_notify('reelvox_jobs', j.id::text);
    RETURN QUERY SELECT 'created', rv_job_json(j), j.id, 0, cost, bal;
END $$;
REVOKE ALL ON FUNCTION rv_submit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_submit TO reelvox_app, reelvox_poller;

-- Voice conversion: the request's audio p_source spoken in p_voice. p_input:
-- {sourceAudioId, voiceId}. The job's input gains durationSeconds (job_costs
-- charges per second of the source) and the source's storage key (the poller
-- signs a link to it for the provider; hidden from users). A repeated key answers
-- the first job, whatever changed since. Extra status: source_not_found.
CREATE OR REPLACE FUNCTION rv_conversion_submit(p_source uuid, p_voice uuid, p_input jsonb,
                                                p_idem text, p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    rep record;
    src audios;
BEGIN
    SELECT * INTO rep
      FROM rv_submit_repeat('voice_conversion', p_idem,
                            rv_request_hash('voice_conversion', p_input)) r;
    IF rep.status IS NOT NULL THEN
        RETURN QUERY SELECT rep.status, rep.job_json, rep.job_id, rep.retry_after, rep.required,
                            rep.balance;
        RETURN;
    END IF;
    -- FOR SHARE: orders this against rv_audio_delete of the same audio.
    SELECT * INTO src FROM audios a WHERE a.id = p_source AND a.user_id = rv_uid() FOR SHARE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'source_not_found', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM rv_submit('voice_conversion', p_input, p_idem, p_available,
        p_token, p_voice, jsonb_build_object(
            'durationSeconds', round(COALESCE(src.duration_ms, 0) / 1000.0, 3),
            'source', jsonb_build_object('storageKey', src.storage_key,
                                         'contentType', src.content_type)));
END $$;
REVOKE ALL ON FUNCTION rv_conversion_submit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_conversion_submit TO reelvox_app, reelvox_poller;

-- Cloning a voice: the sample must be the request's user's audio of 10 s to 5 min;
-- then rv_submit and, when the job is created, the voice (pending; it follows its
-- job: trigger jobs_voice_clone, voices.sql). p_input: {name, sampleAudioId,
-- language, gender?}. The job's input gets the voice's id and, under "voice"
-- (hidden from users), the sample's storage key and the sample rate the provider
-- wants (admin_config providers.<provider>.cloneSampleRate, default 32000). Extra
-- status: audio_not_found | sample_too_short | sample_too_long. voice_json and
-- preview_key (its preview's storage key) when a voice was made or is the one of a
-- repeated key.
CREATE OR REPLACE FUNCTION rv_clone_submit(p_input jsonb, p_idem text, p_available text[],
                                           p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint, voice_json json, preview_key text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    rep record;
    s record;
    a audios;
    v voices;
    vid uuid := gen_random_uuid();
    cfg jsonb := (SELECT value FROM admin_config WHERE key = 'providers');
BEGIN
    SELECT * INTO rep
      FROM rv_submit_repeat('voice_clone', p_idem, rv_request_hash('voice_clone', p_input)) r;
    IF rep.status IS NOT NULL THEN
        SELECT * INTO v FROM voices x WHERE x.job_id = rep.job_id AND rep.status = 'repeated';
        RETURN QUERY SELECT rep.status, rep.job_json, rep.job_id, rep.retry_after, rep.required,
            rep.balance, CASE WHEN v.id IS NOT NULL THEN rv_voice_json(v) END,
            (SELECT storage_key FROM audios x WHERE x.id = v.preview_audio_id);
        RETURN;
    END IF;
    SELECT * INTO a FROM audios x
     WHERE x.id = (p_input ->> 'sampleAudioId')::uuid AND x.user_id = rv_uid();
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'audio_not_found', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint,
                            NULL::json, NULL::text;
        RETURN;
    END IF;
    IF COALESCE(a.duration_ms, 0) < 10000 OR a.duration_ms > 300000 THEN
        RETURN QUERY SELECT CASE WHEN COALESCE(a.duration_ms, 0) < 10000 THEN 'sample_too_short'
                                 ELSE 'sample_too_long' END,
                            NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint, NULL::json, NULL::text;
        RETURN;
    END IF;
    SELECT * INTO s FROM rv_submit('voice_clone', p_input, p_idem, p_available, p_token, NULL,
        jsonb_build_object('voiceId', vid,
                           'voice', jsonb_build_object('sampleKey', a.storage_key))) r;
    IF s.status = 'created' THEN
        UPDATE jobs x SET input = jsonb_set(x.input, '{voice,sampleRate}', to_jsonb(
                   COALESCE((cfg -> x.provider ->> 'cloneSampleRate')::integer, 32000)))
         WHERE x.id = s.job_id;
        INSERT INTO voices (id, user_id, name, status, is_cloned, language, gender,
                            sample_audio_id, job_id)
        VALUES (vid, rv_uid(), p_input ->> 'name', 'pending', true,
                COALESCE(p_input ->> 'language', 'en'), p_input ->> 'gender', a.id, s.job_id)
        RETURNING * INTO v;
    END IF;
    RETURN QUERY SELECT s.status, s.job_json, s.job_id, s.retry_after, s.required, s.balance,
        CASE WHEN v.id IS NOT NULL THEN rv_voice_json(v) END, NULL::text;
END $$;
REVOKE ALL ON FUNCTION rv_clone_submit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_clone_submit TO reelvox_app, reelvox_poller;

-- -------------------------------------------------------------- old signatures
-- The older submit functions, kept for callers as thin wrappers over rv_submit,
-- rv_conversion_submit and rv_clone_submit: p_user is ignored (the request's user
-- submits; a caller cannot submit or charge for someone else).
CREATE OR REPLACE FUNCTION rv_job_submit(p_user uuid, p_kind text, p_input jsonb, p_idem text,
                                         p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM rv_submit(p_kind, p_input, p_idem, p_available, p_token)
$$;
REVOKE ALL ON FUNCTION rv_job_submit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_submit TO reelvox_app;

CREATE OR REPLACE FUNCTION rv_tts_submit(p_user uuid, p_voice uuid, p_input jsonb, p_idem text,
                                         p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM rv_submit('tts', p_input, p_idem, p_available, p_token, p_voice)
$$;
REVOKE ALL ON FUNCTION rv_tts_submit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_tts_submit TO reelvox_app;

CREATE OR REPLACE FUNCTION rv_voice_conversion_submit(p_user uuid, p_source uuid, p_voice uuid,
                                                      p_input jsonb, p_idem text,
                                                      p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM rv_conversion_submit(p_source, p_voice, p_input, p_idem, p_available, p_token)
$$;
REVOKE ALL ON FUNCTION rv_voice_conversion_submit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_voice_conversion_submit TO reelvox_app;

CREATE OR REPLACE FUNCTION rv_voice_clone_submit(p_user uuid, p_input jsonb, p_idem text,
                                                 p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint, voice_json json, preview_key text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM rv_clone_submit(p_input, p_idem, p_available, p_token)
$$;
REVOKE ALL ON FUNCTION rv_voice_clone_submit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_voice_clone_submit TO reelvox_app;
