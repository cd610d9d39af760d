-- Stored files whose reference is not yet committed (see storage_pending in
-- sql/002_jobs.sql). Registered and released by handlers (uploads) and the poller
-- alike; swept by the poller only.

-- Whether any row refers to the file under p_key.
CREATE OR REPLACE FUNCTION rv_storage_referenced(p_key text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM audios WHERE storage_key = p_key)
        OR EXISTS (SELECT 1 FROM jobs
                    WHERE kind = 'voice_clone' AND input -> 'voice' ->> 'fileKey' = p_key)
        OR EXISTS (SELECT 1 FROM images WHERE storage_key = p_key OR thumb_key = p_key)
        OR EXISTS (SELECT 1 FROM clips WHERE video_key = p_key OR poster_key = p_key)
        OR EXISTS (SELECT 1 FROM videos WHERE video_key = p_key OR poster_key = p_key)
        OR EXISTS (SELECT 1 FROM compilations WHERE video_key = p_key OR poster_key = p_key)
        OR EXISTS (SELECT 1 FROM music_tracks WHERE storage_key = p_key)
$$;
REVOKE ALL ON FUNCTION rv_storage_referenced FROM PUBLIC, reelvox_app, reelvox_poller;

-- Registers files about to be stored.
CREATE OR REPLACE FUNCTION rv_storage_pending(p_keys text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO storage_pending (key) SELECT DISTINCT unnest(p_keys) ON CONFLICT DO NOTHING
$$;
REVOKE ALL ON FUNCTION rv_storage_pending FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_storage_pending TO reelvox_app, reelvox_poller;

-- Inside the transaction that makes a row reference p_key: takes the registration
-- away. Refuses (55000) a file that is not registered or is being swept: the caller's
-- transaction then rolls back and the file is dropped by its caller or the sweeper.
CREATE OR REPLACE FUNCTION rv_storage_claim(p_key text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM storage_pending WHERE key = p_key AND NOT sweeping;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stored file % is not registered or is being swept', p_key
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END $$;
REVOKE ALL ON FUNCTION rv_storage_claim FROM PUBLIC, reelvox_app, reelvox_poller;

-- After a commit that failed, answered false, or whose answer was lost: 'delete'
-- when nothing refers to the file (it is now marked; delete it, then call
-- rv_storage_done), 'keep' when a row refers to it or it was never registered.
CREATE OR REPLACE FUNCTION rv_storage_release(p_key text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM 1 FROM storage_pending WHERE key = p_key FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'keep'; -- claimed by a commit, or not ours to judge
    END IF;
    IF rv_storage_referenced(p_key) THEN
        DELETE FROM storage_pending WHERE key = p_key;
        RETURN 'keep';
    END IF;
    UPDATE storage_pending SET sweeping = true WHERE key = p_key;
    RETURN 'delete';
END $$;
REVOKE ALL ON FUNCTION rv_storage_release FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_storage_release TO reelvox_app, reelvox_poller;

-- The files were deleted: forget them.
CREATE OR REPLACE FUNCTION rv_storage_done(p_keys text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM storage_pending WHERE key = ANY (p_keys) AND sweeping
$$;
REVOKE ALL ON FUNCTION rv_storage_done FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_storage_done TO reelvox_app, reelvox_poller;

-- The sweeper: registrations older than p_grace seconds. Referenced ones are
-- forgotten; the others are marked and returned for deletion (with those a dead
-- process marked and never finished).
CREATE OR REPLACE FUNCTION rv_storage_sweep(p_grace integer, p_limit integer)
RETURNS TABLE (key text) LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM storage_pending p
     WHERE p.key IN (SELECT s.key FROM storage_pending s
                      WHERE s.created_at < now() - make_interval(secs => p_grace)
                        AND NOT s.sweeping AND rv_storage_referenced(s.key)
                      ORDER BY s.created_at LIMIT p_limit FOR UPDATE SKIP LOCKED);
    RETURN QUERY
    UPDATE storage_pending p SET sweeping = true
     WHERE p.key IN (SELECT s.key FROM storage_pending s
                      WHERE s.created_at < now() - make_interval(secs => p_grace)
                      ORDER BY s.created_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
       AND (p.sweeping OR NOT rv_storage_referenced(p.key))
    RETURNING p.key;
END $$;
REVOKE ALL ON FUNCTION rv_storage_sweep FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_storage_sweep TO reelvox_poller;
