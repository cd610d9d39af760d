-- The render engine's functions: the poller's side of a video job (progress,
-- success with the video and poster claimed), music tracks, compilations. All
-- plpgsql: this file runs before storage.sql and submit.sql, whose functions
-- these call.

-- ------------------------------------------------------------------ video jobs

-- A local render's progress, throttled by the caller; never backwards, only while
-- the caller's poller holds the job, whose lease it keeps two minutes ahead (a
-- render may outlast the claim's lease; a dead one stops renewing it and is
-- rescued). False once the job has ended (cancelled, or taken from this poller):
-- the render may stop.
CREATE OR REPLACE FUNCTION rv_job_progress(p_job uuid, p_poller text, p_progress integer)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE jobs SET progress = LEAST(99, GREATEST(progress, p_progress)),
                    locked_until = GREATEST(locked_until, now() + interval '2 minutes')
     WHERE id = p_job AND status = 'running' AND locked_by = p_poller;
    RETURN FOUND;
END $$;
REVOKE ALL ON FUNCTION rv_job_progress FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_progress TO reelvox_poller;

-- A video job's success: its video and poster are in storage already (p_output:
-- {videoKey, posterKey, durationMs, bytes, width, height, contentType}); their
-- registrations are claimed here (rv_storage_claim), so the files stay exactly when
-- this commits. A compilation gets its video. Returns false when the job was
-- already terminal (the caller then drops the files).
CREATE OR REPLACE FUNCTION rv_video_job_succeed(p_job uuid, p_output jsonb)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND OR rv_job_terminal(j.status) THEN
        RETURN false;
    END IF;
    IF j.kind = 'video_render' THEN -- a narrated explainer's: its video and chain too
        RETURN rv_explainer_step_succeed(p_job, p_output, NULL);
    END IF;
    IF p_output ->> 'videoKey' IS NULL OR p_output ->> 'posterKey' IS NULL THEN
        RAISE EXCEPTION 'a video output names its video and poster' USING ERRCODE = 'check_violation';
    END IF;
    PERFORM rv_storage_claim(p_output ->> 'videoKey');
    PERFORM rv_storage_claim(p_output ->> 'posterKey');
    UPDATE jobs SET status = 'succeeded', progress = 100, completed_at = now(),
                    started_at = COALESCE(started_at, now()),
                    locked_until = NULL, locked_by = NULL, error = NULL, output = p_output
     WHERE id = p_job;
    IF j.kind = 'video_compile' THEN
        UPDATE compilations SET video_key = p_output ->> 'videoKey',
                                poster_key = p_output ->> 'posterKey',
                                duration_ms = (p_output ->> 'durationMs')::bigint,
                                bytes = (p_output ->> 'bytes')::bigint, updated_at = now()
         WHERE job_id = p_job;
    END IF;
    PERFORM pg_notify('reelvox_done', p_job::text);
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION rv_video_job_succeed FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_video_job_succeed TO reelvox_poller;

-- ------------------------------------------------------------------ music tracks

-- A track as API.md shows it; `url` is added by the handler (last member).
CREATE OR REPLACE FUNCTION rv_music_track_json(t music_tracks) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN json_build_object('id', t.id, 'title', t.title, 'durationMs', t.duration_ms);
END $$;

-- An admin adds a track; the file is stored under p_key already (registered by the
-- handler, claimed here); audited. status: ok | forbidden.
CREATE OR REPLACE FUNCTION rv_music_track_add(p_title text, p_content_type text, p_bytes bigint,
                                              p_duration_ms bigint, p_key text)
RETURNS TABLE (status text, track_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t music_tracks;
BEGIN
    IF rv_uid() IS NULL OR rv_role() IS DISTINCT FROM 'admin' THEN
        RETURN QUERY SELECT 'forbidden', NULL::json;
        RETURN;
    END IF;
    PERFORM rv_storage_claim(p_key);
    INSERT INTO music_tracks (title, content_type, bytes, duration_ms, storage_key, source,
                              created_by)
    VALUES (p_title, p_content_type, p_bytes, p_duration_ms, p_key, 'upload', rv_uid())
    RETURNING * INTO t;
    PERFORM rv_audit('music_track.add', t.id::text, NULL,
                     jsonb_build_object('title', t.title, 'durationMs', t.duration_ms));
    RETURN QUERY SELECT 'ok', rv_music_track_json(t);
END $$;
REVOKE ALL ON FUNCTION rv_music_track_add FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_music_track_add TO reelvox_app;

-- An admin removes a track, unless a compilation that has not ended plays it;
-- audited. status: ok | forbidden | not_found | in_use; storage_key: the file to remove
-- once this has committed. Finished compilations keep their rendered video.
CREATE OR REPLACE FUNCTION rv_music_track_delete(p_track uuid)
RETURNS TABLE (status text, storage_key text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t music_tracks;
BEGIN
    IF rv_uid() IS NULL OR rv_role() IS DISTINCT FROM 'admin' THEN
        RETURN QUERY SELECT 'forbidden', NULL::text;
        RETURN;
    END IF;
    SELECT * INTO t FROM music_tracks x WHERE x.id = p_track FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::text;
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM jobs j
                WHERE j.kind = 'video_compile' AND NOT rv_job_terminal(j.status)
                  AND j.input -> 'source' -> 'music' ->> 'trackId' = p_track::text) THEN
        RETURN QUERY SELECT 'in_use', NULL::text;
        RETURN;
    END IF;
    DELETE FROM music_tracks x WHERE x.id = t.id;
    PERFORM rv_audit('music_track.delete', t.id::text,
                     jsonb_build_object('title', t.title, 'durationMs', t.duration_ms), NULL);
    RETURN QUERY SELECT 'ok', t.storage_key;
END $$;
REVOKE ALL ON FUNCTION rv_music_track_delete FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_music_track_delete TO reelvox_app;

-- ------------------------------------------------------------------ compilations

-- A compilation as API.md shows it (status and progress are its job's, dispatching
-- shown as queued, as for clips); `url` and `posterUrl` are added by the handler.
CREATE OR REPLACE FUNCTION rv_compilation_json(c compilations, j jobs) RETURNS json
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN json_strip_nulls(json_build_object(
        'id', c.id, 'projectId', c.project_id, 'clipIds', to_json(c.clip_ids),
        'musicTrackId', c.music_track_id, 'transition', c.transition,
        'transitionSeconds', round(c.transition_ms / 1000.0, 3), 'musicVolume', c.music_volume,
        'status', CASE j.status WHEN 'dispatching' THEN 'queued' ELSE j.status END,
        'progress', j.progress, 'durationMs', c.duration_ms,
        'bytes', c.bytes, 'jobId', c.job_id, 'createdAt', rv_ts(c.created_at)));
END $$;

-- Compiles clips of the request's user into one video: a video_compile job through
-- rv_submit and, when it is created, the compilation row. p_input (what the
-- idempotency hash covers): {projectId, clipIds, musicTrackId?, transition,
-- transitionSeconds, musicVolume}. Each clip must be the user's, in that project
-- (else clip_not_found), done (its job succeeded with a video: clip_not_ready) and
-- approved (clip_not_approved); the music track must exist (music_not_found). The
-- job's input gains, hidden from users under `source`, the clips' and the track's
-- storage keys, and durationSeconds (the expected length, for a perSecond cost).
-- Extra statuses: project_not_found | clip_not_found | clip_not_ready |
-- clip_not_approved | music_not_found (with bad_id: the first such id).
CREATE OR REPLACE FUNCTION rv_compilation_submit(p_input jsonb, p_idem text, p_available text[],
                                                 p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint, compilation_json json, bad_id text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_uid_required();
    rep record;
    s record;
    c compilations;
    j jobs;
    m music_tracks;
    cid uuid := gen_random_uuid();
    ids uuid[] := ARRAY(SELECT x::uuid FROM jsonb_array_elements_text(p_input -> 'clipIds') x);
    project uuid := (p_input ->> 'projectId')::uuid;
    trans_ms integer := round((p_input ->> 'transitionSeconds')::numeric * 1000);
    clips jsonb := '[]';
    total_ms bigint := 0;
    r record;
BEGIN
    SELECT * INTO rep FROM rv_submit_repeat('video_compile', p_idem,
                                            rv_request_hash('video_compile', p_input)) x;
    IF rep.status IS NOT NULL THEN
        SELECT * INTO c FROM compilations x WHERE x.job_id = rep.job_id;
        SELECT * INTO j FROM jobs x WHERE x.id = rep.job_id;
        RETURN QUERY SELECT rep.status, rep.job_json, rep.job_id, rep.retry_after, rep.required,
            rep.balance, CASE WHEN c.id IS NOT NULL THEN rv_compilation_json(c, j) END, NULL::text;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = project AND p.user_id = uid) THEN
        RETURN QUERY SELECT 'project_not_found', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint,
                            NULL::json, project::text;
        RETURN;
    END IF;
    -- Each clip in the order given (one may come twice), with its job: FOR SHARE
    -- orders this against a clip being deleted or changed meanwhile.
    FOR r IN
        SELECT o.id AS want, x.id, x.approved, x.project_id, y.status AS job_status,
               COALESCE(x.video_key, y.output ->> 'videoKey') AS video_key,
               COALESCE(x.duration_ms, (y.output ->> 'durationMs')::bigint) AS duration_ms
          FROM unnest(ids) WITH ORDINALITY o (id, n)
          LEFT JOIN clips x ON x.id = o.id AND x.user_id = uid AND x.project_id = project
          LEFT JOIN jobs y ON y.id = x.job_id
         ORDER BY o.n
    LOOP
        IF r.id IS NULL THEN
            RETURN QUERY SELECT 'clip_not_found', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint,
                                NULL::json, r.want::text;
            RETURN;
        END IF;
        IF r.job_status IS DISTINCT FROM 'succeeded' OR r.video_key IS NULL THEN
            RETURN QUERY SELECT 'clip_not_ready', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint,
                                NULL::json, r.want::text;
            RETURN;
        END IF;
        IF NOT r.approved THEN
            RETURN QUERY SELECT 'clip_not_approved', NULL::json, NULL::uuid, 0, 0::bigint,
                                0::bigint, NULL::json, r.want::text;
            RETURN;
        END IF;
        clips := clips || jsonb_build_array(jsonb_build_object(
            'clipId', r.id, 'videoKey', r.video_key, 'durationMs', r.duration_ms));
        total_ms := total_ms + COALESCE(r.duration_ms, 0);
    END LOOP;
    PERFORM 1 FROM clips x WHERE x.id = ANY (ids) FOR SHARE;
    IF p_input ->> 'musicTrackId' IS NOT NULL THEN
        SELECT * INTO m FROM music_tracks x WHERE x.id = (p_input ->> 'musicTrackId')::uuid
           FOR SHARE;
        IF NOT FOUND THEN
            RETURN QUERY SELECT 'music_not_found', NULL::json, NULL::uuid, 0, 0::bigint,
                                0::bigint, NULL::json, p_input ->> 'musicTrackId';
            RETURN;
        END IF;
    END IF;
    IF p_input ->> 'transition' <> 'none' THEN
        total_ms := total_ms - (cardinality(ids) - 1) * trans_ms;
    END IF;
    SELECT * INTO s FROM rv_submit('video_compile', p_input, p_idem, p_available, p_token, NULL,
        jsonb_build_object(
            'compilationId', cid,
            'durationSeconds', round(GREATEST(total_ms, 0) / 1000.0, 3),
            'source', jsonb_build_object(
                'clips', clips,
                'music', CASE WHEN m.id IS NOT NULL THEN jsonb_build_object(
                    'trackId', m.id, 'storageKey', m.storage_key, 'durationMs', m.duration_ms)
                END))) x;
    IF s.status = 'created' THEN
        INSERT INTO compilations (id, user_id, project_id, job_id, clip_ids, music_track_id,
                                  transition, transition_ms, music_volume)
        VALUES (cid, uid, project, s.job_id, ids, m.id, p_input ->> 'transition', trans_ms,
                (p_input ->> 'musicVolume')::numeric)
        RETURNING * INTO c;
        SELECT * INTO j FROM jobs x WHERE x.id = s.job_id;
    END IF;
    RETURN QUERY SELECT s.status, s.job_json, s.job_id, s.retry_after, s.required, s.balance,
        CASE WHEN c.id IS NOT NULL THEN rv_compilation_json(c, j) END, NULL::text;
END $$;
REVOKE ALL ON FUNCTION rv_compilation_submit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_compilation_submit TO reelvox_app;

-- Deletes a compilation of the request's user (any, for an admin); its job is
-- cancelled and refunded first when it has not ended. status: ok | not_found;
-- video_key, poster_key: the files to remove once this has committed.
CREATE OR REPLACE FUNCTION rv_compilation_delete(p_compilation uuid)
RETURNS TABLE (status text, video_key text, poster_key text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    c compilations;
BEGIN
    SELECT * INTO c FROM compilations x
     WHERE x.id = p_compilation AND (x.user_id = rv_uid() OR rv_role() = 'admin') FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::text, NULL::text;
        RETURN;
    END IF;
    IF NOT rv_job_terminal(rv_job_status(c.job_id)) THEN
        PERFORM rv_job_cancel(NULL, c.job_id);
    END IF;
    DELETE FROM compilations x WHERE x.id = c.id;
    RETURN QUERY SELECT 'ok', c.video_key, c.poster_key;
END $$;
REVOKE ALL ON FUNCTION rv_compilation_delete FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_compilation_delete TO reelvox_app;

-- A track synthesised at set-up time (`poller --seed-music`): filed as 'generated'
-- under its title, each title once. The file is stored under p_key already and
-- registered; claimed here. False when the title is there already (the caller
-- then drops its file).
CREATE OR REPLACE FUNCTION rv_music_seed(p_title text, p_content_type text, p_bytes bigint,
                                         p_duration_ms bigint, p_key text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('rv_music_seed'));
    IF EXISTS (SELECT 1 FROM music_tracks WHERE source = 'generated' AND title = p_title) THEN
        RETURN false;
    END IF;
    PERFORM rv_storage_claim(p_key);
    INSERT INTO music_tracks (title, content_type, bytes, duration_ms, storage_key, source)
    VALUES (p_title, p_content_type, p_bytes, p_duration_ms, p_key, 'generated');
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION rv_music_seed FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_music_seed TO reelvox_poller;

-- The titles of the tracks made at set-up time so far (the poller reads no table).
CREATE OR REPLACE FUNCTION rv_music_seeded() RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY SELECT title FROM music_tracks WHERE source = 'generated';
END $$;
REVOKE ALL ON FUNCTION rv_music_seeded FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_music_seeded TO reelvox_poller;
