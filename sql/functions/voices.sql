-- Voices: presets and clones (see sql/002_jobs.sql for how a clone's voice follows
-- its job).

-- Cloned voices are forgotten by Replicate after 7 days unused: expiresAt says when.
CREATE OR REPLACE FUNCTION rv_voice_json(v voices) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', v.id, 'name', v.name, 'status', v.status, 'isCloned', v.is_cloned,
        'language', v.language, 'gender', v.gender, 'sampleAudioId', v.sample_audio_id,
        'error', v.error, 'createdAt', rv_ts(v.created_at), 'completedAt', rv_ts(v.completed_at),
        'lastUsedAt', rv_ts(v.last_used_at),
        'expiresAt', CASE WHEN v.is_cloned AND v.status = 'active'
                          THEN rv_ts(COALESCE(v.last_used_at, v.completed_at) + interval '7 days')
                     END))
$$;

-- Whether the request's user may speak with a voice now: a preset or their own,
-- active, and (a clone) not past its expiry: Replicate forgets a cloned voice after
-- 7 days unused (rv_voice_json's expiresAt). Changes nothing: the submit records
-- the use once the job is accepted. status: ok | voice_not_found |
-- voice_not_active | voice_expired; v is the row when found.
CREATE OR REPLACE FUNCTION rv_voice_usable(p_voice uuid, OUT status text, OUT v voices)
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
REVOKE ALL ON FUNCTION rv_voice_usable FROM PUBLIC, reelvox_app, reelvox_poller;

-- The old name, for callers: p_user is ignored (the request's user is used).
CREATE OR REPLACE FUNCTION rv_voice_active(p_user uuid, p_voice uuid, OUT status text,
                                           OUT v voices)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.status, u.v FROM rv_voice_usable(p_voice) u
$$;
REVOKE ALL ON FUNCTION rv_voice_active FROM PUBLIC, reelvox_app, reelvox_poller;

-- A clone's prepared sample: claimed when the job's input comes to name it.
CREATE OR REPLACE FUNCTION rv_voice_clone_prepared(p_job uuid, p_poller text, p_file jsonb)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE jobs SET input = jsonb_set(input, '{voice}', COALESCE(input -> 'voice', '{}') || p_file)
     WHERE id = p_job AND kind = 'voice_clone' AND status = 'dispatching' AND locked_by = p_poller;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM rv_storage_claim(p_file ->> 'fileKey');
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION rv_voice_clone_prepared FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_voice_clone_prepared TO reelvox_poller;

-- A clone succeeded: as rv_job_succeed (p_audio is the preview, already in our
-- storage), with the provider's voice id in the output; the trigger makes the
-- voice active. False when the job had already ended.
CREATE OR REPLACE FUNCTION rv_voice_clone_succeed(p_job uuid, p_audio jsonb, p_provider_job_id text,
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
REVOKE ALL ON FUNCTION rv_voice_clone_succeed FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_voice_clone_succeed TO reelvox_poller;

-- A clone's voice follows its job (the table of moves is above voices in
-- sql/002_jobs.sql), whatever code path moves the job.
CREATE OR REPLACE FUNCTION rv_voices_follow_job() RETURNS trigger
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
CREATE OR REPLACE TRIGGER jobs_voice_clone AFTER UPDATE OF status ON jobs FOR EACH ROW
    WHEN (NEW.kind = 'voice_clone' AND NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION rv_voices_follow_job();

-- Deleting a voice of the request's user (p_user is ignored). status: ok |
-- not_found (no such voice, or someone else's) | forbidden (a preset). A clone still
-- running is cancelled first (refunded; the poller stops the provider's work). keys:
-- storage keys of files to remove after the commit: the sample and the preview,
-- unless another row still uses them (rv_audio_in_use; their audios rows go too),
-- and the provider's copy of the sample.
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
REVOKE ALL ON FUNCTION rv_voice_delete FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_voice_delete TO reelvox_app;
