-- Audio files: their JSON, uploads (with the storage quota) and deletion of what
-- nothing uses any more.

CREATE OR REPLACE FUNCTION rv_audio_json(a audios) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', a.id, 'filename', a.filename, 'contentType', a.content_type, 'bytes', a.bytes,
        'durationMs', a.duration_ms, 'sampleRate', a.sample_rate, 'channels', a.channels,
        'source', a.source, 'jobId', a.job_id, 'createdAt', rv_ts(a.created_at)))
$$;

-- Records an upload of the request's user (reelvox.user_id: never a parameter, so
-- no caller can file an upload under someone else), within the user's storage quota
-- (admin_config storage_quota), checked under a lock on the user's row so two
-- uploads at once cannot both take the last free space. The file is already stored
-- under p_key; the handler removes it again when it is not recorded.
-- status: ok (audio_json, audio_id set; used_* include the new file) | over_quota
-- (nothing recorded; used_* as they are). quota_*: NULL when unlimited.
CREATE OR REPLACE FUNCTION rv_audio_upload(p_filename text, p_content_type text, p_bytes bigint,
                                           p_duration_ms bigint, p_sample_rate integer,
                                           p_channels integer, p_key text)
RETURNS TABLE (status text, audio_json json, audio_id uuid, quota_bytes bigint,
               quota_files bigint, used_bytes bigint, used_files bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    a audios;
    q jsonb;
    max_bytes bigint;
    max_files bigint;
    n_bytes bigint;
    n_files bigint;
BEGIN
    IF rv_uid() IS NULL THEN
        RAISE EXCEPTION 'no user in the request context' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_content_type NOT IN ('audio/mpeg', 'audio/wav', 'audio/ogg', 'audio/webm',
                              'audio/flac') THEN
        RAISE EXCEPTION 'not an upload type: %', p_content_type USING ERRCODE = 'check_violation';
    END IF;
    -- One upload per user at a time from here to the commit: a second one waits
    -- for this lock, then (a new statement, a new snapshot) counts the first.
    PERFORM 1 FROM users u WHERE u.id = rv_uid() FOR NO KEY UPDATE;
    q := (SELECT c.value FROM admin_config c WHERE c.key = 'storage_quota');
    max_bytes := (q ->> 'bytes')::bigint;
    max_files := (q ->> 'files')::bigint;
    SELECT count(*), COALESCE(sum(x.bytes), 0) INTO n_files, n_bytes
      FROM audios x WHERE x.user_id = rv_uid();
    IF n_files + 1 > max_files OR n_bytes + p_bytes > max_bytes THEN
        RETURN QUERY SELECT 'over_quota', NULL::json, NULL::uuid, max_bytes, max_files,
                            n_bytes, n_files;
        RETURN;
    END IF;
    PERFORM rv_storage_claim(p_key); -- registered by the handler before it stored the file
    INSERT INTO audios (user_id, filename, content_type, bytes, duration_ms, sample_rate,
                        channels, storage_key, source)
    VALUES (rv_uid(), p_filename, p_content_type, p_bytes, p_duration_ms, p_sample_rate,
            p_channels, p_key, 'upload')
    RETURNING * INTO a;
    RETURN QUERY SELECT 'ok', rv_audio_json(a), a.id, max_bytes, max_files,
                        n_bytes + p_bytes, n_files + 1;
END $$;
REVOKE ALL ON FUNCTION rv_audio_upload FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_audio_upload TO reelvox_app;

-- Deletes an audio of the request's user (any, for an admin) unless something still
-- needs it: a voice's sample or preview, or a job that has not ended and reads it
-- (a conversion's source, a cloning's sample). The row lock orders this against a
-- submit that takes the audio (FOR SHARE there): whichever comes second sees the
-- other. status: ok | not_found | in_use; storage_key: the file to remove once
-- this has committed.
CREATE OR REPLACE FUNCTION rv_audio_delete(p_audio uuid)
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
REVOKE ALL ON FUNCTION rv_audio_delete FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_audio_delete TO reelvox_app;

-- Whether an audio is still used: referenced by any foreign key into audios (a
-- voice's sample or preview, a project's audio, whatever later tables declare), or
-- named as sampleAudioId / sourceAudioId by a job of its owner that has not ended.
-- A table that uses audios declares the foreign key and is respected here without
-- a change. (Single-column keys only; audios' own rows are not counted.)
CREATE OR REPLACE FUNCTION rv_audio_in_use(p_audio uuid) RETURNS boolean
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
REVOKE ALL ON FUNCTION rv_audio_in_use FROM PUBLIC, reelvox_app, reelvox_poller;
