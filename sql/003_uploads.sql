-- Uploads and voice conversion. A user's own audio files come in through nginx
-- (handlers/audios.c) and are recorded by rv_audio_upload(); one is deleted only
-- when nothing still needs it (rv_audio_delete); one can be spoken again in
-- another voice (rv_voice_conversion_submit, a job run by a provider).
-- The application role writes audios only through these functions.

-- Replicate's model for conversion: the source as a URL (`source_audio`) and the
-- target as a MiniMax voice id (`voice_id`), as our voices carry. A configuration
-- value: admins can point it elsewhere (the input mapping is in
-- common/providers/replicate.c).
UPDATE admin_config
   SET value = jsonb_set(value, '{replicate,models,voice_conversion}',
                         '"minimax/voice-conversion"'),
       updated_at = now()
 WHERE key = 'providers' AND jsonb_typeof(value #> '{replicate,models}') = 'object'
   AND NOT (value #> '{replicate,models}') ? 'voice_conversion';

-- The job as API.md shows it: as in 002, and a conversion's `source` (the storage
-- key the poller signs a link to for the provider) stays inside, like `voice`.
CREATE OR REPLACE FUNCTION rv_job_json(j jobs) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', j.id, 'kind', j.kind, 'status', j.status, 'progress', j.progress,
        'input', j.input - 'voice' - 'source',
        'error', CASE WHEN j.status IN ('failed', 'cancelled') THEN j.error END,
        'costCredits', j.cost_credits, 'provider', j.provider,
        'createdAt', rv_ts(j.created_at), 'startedAt', rv_ts(j.started_at),
        'completedAt', rv_ts(j.completed_at),
        'result', CASE WHEN j.status = 'succeeded' THEN j.output END))
$$;

-- Records an upload of the request's user (reelvox.user_id: never a parameter, so
-- no caller can file an upload under someone else). The file is already stored
-- under p_key; the handler removes it again when this fails.
CREATE FUNCTION rv_audio_upload(p_filename text, p_content_type text, p_bytes bigint,
                                p_duration_ms bigint, p_sample_rate integer,
                                p_channels integer, p_key text)
RETURNS TABLE (audio_json json, audio_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    a audios;
BEGIN
    IF rv_uid() IS NULL THEN
        RAISE EXCEPTION 'no user in the request context' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_content_type NOT IN ('audio/mpeg', 'audio/wav', 'audio/ogg', 'audio/webm',
                              'audio/flac') THEN
        RAISE EXCEPTION 'not an upload type: %', p_content_type USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO audios (user_id, filename, content_type, bytes, duration_ms, sample_rate,
                        channels, storage_key, source)
    VALUES (rv_uid(), p_filename, p_content_type, p_bytes, p_duration_ms, p_sample_rate,
            p_channels, p_key, 'upload')
    RETURNING * INTO a;
    RETURN QUERY SELECT rv_audio_json(a), a.id;
END $$;

-- Deletes an audio of the request's user (any, for an admin) unless something still
-- needs it: a voice's sample or preview, or a job that has not ended and reads it
-- (a conversion's source, a cloning's sample). The row lock orders this against a
-- submit that takes the audio (FOR SHARE there): whichever comes second sees the
-- other. status: ok | not_found | in_use; storage_key: the file to remove once
-- this has committed.
CREATE FUNCTION rv_audio_delete(p_audio uuid)
RETURNS TABLE (status text, storage_key text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    a audios;
BEGIN
    SELECT * INTO a FROM audios x
     WHERE x.id = p_audio AND (x.user_id = rv_uid() OR rv_role() = 'admin') FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::text;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM voices v
                WHERE v.sample_audio_id = a.id OR v.preview_audio_id = a.id)
       OR EXISTS (SELECT 1 FROM jobs j
                   WHERE j.user_id = a.user_id AND NOT rv_job_terminal(j.status)
                     AND a.id::text IN (j.input ->> 'sourceAudioId', j.input ->> 'sampleAudioId'))
    THEN
        RETURN QUERY SELECT 'in_use', NULL::text;
        RETURN;
    END IF;
    DELETE FROM audios x WHERE x.id = a.id;
    RETURN QUERY SELECT 'ok', a.storage_key;
END $$;

-- Voice conversion: the source must be the caller's audio, the voice a preset or
-- the caller's own, and active. The input gains durationSeconds (job_costs
-- charges per second of the source), the voice's provider ids and the source's
-- storage key (the poller signs a link to it for the provider; neither shows in
-- the job's JSON). Extra status: source_not_found | voice_not_found |
-- voice_not_active.
CREATE FUNCTION rv_voice_conversion_submit(p_user uuid, p_source uuid, p_voice uuid,
                                           p_input jsonb, p_idem text, p_available text[],
                                           p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    src audios;
    v voices;
    chk record;
BEGIN
    -- A repeated Idempotency-Key answers the first job, whatever changed since.
    IF p_idem IS NOT NULL AND EXISTS (SELECT 1 FROM jobs j
                                       WHERE j.user_id = p_user AND j.idempotency_key = p_idem)
    THEN
        RETURN QUERY SELECT * FROM rv_job_submit(p_user, 'voice_conversion', p_input, p_idem,
                                                 p_available, p_token);
        RETURN;
    END IF;
    SELECT * INTO src FROM audios a WHERE a.id = p_source AND a.user_id = p_user FOR SHARE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'source_not_found', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    SELECT * INTO chk FROM rv_voice_active(p_user, p_voice);
    IF chk.status <> 'ok' THEN
        RETURN QUERY SELECT chk.status, NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    v := chk.v;
    IF v.user_id IS NOT NULL THEN
        UPDATE voices x SET last_used_at = now() WHERE x.id = v.id;
    END IF;
    RETURN QUERY SELECT * FROM rv_job_submit(p_user, 'voice_conversion',
        p_input || jsonb_build_object(
            'durationSeconds', round(COALESCE(src.duration_ms, 0) / 1000.0, 3),
            'voice', jsonb_build_object('presetKey', v.preset_key,
                                        'providerVoiceIds', v.provider_voice_ids),
            'source', jsonb_build_object('storageKey', src.storage_key,
                                         'contentType', src.content_type)),
        p_idem, p_available, p_token);
END $$;

REVOKE EXECUTE ON FUNCTION rv_audio_upload, rv_audio_delete, rv_voice_conversion_submit
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rv_audio_upload, rv_audio_delete, rv_voice_conversion_submit
    TO reelvox_app;
