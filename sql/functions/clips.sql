-- Clips: an image of the user's turned into a short video by a video_clip job.
-- A clip and its job are made in one transaction (rv_clip_submit, through the one
-- submit path rv_submit); from then on the clip follows its job:
--   status        is the job's (dispatching shows as queued), read through the join;
--   job succeeded → the job's output {videoKey, posterKey, durationMs, bytes, width,
--                   height, contentType} is copied into the clip row by the trigger
--                   jobs_video_clip, in the transaction of the success, whatever
--                   provider made the video (rv_video_clip_succeed is the way to
--                   succeed such a job: it claims both stored files);
--   job failed or cancelled → nothing to copy; the job's credits are refunded once
--                   by rv_job_refund.
-- Deleting a clip cancels its job first when it has not ended (refunded; the
-- poller stops the provider's work).

-- The output size of a clip of each ratio: Runway gen4_turbo's own sizes.
CREATE OR REPLACE FUNCTION rv_clip_size(p_ratio text, OUT width integer, OUT height integer)
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_ratio WHEN '9:16' THEN 720 WHEN '1:1' THEN 960 ELSE 1280 END,
           CASE p_ratio WHEN '9:16' THEN 1280 WHEN '1:1' THEN 960 ELSE 720 END
$$;

-- The clip as API.md shows it, with its job's status; url and posterUrl are added by
-- the handler (signed) from video_key and poster_key.
CREATE OR REPLACE FUNCTION rv_clip_json(c clips, j jobs) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', c.id, 'projectId', c.project_id, 'imageId', c.image_id, 'prompt', c.prompt,
        'durationSeconds', c.duration_seconds, 'ratio', c.ratio,
        'status', CASE j.status WHEN 'dispatching' THEN 'queued' ELSE j.status END,
        'approved', c.approved, 'position', c.position, 'durationMs', c.duration_ms,
        'bytes', c.bytes,
        'error', CASE WHEN j.status IN ('failed', 'cancelled') THEN j.error END,
        'jobId', c.job_id, 'createdAt', rv_ts(c.created_at)))
$$;

-- Submits a clip for the request's user. p_input: {projectId, imageId, prompt,
-- durationSeconds, ratio} as the handler bound them (the idempotency hash covers
-- them). The image and the project must be the user's (FOR SHARE: ordered against
-- rv_image_delete). The job's input is exactly {clipId, imageId, imageKey, width,
-- height, durationSeconds, ratio, prompt}: width and height are the output size of
-- the ratio (rv_clip_size), imageKey the stored image the provider starts from.
-- status: rv_submit's | image_not_found | project_not_found. clip_json, video_key,
-- poster_key: the clip made, or the one of a repeated key.
CREATE OR REPLACE FUNCTION rv_clip_submit(p_input jsonb, p_idem text, p_available text[],
                                          p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint, clip_json json, video_key text, poster_key text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    rep record;
    s record;
    i images;
    c clips;
    j jobs;
    sz record;
    cid uuid := gen_random_uuid();
BEGIN
    SELECT * INTO rep
      FROM rv_submit_repeat('video_clip', p_idem, rv_request_hash('video_clip', p_input)) r;
    IF rep.status IS NOT NULL THEN
        SELECT * INTO c FROM clips x WHERE x.job_id = rep.job_id AND rep.status = 'repeated';
        SELECT * INTO j FROM jobs x WHERE x.id = c.job_id;
        RETURN QUERY SELECT rep.status, rep.job_json, rep.job_id, rep.retry_after, rep.required,
            rep.balance, CASE WHEN c.id IS NOT NULL THEN rv_clip_json(c, j) END,
            c.video_key, c.poster_key;
        RETURN;
    END IF;
    SELECT * INTO i FROM images x
     WHERE x.id = (p_input ->> 'imageId')::uuid AND x.user_id = rv_uid() FOR SHARE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'image_not_found', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint,
                            NULL::json, NULL::text, NULL::text;
        RETURN;
    END IF;
    PERFORM 1 FROM projects p
     WHERE p.id = (p_input ->> 'projectId')::uuid AND p.user_id = rv_uid() FOR SHARE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'project_not_found', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint,
                            NULL::json, NULL::text, NULL::text;
        RETURN;
    END IF;
    SELECT * INTO sz FROM rv_clip_size(p_input ->> 'ratio');
    SELECT * INTO s FROM rv_submit('video_clip', p_input, p_idem, p_available, p_token, NULL,
        jsonb_build_object('clipId', cid, 'imageKey', i.storage_key,
                           'width', sz.width, 'height', sz.height)) r;
    IF s.status <> 'created' THEN
        RETURN QUERY SELECT s.status, s.job_json, s.job_id, s.retry_after, s.required, s.balance,
                            NULL::json, NULL::text, NULL::text;
        RETURN;
    END IF;
    -- The project is the clip's, not the provider's business.
    UPDATE jobs x SET input = x.input - 'projectId' WHERE x.id = s.job_id RETURNING * INTO j;
    INSERT INTO clips (id, user_id, project_id, image_id, job_id, prompt, duration_seconds,
                       ratio, position)
    VALUES (cid, rv_uid(), (p_input ->> 'projectId')::uuid, i.id, j.id,
            COALESCE(p_input ->> 'prompt', ''), (p_input ->> 'durationSeconds')::integer,
            p_input ->> 'ratio',
            COALESCE((SELECT max(x.position) + 1 FROM clips x
                       WHERE x.project_id = (p_input ->> 'projectId')::uuid), 0))
    RETURNING * INTO c;
    RETURN QUERY SELECT s.status, rv_job_json(j), j.id, s.retry_after, s.required, s.balance,
                        rv_clip_json(c, j), NULL::text, NULL::text;
END $$;
REVOKE ALL ON FUNCTION rv_clip_submit FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_clip_submit TO reelvox_app, reelvox_poller;

-- A video_clip job succeeded, whoever made the video: p_output is
-- {videoKey, posterKey, durationMs, bytes, width, height, contentType: "video/mp4"},
-- both files already in our storage and registered (filereg); this claims them and
-- ends the job; the trigger copies the output into the clip. False when the job had
-- already ended or is no video_clip (the caller then drops the files).
CREATE OR REPLACE FUNCTION rv_video_clip_succeed(p_job uuid, p_output jsonb,
                                                 p_provider_job_id text DEFAULT NULL)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND OR rv_job_terminal(j.status) OR j.kind <> 'video_clip' THEN
        RETURN false;
    END IF;
    IF p_output ->> 'videoKey' IS NULL OR p_output ->> 'posterKey' IS NULL
       OR (p_output ->> 'durationMs')::bigint IS NULL OR (p_output ->> 'bytes')::bigint IS NULL
       OR p_output ->> 'contentType' IS DISTINCT FROM 'video/mp4' THEN
        RAISE EXCEPTION 'video_clip output needs videoKey, posterKey, durationMs, bytes and '
                        'contentType video/mp4: %', p_output USING ERRCODE = 'check_violation';
    END IF;
    PERFORM rv_storage_claim(p_output ->> 'videoKey');
    PERFORM rv_storage_claim(p_output ->> 'posterKey');
    UPDATE jobs SET status = 'succeeded', progress = 100, completed_at = now(),
                    started_at = COALESCE(started_at, now()),
                    provider_job_id = COALESCE(provider_job_id, p_provider_job_id),
                    locked_until = NULL, locked_by = NULL, error = NULL,
                    output = jsonb_build_object(
                        'videoKey', p_output ->> 'videoKey',
                        'posterKey', p_output ->> 'posterKey',
                        'durationMs', (p_output ->> 'durationMs')::bigint,
                        'bytes', (p_output ->> 'bytes')::bigint,
                        'width', (p_output ->> 'width')::integer,
                        'height', (p_output ->> 'height')::integer,
                        'contentType', 'video/mp4')
     WHERE id = p_job;
    PERFORM pg_notify('reelvox_done', p_job::text);
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION rv_video_clip_succeed FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_video_clip_succeed TO reelvox_poller;

-- A clip follows its job (see the top of this file), whatever code path moves it.
CREATE OR REPLACE FUNCTION rv_clips_follow_job() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.status = 'succeeded' THEN
        IF NEW.output ->> 'videoKey' IS NULL THEN
            RAISE EXCEPTION 'video_clip job % cannot succeed without its video '
                            '(use rv_video_clip_succeed)', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
        UPDATE clips
           SET video_key = NEW.output ->> 'videoKey', poster_key = NEW.output ->> 'posterKey',
               duration_ms = (NEW.output ->> 'durationMs')::bigint,
               bytes = (NEW.output ->> 'bytes')::bigint, updated_at = now()
         WHERE job_id = NEW.id;
    ELSE
        UPDATE clips SET updated_at = now() WHERE job_id = NEW.id;
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER jobs_video_clip AFTER UPDATE OF status ON jobs FOR EACH ROW
    WHEN (NEW.kind = 'video_clip' AND NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION rv_clips_follow_job();

-- PATCH of a clip of the request's user: p_approved / p_position NULL leave them.
-- Approving needs a succeeded clip (un-approving does not). status: ok |
-- not_found | not_succeeded; clip_json and the keys of its files when ok.
CREATE OR REPLACE FUNCTION rv_clip_update(p_clip uuid, p_approved boolean, p_position integer)
RETURNS TABLE (status text, clip_json json, video_key text, poster_key text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    c clips;
    j jobs;
BEGIN
    SELECT * INTO c FROM clips x
     WHERE x.id = p_clip AND (x.user_id = rv_uid() OR rv_role() = 'admin');
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::json, NULL::text, NULL::text;
        RETURN;
    END IF;
    SELECT * INTO j FROM jobs x WHERE x.id = c.job_id FOR SHARE; -- the job, then its clip
    SELECT * INTO c FROM clips x WHERE x.id = p_clip FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::json, NULL::text, NULL::text;
        RETURN;
    END IF;
    IF p_approved AND j.status <> 'succeeded' THEN
        RETURN QUERY SELECT 'not_succeeded', NULL::json, NULL::text, NULL::text;
        RETURN;
    END IF;
    UPDATE clips x SET approved = COALESCE(p_approved, x.approved),
                       position = COALESCE(p_position, x.position), updated_at = now()
     WHERE x.id = c.id RETURNING * INTO c;
    RETURN QUERY SELECT 'ok', rv_clip_json(c, j), c.video_key, c.poster_key;
END $$;
REVOKE ALL ON FUNCTION rv_clip_update FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_clip_update TO reelvox_app;

-- Deletes a clip of the request's user (any, for an admin). A clip whose job has
-- not ended has it cancelled first (refunded once; the poller stops the provider's
-- work). status: ok | not_found; keys: the files to remove once this has committed.
CREATE OR REPLACE FUNCTION rv_clip_delete(p_clip uuid)
RETURNS TABLE (status text, keys text[])
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    c clips;
    j jobs;
BEGIN
    SELECT * INTO c FROM clips x
     WHERE x.id = p_clip AND (x.user_id = rv_uid() OR rv_role() = 'admin');
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::text[];
        RETURN;
    END IF;
    -- Locks in the order every job move takes them (the job, then its clip).
    SELECT * INTO j FROM jobs x WHERE x.id = c.job_id FOR UPDATE;
    SELECT * INTO c FROM clips x WHERE x.id = p_clip FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::text[];
        RETURN;
    END IF;
    IF NOT rv_job_terminal(j.status) THEN
        PERFORM * FROM rv_job_cancel(j.user_id, j.id);
    END IF;
    DELETE FROM clips x WHERE x.id = c.id;
    RETURN QUERY SELECT 'ok', array_remove(ARRAY[c.video_key, c.poster_key], NULL);
END $$;
REVOKE ALL ON FUNCTION rv_clip_delete FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_clip_delete TO reelvox_app;

-- How many jobs a provider holds now (dispatching or running): the poller claims
-- no more than its cap allows (RV_RUNWAY_MAX_RUNNING).
CREATE OR REPLACE FUNCTION rv_provider_busy(p_provider text) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(*)::integer FROM jobs
     WHERE provider = p_provider AND status IN ('dispatching', 'running')
$$;
REVOKE ALL ON FUNCTION rv_provider_busy FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_provider_busy TO reelvox_poller;
