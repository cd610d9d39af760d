-- Files that a commit may or may not have come to reference.
--
-- A stored file is registered here before it is stored (rv_storage_pending), and
-- the commit that makes a row reference it removes the registration in the same
-- transaction (rv_storage_claim, called by rv_job_succeed and
-- rv_voice_clone_prepared). So after a failed or unknown commit the caller asks
-- rv_storage_release whether the file is referenced; the row lock taken by the claim
-- orders that question after the commit, whichever way it went. A file is deleted
-- only once it is marked `sweeping` here and nothing references it; a registration
-- left behind by a dead process is found by the poller's sweeper after a grace
-- period (rv_storage_sweep). A claim refuses a file being swept, so a process that
-- wakes up after the grace period cannot reference a file that is being deleted.

CREATE TABLE storage_pending (
    key        text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    sweeping   boolean NOT NULL DEFAULT false
);
CREATE INDEX storage_pending_age ON storage_pending (created_at);
ALTER TABLE storage_pending ENABLE ROW LEVEL SECURITY;

-- A clone's prepared sample is referenced from its job's input.
CREATE INDEX jobs_clone_file ON jobs ((input -> 'voice' ->> 'fileKey'))
    WHERE kind = 'voice_clone';

-- Whether any row refers to the file under p_key.
CREATE FUNCTION rv_storage_referenced(p_key text) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM audios WHERE storage_key = p_key)
        OR EXISTS (SELECT 1 FROM jobs
                    WHERE kind = 'voice_clone' AND input -> 'voice' ->> 'fileKey' = p_key)
$$;

-- Registers files about to be stored.
CREATE FUNCTION rv_storage_pending(p_keys text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO storage_pending (key) SELECT DISTINCT unnest(p_keys) ON CONFLICT DO NOTHING
$$;

-- Inside the transaction that makes a row reference p_key: takes the registration
-- away. Refuses (55000) a file that is not registered or is being swept: the caller's
-- transaction then rolls back and the file is dropped by its caller or the sweeper.
CREATE FUNCTION rv_storage_claim(p_key text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM storage_pending WHERE key = p_key AND NOT sweeping;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'stored file % is not registered or is being swept', p_key
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
END $$;

-- After a commit that failed, answered false, or whose answer was lost: 'delete'
-- when nothing refers to the file (it is now marked; delete it, then call
-- rv_storage_done), 'keep' when a row refers to it or it was never registered.
CREATE FUNCTION rv_storage_release(p_key text) RETURNS text
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

-- The files were deleted: forget them.
CREATE FUNCTION rv_storage_done(p_keys text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM storage_pending WHERE key = ANY (p_keys) AND sweeping
$$;

-- The sweeper: registrations older than p_grace seconds. Referenced ones are
-- forgotten; the others are marked and returned for deletion (with those a dead
-- process marked and never finished).
CREATE FUNCTION rv_storage_sweep(p_grace integer, p_limit integer)
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

-- Success claims the output file it records.
CREATE OR REPLACE FUNCTION rv_job_succeed(p_job uuid, p_audio jsonb, p_provider_job_id text DEFAULT NULL,
                                          p_output jsonb DEFAULT '{}')
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
    a uuid;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND OR rv_job_terminal(j.status) THEN
        RETURN false;
    END IF;
    PERFORM rv_storage_claim(p_audio ->> 'storageKey');
    INSERT INTO audios (user_id, filename, content_type, bytes, duration_ms, sample_rate,
                        channels, storage_key, source, job_id)
    VALUES (j.user_id, p_audio ->> 'filename', p_audio ->> 'contentType',
            (p_audio ->> 'bytes')::bigint, (p_audio ->> 'durationMs')::bigint,
            (p_audio ->> 'sampleRate')::integer, (p_audio ->> 'channels')::integer,
            p_audio ->> 'storageKey', 'generated', j.id)
    RETURNING id INTO a;
    UPDATE jobs SET status = 'succeeded', progress = 100, completed_at = now(),
                    started_at = COALESCE(started_at, now()),
                    provider_job_id = COALESCE(provider_job_id, p_provider_job_id),
                    locked_until = NULL, locked_by = NULL, error = NULL,
                    output = jsonb_build_object('audioId', a,
                                                'durationMs', (p_audio ->> 'durationMs')::bigint,
                                                'contentType', p_audio ->> 'contentType')
                             || p_output
     WHERE id = p_job;
    PERFORM pg_notify('reelvox_done', p_job::text);
    RETURN true;
END $$;

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

-- Work a provider did twice for one job: a create that timed out on our side and
-- landed at the provider after the job had been submitted again. The job keeps the
-- work it holds; the other is cancelled at the provider and recorded here.
CREATE TABLE provider_duplicates (
    provider        text NOT NULL,
    provider_job_id text NOT NULL,
    job_id          uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    found_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, provider_job_id)
);
ALTER TABLE provider_duplicates ENABLE ROW LEVEL SECURITY;

-- Whether p_provider_job_id is work other than what the job holds; if so, recorded.
CREATE FUNCTION rv_provider_duplicate(p_job uuid, p_provider_job_id text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job;
    IF NOT FOUND OR p_provider_job_id IS NULL OR j.provider_job_id IS NULL
       OR j.provider_job_id = p_provider_job_id OR j.provider = 'local' THEN
        RETURN false;
    END IF;
    INSERT INTO provider_duplicates (provider, provider_job_id, job_id)
    VALUES (j.provider, p_provider_job_id, p_job) ON CONFLICT DO NOTHING;
    RETURN true;
END $$;

-- As before, but work other than what the job already holds is not taken over: it
-- is recorded as a duplicate and 'duplicate' is returned (the caller cancels it).
CREATE OR REPLACE FUNCTION rv_job_running(p_job uuid, p_poller text, p_provider_job_id text,
                                          p_progress integer, p_check_in integer)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    st text;
BEGIN
    PERFORM 1 FROM jobs WHERE id = p_job FOR UPDATE; -- one mover at a time
    IF rv_provider_duplicate(p_job, p_provider_job_id) THEN
        RETURN 'duplicate';
    END IF;
    UPDATE jobs SET status = 'running',
                    provider_job_id = COALESCE(p_provider_job_id, provider_job_id),
                    progress = GREATEST(progress, p_progress),
                    started_at = COALESCE(started_at, now()),
                    run_at = now() + make_interval(secs => p_check_in),
                    locked_until = NULL, locked_by = NULL
     WHERE id = p_job AND status IN ('queued', 'dispatching', 'running')
       AND (locked_by IS NULL OR locked_by = p_poller OR locked_until < now())
    RETURNING status INTO st;
    IF st IS NULL THEN
        -- Ended meanwhile: still record whose work it is, so no other job adopts it.
        UPDATE jobs SET provider_job_id = p_provider_job_id
         WHERE id = p_job AND provider_job_id IS NULL AND p_provider_job_id IS NOT NULL
           AND rv_job_terminal(status);
        st := (SELECT status FROM jobs WHERE id = p_job);
    END IF;
    RETURN st;
END $$;

-- The inbox, now with the work each job holds (`held`), so an event of other work
-- is seen as a duplicate.
DROP FUNCTION rv_webhooks_pending(integer, text);
CREATE FUNCTION rv_webhooks_pending(p_limit integer, p_poller text)
RETURNS TABLE (event_id bigint, provider text, job_id uuid, payload jsonb, job_status text,
               kind text, user_id uuid, busy boolean, held text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e.id, e.provider, e.job_id, e.payload, j.status, j.kind, j.user_id, false,
           j.provider_job_id
      FROM webhook_events e LEFT JOIN jobs j ON j.id = e.job_id
     WHERE e.processed_at IS NULL
       AND NOT COALESCE(j.locked_until >= now() AND j.locked_by IS DISTINCT FROM p_poller, false)
     ORDER BY e.id LIMIT p_limit
$$;
REVOKE EXECUTE ON FUNCTION rv_webhooks_pending, rv_provider_duplicate FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rv_webhooks_pending, rv_provider_duplicate TO reelvox_app;

REVOKE EXECUTE ON FUNCTION rv_storage_referenced, rv_storage_pending, rv_storage_claim,
    rv_storage_release, rv_storage_done, rv_storage_sweep FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rv_storage_pending, rv_storage_release, rv_storage_done,
    rv_storage_sweep TO reelvox_app;
