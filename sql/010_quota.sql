-- Storage quota: how much a user may keep in storage, in bytes and in files, all
-- their audios together (uploads and generated ones). admin_config storage_quota
-- {"bytes": N, "files": N}; a missing or null field is no limit. It is checked
-- where an upload is recorded (rv_audio_upload), under a lock on the user's row,
-- so two uploads at once cannot both take the last free space. A job's output is
-- never refused for it: the credits for that work are already spent.
INSERT INTO admin_config (key, value) VALUES
    ('storage_quota', '{"bytes": 1073741824, "files": 1000}')
ON CONFLICT (key) DO NOTHING;

-- As in 003, with the quota check and an outcome: the return type changes (a
-- status, and the quota and usage for the answer), which CREATE OR REPLACE cannot
-- do, hence DROP and CREATE.
-- status: ok (audio_json, audio_id set; used_* include the new file) | over_quota
-- (nothing recorded; used_* as they are). quota_*: NULL when unlimited.
DROP FUNCTION rv_audio_upload(text, text, bigint, bigint, integer, integer, text);
CREATE FUNCTION rv_audio_upload(p_filename text, p_content_type text, p_bytes bigint,
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

REVOKE EXECUTE ON FUNCTION rv_audio_upload FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rv_audio_upload TO reelvox_app;
