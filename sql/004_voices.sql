-- Cloned voices. A clone is a voice row (pending) and a voice_clone job, made in
-- one transaction by rv_voice_clone_submit. From then on the voice follows its job
-- (trigger rv_voices_follow_job), whatever code path moves the job:
--   job running                 → voice training
--   job back to queued (retry)  → voice pending
--   job succeeded               → voice active: the provider's voice id and the
--                                 preview audio come from the job's output, which
--                                 rv_voice_clone_succeed writes
--   job failed or cancelled     → voice failed, with the job's error message (the
--                                 job's credits are refunded once by rv_job_refund)
-- Deleting a voice (rv_voice_delete) cancels a clone still running, and removes the
-- sample and preview audio rows that no other row uses; the caller removes their
-- files after the commit.

ALTER TABLE voices
    ADD COLUMN job_id uuid REFERENCES jobs (id) ON DELETE SET NULL, -- the clone job
    ADD FOREIGN KEY (sample_audio_id) REFERENCES audios (id) ON DELETE SET NULL,
    ADD FOREIGN KEY (preview_audio_id) REFERENCES audios (id) ON DELETE SET NULL,
    ADD CHECK (gender IS NULL OR gender IN ('female', 'male', 'neutral')),
    ADD CHECK (NOT is_cloned OR user_id IS NOT NULL);
CREATE UNIQUE INDEX voices_job ON voices (job_id) WHERE job_id IS NOT NULL;
-- Foreign keys into audios are what rv_audio_in_use looks at: each is indexed.
CREATE INDEX voices_sample ON voices (sample_audio_id) WHERE sample_audio_id IS NOT NULL;
CREATE INDEX voices_preview ON voices (preview_audio_id) WHERE preview_audio_id IS NOT NULL;

-- Whether an audio is still used: referenced by any foreign key into audios (a
-- voice's sample or preview, a project's audio, whatever later tables declare), or
-- named as sampleAudioId / sourceAudioId by a job of its owner that has not ended.
-- A table that uses audios declares the foreign key and is respected here without
-- a change. (Single-column keys only; audios' own rows are not counted.)
CREATE FUNCTION rv_audio_in_use(p_audio uuid) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    fk record;
    used boolean;
    owner uuid := (SELECT user_id FROM audios WHERE id = p_audio);
BEGIN
    FOR fk IN
        SELECT c.conrelid::regclass AS tbl, a.attname AS col
          FROM pg_constraint c
          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         WHERE c.contype = 'f' AND c.confrelid = 'audios'::regclass
           AND c.conrelid <> 'audios'::regclass AND cardinality(c.conkey) = 1
    LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %I = $1)', fk.tbl, fk.col)
           INTO used USING p_audio;
        IF used THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN EXISTS (
        SELECT 1 FROM jobs
         WHERE user_id = owner AND status IN ('queued', 'dispatching', 'running')
           AND (input ->> 'sampleAudioId' = p_audio::text
                OR input ->> 'sourceAudioId' = p_audio::text));
END $$;

-- Cloning a voice, in one transaction: the sample must be the user's audio of 10 s to
-- 5 min; then everything rv_job_submit does (idempotency, rate limit, provider
-- choice, credits, NOTIFY) and, when the job is created, the voice. p_input:
-- {name, sampleAudioId, language, gender?}. The job's input gets the voice's id and,
-- under "voice" (never shown to users: rv_job_json drops it), what the poller
-- needs: the sample's storage key and the sample rate the provider wants
-- (admin_config providers.<provider>.cloneSampleRate, default 32000).
-- status: as rv_job_submit, or audio_not_found | sample_too_short | sample_too_long.
-- voice_json and preview_key (its preview's storage key) when a voice was made or
-- is the one of a repeated Idempotency-Key.
CREATE FUNCTION rv_voice_clone_submit(p_user uuid, p_input jsonb, p_idem text,
                                      p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint, voice_json json, preview_key text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    bal bigint;
    j jobs;
    a audios;
    v voices;
    s record;
    vid uuid := gen_random_uuid();
    cfg jsonb := (SELECT value FROM admin_config WHERE key = 'providers');
BEGIN
    -- The same lock rv_job_submit takes first: one submit at a time per user.
    SELECT credits INTO bal FROM users WHERE id = p_user FOR UPDATE;
    IF p_idem IS NOT NULL THEN
        SELECT * INTO j FROM jobs x WHERE x.user_id = p_user AND x.idempotency_key = p_idem;
        IF FOUND THEN
            SELECT * INTO v FROM voices x WHERE x.job_id = j.id;
            RETURN QUERY SELECT 'repeated', rv_job_json(j), j.id, 0, 0::bigint, bal,
                CASE WHEN v.id IS NOT NULL THEN rv_voice_json(v) END,
                (SELECT storage_key FROM audios x WHERE x.id = v.preview_audio_id);
            RETURN;
        END IF;
    END IF;
    SELECT * INTO a FROM audios x
     WHERE x.id = (p_input ->> 'sampleAudioId')::uuid AND x.user_id = p_user;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'audio_not_found', NULL::json, NULL::uuid, 0, 0::bigint, bal,
                            NULL::json, NULL::text;
        RETURN;
    END IF;
    IF COALESCE(a.duration_ms, 0) < 10000 OR a.duration_ms > 300000 THEN
        RETURN QUERY SELECT CASE WHEN COALESCE(a.duration_ms, 0) < 10000 THEN 'sample_too_short'
                                 ELSE 'sample_too_long' END,
                            NULL::json, NULL::uuid, 0, 0::bigint, bal, NULL::json, NULL::text;
        RETURN;
    END IF;
    SELECT * INTO s FROM rv_job_submit(p_user, 'voice_clone',
        p_input || jsonb_build_object('voiceId', vid,
                                      'voice', jsonb_build_object('sampleKey', a.storage_key)),
        p_idem, p_available, p_token) r;
    IF s.status = 'created' THEN
        UPDATE jobs x SET input = jsonb_set(x.input, '{voice,sampleRate}', to_jsonb(
                   COALESCE((cfg -> x.provider ->> 'cloneSampleRate')::integer, 32000)))
         WHERE x.id = s.job_id;
        INSERT INTO voices (id, user_id, name, status, is_cloned, language, gender,
                            sample_audio_id, job_id)
        VALUES (vid, p_user, p_input ->> 'name', 'pending', true,
                COALESCE(p_input ->> 'language', 'en'), p_input ->> 'gender', a.id, s.job_id)
        RETURNING * INTO v;
    END IF;
    RETURN QUERY SELECT s.status, s.job_json, s.job_id, s.retry_after, s.required, s.balance,
        CASE WHEN v.id IS NOT NULL THEN rv_voice_json(v) END, NULL::text;
END $$;

-- The poller made the provider's copy of the sample (normalised, stored): p_file
-- ({fileKey, fileUrl}) goes into the job's input.voice before the job is submitted,
-- so a retry reuses the file and a rescue finds the prediction by its input. Only
-- while this poller holds the job's dispatch; false otherwise (the caller drops a
-- file it just made).
CREATE FUNCTION rv_voice_clone_prepared(p_job uuid, p_poller text, p_file jsonb)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE jobs SET input = jsonb_set(input, '{voice}', COALESCE(input -> 'voice', '{}') || p_file)
     WHERE id = p_job AND kind = 'voice_clone' AND status = 'dispatching' AND locked_by = p_poller;
    RETURN FOUND;
END $$;

-- A clone succeeded: as rv_job_succeed (p_audio is the preview, already in our
-- storage), with the provider's voice id in the output; the trigger makes the
-- voice active. False when the job had already ended.
CREATE FUNCTION rv_voice_clone_succeed(p_job uuid, p_audio jsonb, p_provider_job_id text,
                                       p_provider_voice_id text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    voice text;
BEGIN
    SELECT input ->> 'voiceId' INTO voice FROM jobs WHERE id = p_job AND kind = 'voice_clone';
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    RETURN rv_job_succeed(p_job, p_audio, p_provider_job_id,
                          jsonb_build_object('voiceId', voice,
                                             'providerVoiceId', p_provider_voice_id));
END $$;

CREATE FUNCTION rv_voices_follow_job() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    CASE NEW.status
    WHEN 'queued' THEN
        UPDATE voices SET status = 'pending' WHERE job_id = NEW.id AND status = 'training';
    WHEN 'running' THEN
        UPDATE voices SET status = 'training' WHERE job_id = NEW.id AND status = 'pending';
    WHEN 'succeeded' THEN
        IF NEW.output ->> 'providerVoiceId' IS NULL THEN
            RAISE EXCEPTION 'voice_clone job % cannot succeed without the provider''s voice id '
                            '(use rv_voice_clone_succeed)', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
        UPDATE voices
           SET status = 'active', error = NULL, completed_at = now(),
               provider_voice_ids = provider_voice_ids
                                    || jsonb_build_object(NEW.provider, NEW.output ->> 'providerVoiceId'),
               preview_audio_id = (NEW.output ->> 'audioId')::uuid
         WHERE job_id = NEW.id;
    WHEN 'failed', 'cancelled' THEN
        UPDATE voices
           SET status = 'failed', completed_at = now(),
               error = COALESCE(NEW.error ->> 'message', 'the clone job was ' || NEW.status)
         WHERE job_id = NEW.id AND status IN ('pending', 'training');
    ELSE
        NULL;
    END CASE;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_voice_clone AFTER UPDATE OF status ON jobs FOR EACH ROW
    WHEN (NEW.kind = 'voice_clone' AND NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION rv_voices_follow_job();

-- Text to speech, as in 002, and: a cloned voice goes only to providers that know
-- it (the keys of its provider_voice_ids: not the local provider), one past its
-- expiry (7 days unused: Replicate has forgotten it) is refused, and last use is
-- recorded only when a job was created. Extra status: voice_not_found |
-- voice_not_active | voice_expired.
CREATE OR REPLACE FUNCTION rv_tts_submit(p_user uuid, p_voice uuid, p_input jsonb, p_idem text,
                                         p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v voices;
    chk record;
    s record;
    avail text[] := p_available;
BEGIN
    SELECT * INTO chk FROM rv_voice_active(p_user, p_voice);
    IF chk.status <> 'ok' THEN
        RETURN QUERY SELECT chk.status, NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    v := chk.v;
    IF v.is_cloned THEN
        IF COALESCE(v.last_used_at, v.completed_at) + interval '7 days' < now() THEN
            RETURN QUERY SELECT 'voice_expired', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint;
            RETURN;
        END IF;
        avail := ARRAY(SELECT unnest(p_available)
                       INTERSECT SELECT jsonb_object_keys(v.provider_voice_ids));
    END IF;
    SELECT * INTO s FROM rv_job_submit(p_user, 'tts',
        p_input || jsonb_build_object('voice', jsonb_build_object(
            'presetKey', v.preset_key, 'providerVoiceIds', v.provider_voice_ids)),
        p_idem, avail, p_token) r;
    IF s.status = 'created' AND v.user_id IS NOT NULL THEN
        UPDATE voices SET last_used_at = now() WHERE id = v.id;
    END IF;
    RETURN QUERY SELECT s.status, s.job_json, s.job_id, s.retry_after, s.required, s.balance;
END $$;

-- Deleting a voice. status: ok | not_found (no such voice, or someone else's) |
-- forbidden (a preset). A clone still running is cancelled first (refunded; the
-- poller stops the provider's work). keys: storage keys of files to remove after
-- the commit: the sample and the preview, unless another row still uses them
-- (rv_audio_in_use; their audios rows go too), and the provider's copy of the
-- sample.
CREATE FUNCTION rv_voice_delete(p_user uuid, p_voice uuid)
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
     WHERE x.id = p_voice AND (x.user_id IS NULL OR x.user_id = p_user OR rv_role() = 'admin');
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

REVOKE EXECUTE ON FUNCTION rv_audio_in_use, rv_voice_clone_submit, rv_voice_clone_prepared,
    rv_voice_clone_succeed, rv_voice_delete FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rv_audio_in_use, rv_voice_clone_submit, rv_voice_clone_prepared,
    rv_voice_clone_succeed, rv_voice_delete TO reelvox_app;
