-- Narrated explainer videos: the video as API.md shows it, its steps (script,
-- narration, images, render) submitted by hand or chained, their outcomes written
-- in the transaction in which their job succeeds, and batches. Tables: 006_videos.sql.

-- The video as API.md shows it, with the storage keys of its files still inside
-- (storageKey of each image, videoKey, posterKey): common/videos.c signs links to
-- them and takes the keys out.
CREATE OR REPLACE FUNCTION rv_video_json(v videos) RETURNS json
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', v.id, 'projectId', v.project_id, 'batchId', v.batch_id, 'title', v.title,
        'topic', v.topic, 'language', v.language, 'targetSeconds', v.target_seconds,
        'voiceId', v.voice_id, 'style', v.style, 'status', v.status, 'progress', v.progress,
        'step', v.step, 'jobId', v.job_id,
        'sections', COALESCE((SELECT json_agg(json_strip_nulls(json_build_object(
                'position', s.position, 'heading', s.heading, 'content', s.content,
                'startMs', s.start_ms, 'endMs', s.end_ms, 'words', s.words,
                'wordsEstimated', CASE WHEN s.words IS NOT NULL THEN s.words_estimated END))
                ORDER BY s.position) FROM video_sections s WHERE s.video_id = v.id), '[]'),
        'images', COALESCE((SELECT json_agg(json_strip_nulls(json_build_object(
                'position', i.position, 'imageId', i.image_id, 'prompt', i.prompt,
                'attribution', i.attribution, 'startMs', i.start_ms,
                'durationMs', i.duration_ms, 'storageKey', m.storage_key))
                ORDER BY i.position)
                FROM video_images i LEFT JOIN images m ON m.id = i.image_id
               WHERE i.video_id = v.id), '[]'),
        'narrationAudioId', v.narration_audio_id, 'durationMs', v.duration_ms,
        'bytes', v.bytes, 'error', CASE WHEN v.status = 'failed' THEN v.error END,
        'createdAt', rv_ts(v.created_at), 'updatedAt', rv_ts(v.updated_at),
        'videoKey', v.video_key, 'posterKey', v.poster_key))
$$;
REVOKE ALL ON FUNCTION rv_video_json FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_video_json TO reelvox_app, reelvox_poller;

-- The cost of one step of kind, as a job of it would be charged.
CREATE OR REPLACE FUNCTION rv_video_step_cost(p_kind text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT rv_job_cost(p_kind, '{}'::jsonb)
$$;

-- Replaces a video's sections with p_sections ([{heading?, content}], checked by
-- the caller: the handler's bind or the script job's own check). Any timing of an
-- earlier narration goes with the old sections; images stay.
CREATE OR REPLACE FUNCTION rv_video_sections_set(p_video uuid, p_sections jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM video_sections WHERE video_id = p_video;
    INSERT INTO video_sections (video_id, position, heading, content)
    SELECT p_video, e.n, COALESCE(e.s ->> 'heading', ''), e.s ->> 'content'
      FROM jsonb_array_elements(p_sections) WITH ORDINALITY AS e(s, n);
    UPDATE videos SET narration_audio_id = NULL, narration_ms = NULL, updated_at = now()
     WHERE id = p_video;
END $$;
REVOKE ALL ON FUNCTION rv_video_sections_set FROM PUBLIC, reelvox_app, reelvox_poller;

-- ------------------------------------------------------------------ chains
-- Starts the next pending step of p_video's chain: its job is made here (paid from
-- the batch's hold: cost 0), the step goes running, the video shows it. A chain
-- with no pending step left is done (the video ready). Returns the job id or NULL.
-- Only ever called in the transaction that ended the previous step (or made the
-- chain), under the video's row lock: no step is started twice.
CREATE OR REPLACE FUNCTION rv_video_chain_next(p_video uuid) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v videos;
    s video_steps;
    j jobs;
    prov text;
    cfg jsonb := (SELECT value FROM admin_config WHERE key = 'providers');
    input jsonb;
BEGIN
    SELECT * INTO v FROM videos WHERE id = p_video FOR UPDATE;
    SELECT * INTO s FROM video_steps WHERE video_id = p_video AND status = 'pending'
     ORDER BY position LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT p INTO prov FROM jsonb_array_elements_text(cfg -> 'kinds' -> s.kind) p LIMIT 1;
    input := s.input || jsonb_build_object('videoId', p_video) || rv_video_render_source(s.input);
    IF s.kind = 'narration' THEN
        input := input || jsonb_build_object('voice', (SELECT jsonb_build_object(
            'presetKey', x.preset_key, 'providerVoiceIds', x.provider_voice_ids,
            'speechModel', cfg -> 'replicate' -> 'models' -> 'tts')
            FROM voices x WHERE x.id = (s.input ->> 'voiceId')::uuid));
    END IF;
    INSERT INTO jobs (user_id, kind, input, provider, provider_model, callback_token,
                      deadline_at, cost_credits)
    VALUES (v.user_id, s.kind, input, COALESCE(prov, 'local'),
            cfg -> COALESCE(prov, 'local') -> 'models' ->> s.kind,
            replace(gen_random_uuid()::text, '-', ''),
            now() + make_interval(secs => COALESCE((cfg -> 'deadlines' ->> s.kind)::integer, 900)),
            0)
    RETURNING * INTO j;
    UPDATE video_steps SET status = 'running', job_id = j.id
     WHERE video_id = p_video AND position = s.position;
    UPDATE videos SET status = rv_video_status_of(s.kind), step = s.kind, job_id = j.id,
                      error = NULL, updated_at = now(),
                      progress = GREATEST(progress, ((s.position - 1) * 100 /
                          GREATEST((SELECT count(*) FROM video_steps x WHERE x.video_id = p_video), 1))::integer)
     WHERE id = p_video;
    PERFORM pg_notify('reelvox_jobs', j.id::text);
    RETURN j.id;
END $$;
REVOKE ALL ON FUNCTION rv_video_chain_next FROM PUBLIC, reelvox_app, reelvox_poller;

-- What a render's input adds for the poller (hidden from users: `source`): the
-- music track's storage key.
CREATE OR REPLACE FUNCTION rv_video_render_source(p_input jsonb) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT COALESCE((SELECT jsonb_build_object('source', jsonb_build_object('music',
                         jsonb_build_object('storageKey', t.storage_key)))
                       FROM music_tracks t WHERE t.id = (p_input ->> 'musicTrackId')::uuid), '{}')
$$;
REVOKE ALL ON FUNCTION rv_video_render_source FROM PUBLIC, reelvox_app, reelvox_poller;

-- The video status while a step of kind runs.
CREATE OR REPLACE FUNCTION rv_video_status_of(p_kind text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_kind WHEN 'script' THEN 'scripting' WHEN 'narration' THEN 'narrating'
                       WHEN 'images' THEN 'imaging' WHEN 'video_render' THEN 'rendering' END
$$;

-- A chain stopped (a step failed or was cancelled, or the batch was cancelled): the
-- steps not done are given up and what they held goes back (batch_release), once:
-- a step's cost is released only while it moves from pending or running.
CREATE OR REPLACE FUNCTION rv_video_chain_stop(p_video uuid, p_status text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v videos;
    b batches;
    back bigint;
BEGIN
    SELECT * INTO v FROM videos WHERE id = p_video FOR UPDATE;
    WITH gone AS (
        UPDATE video_steps SET status = CASE status WHEN 'running' THEN p_status
                                                    ELSE 'cancelled' END
         WHERE video_id = p_video AND status IN ('pending', 'running')
        RETURNING cost)
    SELECT COALESCE(sum(cost), 0) INTO back FROM gone;
    IF back > 0 AND v.batch_id IS NOT NULL THEN
        UPDATE batches SET released_credits = released_credits + back, updated_at = now()
         WHERE id = v.batch_id RETURNING * INTO b;
        PERFORM rv_credit_move(b.user_id, back, 'batch_release',
                               'video steps not done: ' || left(v.title, 120));
    END IF;
    PERFORM rv_batch_settle(v.batch_id);
END $$;
REVOKE ALL ON FUNCTION rv_video_chain_stop FROM PUBLIC, reelvox_app, reelvox_poller;

-- A batch whose videos have all ended is done.
CREATE OR REPLACE FUNCTION rv_batch_settle(p_batch uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE batches b SET status = 'done', updated_at = now()
     WHERE b.id = p_batch AND b.status = 'running'
       AND NOT EXISTS (SELECT 1 FROM video_steps s JOIN videos v ON v.id = s.video_id
                        WHERE v.batch_id = b.id AND s.status IN ('pending', 'running'))
$$;
REVOKE ALL ON FUNCTION rv_batch_settle FROM PUBLIC, reelvox_app, reelvox_poller;

-- A video step's job ended without success (failed, cancelled, past its deadline,
-- whatever path moved it): the video shows the error; a chain stops and gives back
-- what its steps not done held. Runs in the transaction that ended the job.
CREATE OR REPLACE FUNCTION rv_video_job_ended() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    vid uuid;
BEGIN
    IF NEW.status NOT IN ('failed', 'cancelled') OR OLD.status = NEW.status
       OR NEW.kind NOT IN ('script', 'narration', 'images', 'video_render') THEN
        RETURN NULL;
    END IF;
    vid := (SELECT id FROM videos WHERE job_id = NEW.id);
    IF vid IS NULL THEN
        RETURN NULL;
    END IF;
    UPDATE videos SET status = 'failed', job_id = NULL, updated_at = now(),
                      error = COALESCE(NEW.error, '{}') || jsonb_build_object('step', NEW.kind)
     WHERE id = vid;
    IF EXISTS (SELECT 1 FROM video_steps WHERE job_id = NEW.id) THEN
        PERFORM rv_video_chain_stop(vid, CASE NEW.status WHEN 'failed' THEN 'failed'
                                                          ELSE 'cancelled' END);
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION rv_video_job_ended FROM PUBLIC, reelvox_app, reelvox_poller;
CREATE OR REPLACE TRIGGER jobs_video_ended AFTER UPDATE OF status ON jobs FOR EACH ROW
    WHEN (NEW.kind IN ('script', 'narration', 'images', 'video_render'))
    EXECUTE FUNCTION rv_video_job_ended();

-- ------------------------------------------------------------------ the poller
-- A video step's job succeeded: its outcome written into the video and the job
-- succeeded, and the chain's next step started — one transaction, so a killed
-- poller or a restarted database loses no step and starts none twice. p_output is
-- the job's result; by kind:
--   script:       {sections: [{heading, content}]} (checked by the caller)
--   narration:    {sections: [{position, startMs, endMs, words, wordsEstimated}],
--                  durationMs}, p_audio the narration file (as rv_job_succeed's)
--   images:       {images: [{position, prompt?, attribution?, startMs, durationMs,
--                  image: {filename, contentType, width, height, bytes, storageKey,
--                  thumbKey, source}}]}
--   video_render: {videoKey, posterKey, durationMs, bytes}
-- Every storage key in it is claimed (storage_pending). Returns false when the job
-- had already ended (the caller drops its files).
CREATE OR REPLACE FUNCTION rv_explainer_step_succeed(p_job uuid, p_output jsonb,
                                                p_audio jsonb DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
    v videos;
    a uuid;
    e jsonb;
    img uuid;
    result jsonb := p_output;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND OR rv_job_terminal(j.status) THEN
        RETURN false;
    END IF;
    SELECT * INTO v FROM videos WHERE id = (j.input ->> 'videoId')::uuid FOR UPDATE;
    IF j.kind = 'script' THEN
        PERFORM rv_video_sections_set(v.id, p_output -> 'sections');
    ELSIF j.kind = 'narration' THEN
        PERFORM rv_storage_claim(p_audio ->> 'storageKey');
        INSERT INTO audios (user_id, filename, content_type, bytes, duration_ms, sample_rate,
                            channels, storage_key, source, job_id)
        VALUES (j.user_id, p_audio ->> 'filename', p_audio ->> 'contentType',
                (p_audio ->> 'bytes')::bigint, (p_audio ->> 'durationMs')::bigint,
                (p_audio ->> 'sampleRate')::integer, (p_audio ->> 'channels')::integer,
                p_audio ->> 'storageKey', 'generated', j.id)
        RETURNING id INTO a;
        UPDATE video_sections s SET start_ms = (x ->> 'startMs')::bigint,
                                    end_ms = (x ->> 'endMs')::bigint, words = x -> 'words',
                                    words_estimated = COALESCE((x ->> 'wordsEstimated')::boolean, false)
          FROM jsonb_array_elements(p_output -> 'sections') x
         WHERE s.video_id = v.id AND s.position = (x ->> 'position')::integer;
        UPDATE videos SET narration_audio_id = a, narration_ms = (p_audio ->> 'durationMs')::bigint
         WHERE id = v.id;
        result := jsonb_build_object('audioId', a, 'durationMs', (p_audio ->> 'durationMs')::bigint,
                                     'contentType', p_audio ->> 'contentType') || p_output;
    ELSIF j.kind = 'images' THEN
        DELETE FROM video_images WHERE video_id = v.id;
        FOR e IN SELECT x FROM jsonb_array_elements(p_output -> 'images') x LOOP
            PERFORM rv_storage_claim(e -> 'image' ->> 'storageKey');
            PERFORM rv_storage_claim(e -> 'image' ->> 'thumbKey');
            INSERT INTO images (user_id, project_id, filename, content_type, width, height, bytes,
                                storage_key, thumb_key, source, job_id, attribution)
            VALUES (j.user_id, v.project_id, e -> 'image' ->> 'filename',
                    e -> 'image' ->> 'contentType', (e -> 'image' ->> 'width')::integer,
                    (e -> 'image' ->> 'height')::integer, (e -> 'image' ->> 'bytes')::bigint,
                    e -> 'image' ->> 'storageKey', e -> 'image' ->> 'thumbKey',
                    e -> 'image' ->> 'source', j.id, e -> 'attribution')
            RETURNING id INTO img;
            INSERT INTO video_images (video_id, position, image_id, prompt, attribution, start_ms,
                                      duration_ms)
            VALUES (v.id, (e ->> 'position')::integer, img, left(e ->> 'prompt', 500),
                    e -> 'attribution', (e ->> 'startMs')::bigint, (e ->> 'durationMs')::bigint);
        END LOOP;
        result := jsonb_build_object('images', (SELECT jsonb_agg(jsonb_build_object(
            'position', i.position, 'imageId', i.image_id) ORDER BY i.position)
            FROM video_images i WHERE i.video_id = v.id));
    ELSIF j.kind = 'video_render' THEN
        PERFORM rv_storage_claim(p_output ->> 'videoKey');
        PERFORM rv_storage_claim(p_output ->> 'posterKey');
        UPDATE videos SET video_key = p_output ->> 'videoKey', poster_key = p_output ->> 'posterKey',
                          duration_ms = (p_output ->> 'durationMs')::bigint,
                          bytes = (p_output ->> 'bytes')::bigint
         WHERE id = v.id;
        result := jsonb_build_object('videoId', v.id, 'durationMs', p_output -> 'durationMs',
                                     'bytes', p_output -> 'bytes', 'contentType', 'video/mp4');
    END IF;
    UPDATE jobs SET status = 'succeeded', progress = 100, completed_at = now(),
                    started_at = COALESCE(started_at, now()), locked_until = NULL,
                    locked_by = NULL, error = NULL, output = result
     WHERE id = p_job;
    -- The video shows the step done; a chain goes on at once.
    UPDATE videos SET status = CASE WHEN j.kind = 'video_render' THEN 'ready' ELSE 'draft' END,
                      job_id = NULL, step = NULL, error = NULL, updated_at = now(),
                      progress = CASE WHEN j.kind = 'video_render' THEN 100 ELSE progress END
     WHERE id = v.id AND job_id = p_job;
    IF EXISTS (SELECT 1 FROM video_steps WHERE job_id = p_job) THEN
        UPDATE video_steps SET status = 'done' WHERE job_id = p_job;
        UPDATE batches SET spent_credits = spent_credits
                           + (SELECT cost FROM video_steps WHERE job_id = p_job),
                           updated_at = now()
         WHERE id = v.batch_id;
        IF rv_video_chain_next(v.id) IS NULL THEN
            PERFORM rv_batch_settle(v.batch_id);
        END IF;
    END IF;
    PERFORM pg_notify('reelvox_done', p_job::text);
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION rv_explainer_step_succeed FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_explainer_step_succeed TO reelvox_poller;

-- The predictions a narration in a cloned voice asked its provider for, one per
-- section in order (video_narrate.c), kept in the job's row while it runs (output,
-- which the result replaces at success; users see output only then): the attempt
-- after a killed poller waits for them instead of asking again. Kept only by the
-- poller that holds the job. rv_narration_parts_of: what is kept, or NULL.
CREATE OR REPLACE FUNCTION rv_narration_parts_keep(p_job uuid, p_poller text, p_parts jsonb)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE jobs SET output = jsonb_build_object('predictions', p_parts)
     WHERE id = p_job AND kind = 'narration' AND status = 'running' AND locked_by = p_poller;
    RETURN FOUND;
END $$;
REVOKE ALL ON FUNCTION rv_narration_parts_keep FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_narration_parts_keep TO reelvox_poller;

CREATE OR REPLACE FUNCTION rv_narration_parts_of(p_job uuid) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT output -> 'predictions' FROM jobs
     WHERE id = p_job AND kind = 'narration' AND status = 'running'
$$;
REVOKE ALL ON FUNCTION rv_narration_parts_of FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_narration_parts_of TO reelvox_poller;

-- What a step job of the poller's needs to know of its video: the video's row as
-- JSON (sections included, keys inside), the narration's storage key, and each
-- image's storage key. The poller reads no table itself.
CREATE OR REPLACE FUNCTION rv_video_for_job(p_job uuid)
RETURNS TABLE (video_json json, narration_key text, image_keys text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT rv_video_json(v), (SELECT storage_key FROM audios a WHERE a.id = v.narration_audio_id),
           ARRAY(SELECT m.storage_key FROM video_images i JOIN images m ON m.id = i.image_id
                  WHERE i.video_id = v.id ORDER BY i.position)
      FROM jobs j JOIN videos v ON v.id = (j.input ->> 'videoId')::uuid
     WHERE j.id = p_job
$$;
REVOKE ALL ON FUNCTION rv_video_for_job FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_video_for_job TO reelvox_poller;

-- ------------------------------------------------------------------ the handlers
-- A new video for the request's user. p_input: {title, topic, language?,
-- targetSeconds?, voiceId?, style?, projectId?}; p_script: sections or NULL;
-- p_auto: the whole chain starts (a batch of one, its cost held at once; p_options
-- and p_llm as rv_chain_make's).
-- status: created | project_not_found | voice_not_found | voice_not_active |
-- no_provider | insufficient (required, balance).
CREATE OR REPLACE FUNCTION rv_video_create(p_input jsonb, p_script jsonb, p_auto boolean,
                                           p_options jsonb, p_llm boolean, p_idem text)
RETURNS TABLE (status text, video_json json, video_id uuid, required bigint, balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_uid_required();
    v videos;
    chk record;
    st record;
    b batches;
    hash text;
BEGIN
    -- auto: the key lives on the chain's hidden batch; the same key and body answer
    -- that video as it is now, another body (or a key of a visible batch) a conflict.
    -- Without auto nothing starts: the key is not kept.
    IF p_auto AND p_idem IS NOT NULL THEN
        hash := rv_request_hash('video', jsonb_build_object('input', p_input, 'script', p_script,
                                                            'options', p_options));
        PERFORM 1 FROM users WHERE id = uid FOR UPDATE;
        SELECT * INTO b FROM batches x WHERE x.user_id = uid AND x.idempotency_key = p_idem;
        IF FOUND THEN
            SELECT * INTO v FROM videos x WHERE x.batch_id = b.id;
            IF b.visible OR b.request_hash IS DISTINCT FROM hash OR v.id IS NULL THEN
                RETURN QUERY SELECT 'idempotency_conflict', NULL::json, NULL::uuid, 0::bigint,
                                    0::bigint;
            ELSE
                RETURN QUERY SELECT 'repeated', rv_video_json(v), v.id, 0::bigint, 0::bigint;
            END IF;
            RETURN;
        END IF;
    END IF;
    IF p_input ? 'projectId' AND NOT EXISTS (
        SELECT 1 FROM projects p WHERE p.id = (p_input ->> 'projectId')::uuid AND p.user_id = uid) THEN
        RETURN QUERY SELECT 'project_not_found', NULL::json, NULL::uuid, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    IF p_input ? 'voiceId' THEN
        SELECT * INTO chk FROM rv_voice_usable((p_input ->> 'voiceId')::uuid) u;
        IF chk.status <> 'ok' THEN
            RETURN QUERY SELECT chk.status, NULL::json, NULL::uuid, 0::bigint, 0::bigint;
            RETURN;
        END IF;
    END IF;
    INSERT INTO videos (user_id, project_id, title, topic, language, target_seconds, voice_id, style)
    VALUES (uid, (p_input ->> 'projectId')::uuid, p_input ->> 'title', p_input ->> 'topic',
            COALESCE(p_input ->> 'language', 'en'),
            COALESCE((p_input ->> 'targetSeconds')::integer, 60),
            (p_input ->> 'voiceId')::uuid, p_input ->> 'style')
    RETURNING * INTO v;
    IF p_script IS NOT NULL THEN
        PERFORM rv_video_sections_set(v.id, p_script);
    END IF;
    IF p_auto THEN
        SELECT * INTO st FROM rv_chain_make(ARRAY[v.id], p_options, false, p_idem, p_llm) c;
        IF st.status <> 'created' THEN
            DELETE FROM videos x WHERE x.id = v.id;
            RETURN QUERY SELECT st.status, NULL::json, NULL::uuid, st.required, st.balance;
            RETURN;
        END IF;
        UPDATE batches x SET request_hash = hash WHERE x.id = st.batch_id;
    END IF;
    SELECT * INTO v FROM videos x WHERE x.id = v.id;
    RETURN QUERY SELECT 'created', rv_video_json(v), v.id, 0::bigint, 0::bigint;
END $$;
REVOKE ALL ON FUNCTION rv_video_create FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_video_create TO reelvox_app;

-- Chains for p_videos (the request's user's, just made): a batch row holding the
-- whole cost (batch_hold; 402 when short), each video's steps (script unless it has
-- sections already, narration, images, render) and its first step started.
-- p_options: {voiceId, speed?, transition?, musicTrackId?, musicVolume?, captions?,
-- resolution?, aspect?}. p_llm: a script can be written here (a language model is
-- configured; only the handler's environment knows). status: created | insufficient
-- | no_provider.
CREATE OR REPLACE FUNCTION rv_chain_make(p_videos uuid[], p_options jsonb, p_visible boolean,
                                         p_idem text, p_llm boolean)
RETURNS TABLE (status text, batch_id uuid, required bigint, balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_uid_required();
    bal bigint;
    total bigint := 0;
    b batches;
    vid uuid;
    has_script boolean;
    voice uuid;
    chk record;
    cfg jsonb := (SELECT value FROM admin_config WHERE key = 'providers');
    render jsonb := p_options - 'voiceId' - 'speed';
BEGIN
    SELECT credits INTO bal FROM users WHERE id = uid FOR UPDATE;
    FOREACH vid IN ARRAY p_videos LOOP
        has_script := EXISTS (SELECT 1 FROM video_sections s WHERE s.video_id = vid);
        IF NOT has_script AND NOT p_llm THEN
            RETURN QUERY SELECT 'no_provider', NULL::uuid, 0::bigint, bal;
            RETURN;
        END IF;
        total := total + rv_video_step_cost('narration') + rv_video_step_cost('images')
                 + rv_video_step_cost('video_render')
                 + CASE WHEN has_script THEN 0 ELSE rv_video_step_cost('script') END;
    END LOOP;
    IF bal < total THEN
        RETURN QUERY SELECT 'insufficient', NULL::uuid, total, bal;
        RETURN;
    END IF;
    INSERT INTO batches (user_id, options, visible, held_credits, idempotency_key)
    VALUES (uid, p_options, p_visible, total, p_idem) RETURNING * INTO b;
    IF total > 0 THEN
        PERFORM rv_credit_move(uid, -total, 'batch_hold',
                               CASE WHEN p_visible THEN 'video batch' ELSE 'auto video' END);
    END IF;
    FOREACH vid IN ARRAY p_videos LOOP
        SELECT COALESCE((p_options ->> 'voiceId')::uuid, v.voice_id,
                        '00000000-0000-4000-8000-000000000001'::uuid)
          INTO voice FROM videos v WHERE v.id = vid;
        UPDATE videos SET batch_id = b.id, render_options = render, voice_id = voice
         WHERE id = vid;
        IF NOT EXISTS (SELECT 1 FROM video_sections s WHERE s.video_id = vid) THEN
            INSERT INTO video_steps (video_id, position, kind, cost)
            VALUES (vid, 1, 'script', rv_video_step_cost('script'));
        END IF;
        INSERT INTO video_steps (video_id, position, kind, cost, input) VALUES
            (vid, 2, 'narration', rv_video_step_cost('narration'),
             jsonb_build_object('voiceId', voice, 'speed',
                                COALESCE((p_options ->> 'speed')::numeric, 1))),
            (vid, 3, 'images', rv_video_step_cost('images'), jsonb_build_object('render', render)),
            (vid, 4, 'video_render', rv_video_step_cost('video_render'), render);
        PERFORM rv_video_chain_next(vid);
    END LOOP;
    RETURN QUERY SELECT 'created', b.id, total, bal - total;
END $$;
REVOKE ALL ON FUNCTION rv_chain_make FROM PUBLIC, reelvox_app, reelvox_poller;

-- A user's edit of the script. status: ok | not_found | invalid_state (a step of
-- the video is running).
CREATE OR REPLACE FUNCTION rv_video_script_put(p_video uuid, p_sections jsonb)
RETURNS TABLE (status text, video_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v videos;
BEGIN
    SELECT * INTO v FROM videos x WHERE x.id = p_video AND (x.user_id = rv_uid() OR rv_role() = 'admin')
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    IF v.job_id IS NOT NULL THEN
        RETURN QUERY SELECT 'invalid_state', rv_video_json(v);
        RETURN;
    END IF;
    PERFORM rv_video_sections_set(v.id, p_sections);
    UPDATE videos SET status = 'draft', error = NULL WHERE id = v.id RETURNING * INTO v;
    RETURN QUERY SELECT 'ok', rv_video_json(v);
END $$;
REVOKE ALL ON FUNCTION rv_video_script_put FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_video_script_put TO reelvox_app;

-- A step started by hand: POST /api/videos/{id}/{script|narration|images|render}.
-- Checks the video is the user's (not_found), that no step of it runs and that
-- what the step needs is there (invalid_state, `missing` naming it: script,
-- narration, images), then submits through rv_submit (charge, idempotency, rate
-- limit, provider, voice) with the video's id in the input. The video shows the
-- step while its job runs.
CREATE OR REPLACE FUNCTION rv_video_step_submit(p_video uuid, p_kind text, p_input jsonb,
                                                p_idem text, p_available text[], p_token text,
                                                p_voice uuid DEFAULT NULL)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint, missing text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v videos;
    s record;
    lacks text[] := '{}';
    prior jobs;
BEGIN
    SELECT * INTO v FROM videos x WHERE x.id = p_video AND x.user_id = rv_uid() FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint, NULL::text;
        RETURN;
    END IF;
    -- A repeated Idempotency-Key answers its job as it is now (rv_submit: the same
    -- step and body, else a conflict) before the state checks, which the running
    -- step itself would fail; a key used for another video's step is a conflict.
    IF p_idem IS NOT NULL THEN
        SELECT * INTO prior FROM jobs x WHERE x.user_id = v.user_id AND x.idempotency_key = p_idem;
        IF FOUND AND prior.input ->> 'videoId' IS DISTINCT FROM v.id::text THEN
            RETURN QUERY SELECT 'idempotency_conflict', NULL::json, prior.id, 0, 0::bigint,
                                0::bigint, NULL::text;
            RETURN;
        END IF;
    END IF;
    IF p_kind <> 'script' AND NOT EXISTS (SELECT 1 FROM video_sections x WHERE x.video_id = v.id) THEN
        lacks := lacks || 'script'::text;
    END IF;
    IF p_kind IN ('images', 'video_render') AND v.narration_audio_id IS NULL THEN
        lacks := lacks || 'narration'::text;
    END IF;
    IF p_kind = 'video_render' AND NOT EXISTS (
        SELECT 1 FROM video_images x WHERE x.video_id = v.id AND x.image_id IS NOT NULL) THEN
        lacks := lacks || 'images'::text;
    END IF;
    IF prior.id IS NULL AND (cardinality(lacks) > 0 OR (v.job_id IS NOT NULL AND rv_job_status(v.job_id) NOT IN
                                  ('succeeded', 'failed', 'cancelled'))) THEN
        RETURN QUERY SELECT 'invalid_state', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint,
            CASE WHEN cardinality(lacks) > 0 THEN array_to_string(lacks, ', ')
                 ELSE 'another step is running' END;
        RETURN;
    END IF;
    IF p_input ? 'musicTrackId' AND NOT EXISTS (
        SELECT 1 FROM music_tracks t WHERE t.id = (p_input ->> 'musicTrackId')::uuid) THEN
        RETURN QUERY SELECT 'music_not_found', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint,
                            NULL::text;
        RETURN;
    END IF;
    SELECT * INTO s FROM rv_submit(p_kind, p_input, p_idem, p_available, p_token, p_voice,
                                   jsonb_build_object('videoId', v.id) || rv_video_render_source(p_input)) r;
    IF s.status = 'created' THEN
        UPDATE videos SET status = rv_video_status_of(p_kind), step = p_kind, job_id = s.job_id,
                          error = NULL, updated_at = now()
         WHERE id = v.id;
    END IF;
    RETURN QUERY SELECT s.status, s.job_json, s.job_id, s.retry_after, s.required, s.balance,
                        NULL::text;
END $$;
REVOKE ALL ON FUNCTION rv_video_step_submit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_video_step_submit TO reelvox_app;

-- Deletes a video: its running step's job is cancelled (and refunded, or its chain's
-- hold released), then the row. Returns the storage keys of its own files (the
-- rendered video and poster) for the caller to remove after the commit; ok is
-- false when there is no such video of the user's.
CREATE OR REPLACE FUNCTION rv_video_delete(p_video uuid)
RETURNS TABLE (ok boolean, keys text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v videos;
    j uuid;
BEGIN
    SELECT * INTO v FROM videos x WHERE x.id = p_video AND (x.user_id = rv_uid() OR rv_role() = 'admin')
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT false, NULL::text[];
        RETURN;
    END IF;
    FOR j IN SELECT x.id FROM jobs x WHERE x.input ->> 'videoId' = v.id::text
                AND NOT rv_job_terminal(x.status) LOOP
        UPDATE jobs SET status = 'cancelled', completed_at = now(), locked_until = NULL,
                        error = '{"code": "cancelled", "message": "the video was deleted"}',
                        cancel_at_provider = provider_job_id IS NOT NULL AND provider <> 'local'
         WHERE id = j;
        PERFORM rv_job_refund(j);
    END LOOP;
    PERFORM rv_video_chain_stop(v.id, 'cancelled');
    DELETE FROM videos WHERE id = v.id;
    RETURN QUERY SELECT true, array_remove(ARRAY[v.video_key, v.poster_key], NULL);
END $$;
REVOKE ALL ON FUNCTION rv_video_delete FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_video_delete TO reelvox_app;

-- ------------------------------------------------------------------ batches
CREATE OR REPLACE FUNCTION rv_batch_json(b batches) RETURNS json
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT json_build_object(
        'id', b.id, 'status', b.status,
        'progress', COALESCE((SELECT (100 * count(*) FILTER (WHERE s.status = 'done')
                                      / GREATEST(count(*), 1))::integer
                                FROM video_steps s JOIN videos v ON v.id = s.video_id
                               WHERE v.batch_id = b.id), 0),
        'heldCredits', b.held_credits, 'spentCredits', b.spent_credits,
        'releasedCredits', b.released_credits,
        'videos', COALESCE((SELECT json_agg(rv_video_json(v) ORDER BY v.created_at, v.id)
                              FROM videos v WHERE v.batch_id = b.id), '[]'),
        'createdAt', rv_ts(b.created_at))
$$;
REVOKE ALL ON FUNCTION rv_batch_json FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_batch_json TO reelvox_app;

-- A batch: a video per topic (title = the topic, cut to 200), the chains and the
-- hold. p_topics checked by the caller (1..20 non-blank strings ≤ 500). A repeated
-- key answers the first batch, or idempotency_conflict for another request (or a
-- key an auto video used). status: created | repeated | idempotency_conflict |
-- insufficient | no_provider | voice_not_found | voice_not_active.
CREATE OR REPLACE FUNCTION rv_batch_submit(p_topics text[], p_video jsonb, p_options jsonb,
                                           p_idem text, p_llm boolean)
RETURNS TABLE (status text, batch_json json, batch_id uuid, required bigint, balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_uid_required();
    b batches;
    chk record;
    st record;
    t text;
    ids uuid[] := '{}';
    vid uuid;
    hash text := rv_request_hash('batch', jsonb_build_object('topics', to_jsonb(p_topics),
                                                             'video', p_video, 'options', p_options));
BEGIN
    PERFORM 1 FROM users WHERE id = uid FOR UPDATE;
    IF p_idem IS NOT NULL THEN
        SELECT * INTO b FROM batches x WHERE x.user_id = uid AND x.idempotency_key = p_idem;
        IF FOUND AND (NOT b.visible OR b.request_hash <> hash) THEN
            RETURN QUERY SELECT 'idempotency_conflict', NULL::json, b.id, 0::bigint, 0::bigint;
            RETURN;
        ELSIF FOUND THEN
            RETURN QUERY SELECT 'repeated', rv_batch_json(b), b.id, 0::bigint, 0::bigint;
            RETURN;
        END IF;
    END IF;
    SELECT * INTO chk FROM rv_voice_usable((p_options ->> 'voiceId')::uuid) u;
    IF chk.status <> 'ok' THEN
        RETURN QUERY SELECT chk.status, NULL::json, NULL::uuid, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    FOREACH t IN ARRAY p_topics LOOP
        INSERT INTO videos (user_id, title, topic, language, target_seconds, voice_id, style)
        VALUES (uid, left(btrim(t), 200), t, COALESCE(p_video ->> 'language', 'en'),
                COALESCE((p_video ->> 'targetSeconds')::integer, 60),
                (p_options ->> 'voiceId')::uuid, p_video ->> 'style')
        RETURNING id INTO vid;
        ids := ids || vid;
    END LOOP;
    SELECT * INTO st FROM rv_chain_make(ids, p_options, true, p_idem, p_llm) c;
    IF st.status <> 'created' THEN
        DELETE FROM videos x WHERE x.id = ANY (ids);
        RETURN QUERY SELECT st.status, NULL::json, NULL::uuid, st.required, st.balance;
        RETURN;
    END IF;
    UPDATE batches x SET request_hash = hash WHERE x.id = st.batch_id RETURNING * INTO b;
    RETURN QUERY SELECT 'created', rv_batch_json(b), b.id, st.required, st.balance;
END $$;
REVOKE ALL ON FUNCTION rv_batch_submit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_batch_submit TO reelvox_app;

-- Cancels what of a batch is not done: running steps' jobs cancelled (their
-- provider work stopped by the poller), every chain stopped and its unspent hold
-- released. status: ok | not_found.
CREATE OR REPLACE FUNCTION rv_batch_cancel(p_batch uuid)
RETURNS TABLE (status text, batch_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    b batches;
    vid uuid;
BEGIN
    SELECT * INTO b FROM batches x WHERE x.id = p_batch AND (x.user_id = rv_uid() OR rv_role() = 'admin')
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    FOR vid IN SELECT v.id FROM videos v WHERE v.batch_id = b.id ORDER BY v.id LOOP
        UPDATE jobs j SET status = 'cancelled', completed_at = now(), locked_until = NULL,
                          error = '{"code": "cancelled", "message": "the batch was cancelled"}',
                          cancel_at_provider = j.provider_job_id IS NOT NULL AND j.provider <> 'local'
          FROM video_steps s
         WHERE s.video_id = vid AND s.job_id = j.id AND NOT rv_job_terminal(j.status);
        PERFORM rv_video_chain_stop(vid, 'cancelled');
    END LOOP;
    UPDATE batches x SET status = CASE WHEN b.status = 'running' THEN 'cancelled' ELSE x.status END,
                         updated_at = now()
     WHERE x.id = b.id RETURNING * INTO b;
    RETURN QUERY SELECT 'ok', rv_batch_json(b);
END $$;
REVOKE ALL ON FUNCTION rv_batch_cancel FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_batch_cancel TO reelvox_app;

-- Replaces the picture at p_position of a video with one of the user's own images
-- (its time span stays). status: ok | not_found (the video, the position or the
-- image is not the user's) | invalid_state (a step of the video runs).
CREATE OR REPLACE FUNCTION rv_video_image_put(p_video uuid, p_position integer, p_image uuid)
RETURNS TABLE (status text, video_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v videos;
BEGIN
    SELECT * INTO v FROM videos x WHERE x.id = p_video AND x.user_id = rv_uid() FOR UPDATE;
    IF NOT FOUND OR NOT EXISTS (SELECT 1 FROM images m WHERE m.id = p_image AND m.user_id = rv_uid())
       OR NOT EXISTS (SELECT 1 FROM video_images i WHERE i.video_id = v.id AND i.position = p_position) THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    IF v.job_id IS NOT NULL THEN
        RETURN QUERY SELECT 'invalid_state', NULL::json;
        RETURN;
    END IF;
    UPDATE video_images SET image_id = p_image, prompt = NULL,
                            attribution = (SELECT m.attribution FROM images m WHERE m.id = p_image)
     WHERE video_id = v.id AND position = p_position;
    UPDATE videos SET updated_at = now() WHERE id = v.id RETURNING * INTO v;
    RETURN QUERY SELECT 'ok', rv_video_json(v);
END $$;
REVOKE ALL ON FUNCTION rv_video_image_put FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_video_image_put TO reelvox_app;
