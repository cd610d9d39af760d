-- Least privilege and one submit path.
--
-- Roles. reelvox_owner (no login, not a superuser) owns every table, sequence and
-- function of the schema: SECURITY DEFINER functions run as it, never as a
-- superuser (scripts/migrate hands what later migrations make to it as well).
-- reelvox_app (the handlers) and reelvox_poller (the poller) each get EXECUTE on
-- their own functions only: a handler cannot move a job's state, a poller cannot
-- sign anybody in. Functions that act for a user take the user from the
-- transaction's context (rv_uid(): reelvox.user_id, which db.c sets per
-- transaction), never from a parameter; old signatures that carried p_user are kept
-- for callers and ignore it.
--
-- Submitting. rv_submit() is the one submit path of every kind: idempotency (the
-- key and a hash of the request, a different request under the same key is
-- refused), the per-user rate limit, the voice (rv_voice_usable, and its use
-- recorded only when the job is accepted), provider choice, the charge, the row and
-- the NOTIFY. rv_conversion_submit and rv_clone_submit add their own checks in
-- front of it and their rows after it. A refund is at most once by the ledger's
-- partial unique index credit_ledger_job_once (job_id, kind), whatever locks the
-- callers hold.

DO $$ BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reelvox_owner') THEN
        CREATE ROLE reelvox_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'reelvox_poller') THEN
        CREATE ROLE reelvox_poller LOGIN;
    END IF;
END $$;

-- Nobody but the owner creates objects in the schema (PostgreSQL 15 defaults to
-- this; a database upgraded from an older one does not).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO reelvox_owner;
GRANT USAGE ON SCHEMA public TO reelvox_poller;

-- --------------------------------------------------------------- idempotency keys
-- The hash of the request a key was first used with. Keys live on their job row:
-- kept as long as the job is (jobs are not purged; a user's go with the user), so at
-- least the 24 h API.md promises. Jobs made before this migration have no hash: a
-- repeat of their key is answered as before.
ALTER TABLE jobs ADD COLUMN request_hash text CHECK (request_hash ~ '^[0-9a-f]{64}$');

-- The hash a key is checked with: the kind and the request's parameters as the
-- handler bound them (defaults filled in), in jsonb's canonical text (keys sorted,
-- no insignificant whitespace), so key order and spacing of the body do not matter.
CREATE FUNCTION rv_request_hash(p_kind text, p_input jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT encode(sha256(convert_to(p_kind || E'\n' || p_input::text, 'UTF8')), 'hex')
$$;

-- ----------------------------------------------------------------------- voices
-- Whether the request's user may speak with a voice now: a preset or their own,
-- active, and (a clone) not past its expiry: Replicate forgets a cloned voice after
-- 7 days unused (rv_voice_json's expiresAt). Changes nothing: the submit records
-- the use once the job is accepted. status: ok | voice_not_found |
-- voice_not_active | voice_expired; v is the row when found.
CREATE FUNCTION rv_voice_usable(p_voice uuid, OUT status text, OUT v voices)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    SELECT * INTO v FROM voices x
     WHERE x.id = p_voice AND (x.user_id IS NULL OR x.user_id = rv_uid());
    IF NOT FOUND THEN
        status := 'voice_not_found';
    ELSIF v.status <> 'active' THEN
        status := 'voice_not_active';
    ELSIF v.is_cloned AND COALESCE(v.last_used_at, v.completed_at) + interval '7 days' < now() THEN
        status := 'voice_expired';
    ELSE
        status := 'ok';
    END IF;
END $$;

-- The old name, for callers: p_user is ignored (the request's user is used).
CREATE OR REPLACE FUNCTION rv_voice_active(p_user uuid, p_voice uuid, OUT status text,
                                           OUT v voices)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.status, u.v FROM rv_voice_usable(p_voice) u
$$;

-- ----------------------------------------------------------------------- submit
-- The request's user, or an error: every submit acts for rv_uid() only.
CREATE FUNCTION rv_uid_required() RETURNS uuid
LANGUAGE plpgsql STABLE AS $$
DECLARE
    uid uuid := rv_uid();
BEGIN
    IF uid IS NULL THEN
        RAISE EXCEPTION 'no user in the request context' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN uid;
END $$;

-- The first step of every submit: takes the user's lock (one submit at a time per
-- user: makes the rate limit and the idempotency exact) and answers a key used
-- before: 'repeated' with the job as it is now when the request is the same
-- (same kind, same hash), 'idempotency_conflict' when it is not. No row when the
-- key is new or absent.
CREATE FUNCTION rv_submit_repeat(p_kind text, p_idem text, p_hash text)
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

-- Submits a job of p_kind for the request's user, in one transaction.
-- p_input: the request's parameters (what the idempotency hash covers and the job
-- shows as its input); p_extra: members the caller derived (a conversion's source,
-- a clone's voice id), merged in after the hash. p_voice: the voice the job speaks
-- with, checked by rv_voice_usable; its provider ids go into input.voice (hidden
-- from users), a clone goes only to providers that know it, and its last use is
-- recorded when the job is created. p_available: providers this deployment has
-- keys for. status: created | repeated | idempotency_conflict | rate_limited |
-- insufficient | no_provider | voice_not_found | voice_not_active | voice_expired.
CREATE FUNCTION rv_submit(p_kind text, p_input jsonb, p_idem text, p_available text[],
                          p_token text, p_voice uuid DEFAULT NULL, p_extra jsonb DEFAULT '{}')
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
    avail text[] := p_available;
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
            avail := ARRAY(SELECT unnest(p_available)
                           INTERSECT SELECT jsonb_object_keys(v.provider_voice_ids));
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
    cost := rv_job_cost(p_kind, input);
    IF bal < cost THEN
        RETURN QUERY SELECT 'insufficient', NULL::json, NULL::uuid, 0, cost, bal;
        RETURN;
    END IF;
    INSERT INTO jobs (user_id, kind, input, provider, provider_model, callback_token,
                      deadline_at, cost_credits, idempotency_key, request_hash)
    VALUES (uid, p_kind, input, prov, cfg -> prov -> 'models' ->> p_kind, p_token,
            now() + make_interval(secs => COALESCE((cfg -> 'deadlines' ->> p_kind)::integer, 900)),
            cost, p_idem, CASE WHEN p_idem IS NOT NULL THEN hash END)
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

-- Voice conversion: the request's audio p_source spoken in p_voice. p_input:
-- {sourceAudioId, voiceId}. The job's input gains durationSeconds (job_costs
-- charges per second of the source) and the source's storage key (the poller
-- signs a link to it for the provider; hidden from users). A repeated key answers
-- the first job, whatever changed since. Extra status: source_not_found.
CREATE FUNCTION rv_conversion_submit(p_source uuid, p_voice uuid, p_input jsonb, p_idem text,
                                     p_available text[], p_token text)
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

-- Cloning a voice: the sample must be the request's user's audio of 10 s to 5 min;
-- then rv_submit and, when the job is created, the voice (pending; it follows its
-- job, see 004). p_input: {name, sampleAudioId, language, gender?}. The job's
-- input gets the voice's id and, under "voice" (hidden from users), the sample's
-- storage key and the sample rate the provider wants (admin_config
-- providers.<provider>.cloneSampleRate, default 32000). Extra status:
-- audio_not_found | sample_too_short | sample_too_long. voice_json and preview_key
-- (its preview's storage key) when a voice was made or is the one of a repeated key.
CREATE FUNCTION rv_clone_submit(p_input jsonb, p_idem text, p_available text[], p_token text)
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

-- The old submit functions, kept for callers as thin wrappers: p_user is ignored
-- (the request's user submits; a caller cannot submit or charge for someone else).
CREATE OR REPLACE FUNCTION rv_job_submit(p_user uuid, p_kind text, p_input jsonb, p_idem text,
                                         p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM rv_submit(p_kind, p_input, p_idem, p_available, p_token)
$$;

CREATE OR REPLACE FUNCTION rv_tts_submit(p_user uuid, p_voice uuid, p_input jsonb, p_idem text,
                                         p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM rv_submit('tts', p_input, p_idem, p_available, p_token, p_voice)
$$;

CREATE OR REPLACE FUNCTION rv_voice_conversion_submit(p_user uuid, p_source uuid, p_voice uuid,
                                                      p_input jsonb, p_idem text,
                                                      p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM rv_conversion_submit(p_source, p_voice, p_input, p_idem, p_available, p_token)
$$;

CREATE OR REPLACE FUNCTION rv_voice_clone_submit(p_user uuid, p_input jsonb, p_idem text,
                                                 p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint, voice_json json, preview_key text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM rv_clone_submit(p_input, p_idem, p_available, p_token)
$$;

-- ------------------------------------------------------------ cancel and refund
-- A user's cancel (any job's, for an admin). p_user is ignored: the request's user
-- cancels. status: ok | not_found | invalid_state.
CREATE OR REPLACE FUNCTION rv_job_cancel(p_user uuid, p_job uuid)
RETURNS TABLE (status text, job_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job AND (user_id = rv_uid() OR rv_role() = 'admin')
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    IF rv_job_terminal(j.status) THEN
        RETURN QUERY SELECT 'invalid_state', rv_job_json(j);
        RETURN;
    END IF;
    UPDATE jobs SET status = 'cancelled', completed_at = now(), locked_until = NULL,
                    error = '{"code": "cancelled", "message": "cancelled by the user"}',
                    cancel_at_provider = j.provider_job_id IS NOT NULL OR j.status = 'dispatching'
     WHERE id = p_job RETURNING * INTO j;
    PERFORM rv_job_refund(j.id);
    PERFORM pg_notify('reelvox_jobs', j.id::text);
    RETURN QUERY SELECT 'ok', rv_job_json(j);
END $$;

-- Gives a failed or cancelled job's credits back, at most once: the ledger's
-- unique index credit_ledger_job_once (job_id, kind) holds a second refund row
-- out, so a second call — concurrent or later, with or without the job's lock —
-- moves nothing (its balance change rolls back with the refused row).
CREATE OR REPLACE FUNCTION rv_job_refund(p_job uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs := (SELECT x FROM jobs x WHERE x.id = p_job);
BEGIN
    IF j.cost_credits > 0 AND j.status IN ('failed', 'cancelled') THEN
        BEGIN
            PERFORM rv_credit_move(j.user_id, j.cost_credits, 'job_refund',
                                   j.kind || ' job refund', j.id);
        EXCEPTION WHEN unique_violation THEN
            NULL; -- refunded already
        END;
    END IF;
END $$;

-- ------------------------------------------------------------------ voices, delete
-- As in 004, for the request's user (p_user is ignored).
CREATE OR REPLACE FUNCTION rv_voice_delete(p_user uuid, p_voice uuid)
RETURNS TABLE (status text, keys text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v voices;
    j jobs;
    gone text[] := '{}';
    aid uuid;
    k text;
BEGIN
    SELECT * INTO v FROM voices x
     WHERE x.id = p_voice AND (x.user_id IS NULL OR x.user_id = rv_uid() OR rv_role() = 'admin');
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::text[];
        RETURN;
    END IF;
    IF v.user_id IS NULL THEN
        RETURN QUERY SELECT 'forbidden', NULL::text[];
        RETURN;
    END IF;
    -- Locks in the order every job move takes them (the job, then through the
    -- trigger its voice), so a clone finishing meanwhile cannot deadlock with this.
    SELECT * INTO j FROM jobs x WHERE x.id = v.job_id FOR UPDATE;
    SELECT * INTO v FROM voices x WHERE x.id = p_voice FOR UPDATE; -- as it is now
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::text[]; -- deleted meanwhile
        RETURN;
    END IF;
    IF j.id IS NOT NULL AND NOT rv_job_terminal(j.status) THEN
        PERFORM * FROM rv_job_cancel(j.user_id, j.id);
    END IF;
    IF j.input -> 'voice' ->> 'fileKey' IS NOT NULL THEN
        gone := gone || (j.input -> 'voice' ->> 'fileKey');
    END IF;
    DELETE FROM voices WHERE id = v.id;
    FOREACH aid IN ARRAY ARRAY[v.sample_audio_id, v.preview_audio_id] LOOP
        IF aid IS NOT NULL AND NOT rv_audio_in_use(aid) THEN
            k := NULL;
            DELETE FROM audios x WHERE x.id = aid RETURNING x.storage_key INTO k;
            IF k IS NOT NULL THEN
                gone := gone || k;
            END IF;
        END IF;
    END LOOP;
    RETURN QUERY SELECT 'ok', gone;
END $$;

-- ------------------------------------------------------------------ accounts
-- The handlers no longer call rv_credit_move, rv_set_password or rv_session_start:
-- these wrappers check what the caller may do first.

-- Login's last step: starts a session for p_user only while the password hash the
-- handler checked the password against (p_checked_hash, from rv_login_lookup) is
-- still the user's: no session for a user whose password the caller did not check,
-- nor for one whose password changed in between. No row otherwise.
CREATE FUNCTION rv_login_session_start(p_user uuid, p_checked_hash text, p_token_hash text,
                                       p_ttl integer)
RETURNS TABLE (user_json json, role text, session_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM 1 FROM user_credentials c
      WHERE c.user_id = p_user AND c.password_hash = p_checked_hash FOR SHARE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM rv_session_start(p_user, p_token_hash, p_ttl);
END $$;

-- Login's rehash (new Argon2 parameters): replaces p_old_hash, the hash the
-- password was just checked against, and nothing else. Returns whether it did.
CREATE FUNCTION rv_login_rehash(p_user uuid, p_old_hash text, p_new_hash text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE user_credentials SET password_hash = p_new_hash, updated_at = now()
     WHERE user_id = p_user AND password_hash = p_old_hash;
    RETURN FOUND;
END $$;

-- A new password for the request's user (PATCH /api/me, after the handler checked
-- the current one); ends every other session of the user but p_keep.
CREATE FUNCTION rv_my_password_set(p_hash text, p_keep uuid)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM rv_set_password(rv_uid_required(), p_hash, p_keep);
END $$;

-- ------------------------------------------------------------------ privileges
REVOKE EXECUTE ON FUNCTION rv_request_hash, rv_voice_usable, rv_uid_required, rv_submit_repeat,
    rv_submit, rv_conversion_submit, rv_clone_submit, rv_login_session_start, rv_login_rehash,
    rv_my_password_set FROM PUBLIC;

-- The handlers: no poller function, no raw credit, password or session function.
REVOKE EXECUTE ON FUNCTION rv_credit_move, rv_set_password, rv_session_start, rv_voice_active,
    rv_audio_in_use, rv_job_refund,
    rv_jobs_claim, rv_jobs_due_checks, rv_job_lease, rv_job_running, rv_job_started_local,
    rv_provider_work_taken, rv_job_status, rv_job_release, rv_job_retry, rv_job_recheck,
    rv_job_fail, rv_job_succeed, rv_jobs_overdue, rv_jobs_to_cancel, rv_webhooks_pending,
    rv_webhooks_done, rv_voice_clone_prepared, rv_voice_clone_succeed FROM reelvox_app;
GRANT EXECUTE ON FUNCTION rv_submit, rv_conversion_submit, rv_clone_submit,
    rv_login_session_start, rv_login_rehash, rv_my_password_set TO reelvox_app;

-- The poller: its state moves, and submitting (the video chains submit speech jobs
-- for a user, whose id it sets as the transaction's reelvox.user_id).
GRANT EXECUTE ON FUNCTION
    rv_jobs_claim, rv_jobs_due_checks, rv_job_lease, rv_job_running, rv_job_started_local,
    rv_provider_work_taken, rv_job_status, rv_job_release, rv_job_retry, rv_job_recheck,
    rv_job_fail, rv_job_succeed, rv_jobs_overdue, rv_jobs_to_cancel, rv_webhooks_pending,
    rv_webhooks_done, rv_voice_clone_prepared, rv_voice_clone_succeed, rv_job_refund,
    rv_submit, rv_conversion_submit, rv_clone_submit TO reelvox_poller;

-- Handlers delete audios and voices only through rv_audio_delete and rv_voice_delete
-- (which keep what is still in use): no direct DELETE.
REVOKE DELETE ON audios, voices FROM reelvox_app;

-- Ownership: sql/owner.sql, which scripts/migrate runs after the numbered
-- migrations every time, gives every table, view, sequence and function of the
-- schema to reelvox_owner (so what later migrations make is covered too).
