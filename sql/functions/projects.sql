-- Projects (issue 12): the lifecycle guard and its history, the project's JSON,
-- every change a user makes (create, rename, delete, audios, estimate, expert,
-- deliverables, submit, accept, changes, cancel, rating, messages) and the estimate
-- job's end. Every function acts for the request's user (rv_uid(), rv_role()) and
-- answers an outcome code, one of:
--   ok | not_found (the caller cannot see it) | forbidden (visible, but not the
--   caller's to do) | invalid_state (the project's status does not allow it) |
--   audio_not_found | expert_not_found | expert_offline | insufficient | rated |
--   no_deliverables
-- which common/projects.c maps to the contract's answers in one table. The
-- application role reads projects through these functions only (the assigned
-- expert may see the owner's audios, which the audios policy does not show).

-- ------------------------------------------------------------- the lifecycle
CREATE OR REPLACE FUNCTION rv_project_move_ok(p_from text, p_to text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT (p_from, p_to) IN (('draft', 'estimating'), ('estimating', 'ready'),
                              ('estimating', 'draft'), ('ready', 'in_progress'),
                              ('in_progress', 'review'), ('review', 'completed'),
                              ('review', 'in_progress'))
        OR (p_to = 'cancelled' AND p_from NOT IN ('completed', 'cancelled'))
$$;

-- Whatever code path moves a project, an illegal move fails (check_violation).
CREATE OR REPLACE FUNCTION rv_projects_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status AND NOT rv_project_move_ok(OLD.status, NEW.status)
    THEN
        RAISE EXCEPTION 'invalid_state: project % cannot go from % to %', OLD.id, OLD.status,
            NEW.status USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER projects_guard BEFORE UPDATE ON projects FOR EACH ROW
    EXECUTE FUNCTION rv_projects_guard();

-- Every move (and the creation) in project_history, with who made it: the
-- request's user, NULL for the system (an estimate job ending).
CREATE OR REPLACE FUNCTION rv_projects_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status THEN
        INSERT INTO project_history (project_id, from_status, to_status, by_user)
        VALUES (NEW.id, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, NEW.status,
                (SELECT u.id FROM users u WHERE u.id = rv_uid()));
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION rv_projects_history FROM PUBLIC, reelvox_app, reelvox_poller;
CREATE OR REPLACE TRIGGER projects_history AFTER INSERT OR UPDATE OF status ON projects
    FOR EACH ROW EXECUTE FUNCTION rv_projects_history();

-- ------------------------------------------------------------------ reading
-- How the request's user stands to p: owner | expert (assigned) | admin | NULL.
CREATE OR REPLACE FUNCTION rv_project_access(p projects) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p.id IS NULL THEN NULL
                WHEN p.user_id = rv_uid() THEN 'owner'
                WHEN p.expert_id = rv_uid() THEN 'expert'
                WHEN rv_role() = 'admin' THEN 'admin' END
$$;

-- The project as API.md shows it to p_viewer, except that each audio carries its
-- storageKey where the handler puts a signed url (common/projects.c).
CREATE OR REPLACE FUNCTION rv_project_json(p projects, p_viewer uuid) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', p.id, 'name', p.name, 'description', p.description, 'status', p.status,
        'audioIds', COALESCE((SELECT json_agg(pa.audio_id ORDER BY pa.added_at, pa.audio_id)
                                FROM project_audios pa WHERE pa.project_id = p.id), '[]'),
        'audios', COALESCE((SELECT json_agg(json_build_object(
                                'id', a.id, 'filename', a.filename, 'durationMs', a.duration_ms,
                                'storageKey', a.storage_key) ORDER BY pa.added_at, pa.audio_id)
                              FROM project_audios pa JOIN audios a ON a.id = pa.audio_id
                             WHERE pa.project_id = p.id), '[]'),
        'estimate', p.estimate,
        'estimateError', CASE WHEN p.status = 'draft' THEN p.estimate_error END,
        'expertId', p.expert_id, 'priceCredits', p.price_credits,
        'unread', (SELECT count(*) FROM project_messages m
                    WHERE m.project_id = p.id AND m.read_at IS NULL
                      AND m.author_id IS DISTINCT FROM p_viewer
                      AND p_viewer IN (p.user_id, p.expert_id)),
        'createdAt', rv_ts(p.created_at), 'updatedAt', rv_ts(p.updated_at)))
$$;
REVOKE ALL ON FUNCTION rv_project_json FROM PUBLIC, reelvox_app, reelvox_poller;

-- One project, if the request's user may see it.
CREATE OR REPLACE FUNCTION rv_project_get(p_project uuid)
RETURNS TABLE (outcome text, project_json json)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    p projects := (SELECT x FROM projects x WHERE x.id = p_project);
BEGIN
    IF rv_project_access(p) IS NULL THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok', rv_project_json(p, rv_uid());
END $$;
REVOKE ALL ON FUNCTION rv_project_get FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_get TO reelvox_app;

-- A page of projects, newest first: the request's user's own (p_as_expert false) or
-- those assigned to them (true), optionally of one status. Rows: (total,
-- project_json); one row with NULL json when the page is empty.
CREATE OR REPLACE FUNCTION rv_projects_page(p_as_expert boolean, p_status text, p_limit integer,
                                            p_offset integer)
RETURNS TABLE (total bigint, project_json json)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    uid uuid := rv_uid_required();
BEGIN
    RETURN QUERY
    WITH f AS (SELECT * FROM projects x
                WHERE (CASE WHEN p_as_expert THEN x.expert_id ELSE x.user_id END) = uid
                  AND (p_status IS NULL OR x.status = p_status))
    SELECT t.n, pg.j
      FROM (SELECT count(*) AS n FROM f) t
      LEFT JOIN LATERAL (SELECT rv_project_json(f, uid) AS j, f.created_at, f.id FROM f
                          ORDER BY f.created_at DESC, f.id DESC
                          LIMIT p_limit OFFSET p_offset) pg ON true
     ORDER BY pg.created_at DESC, pg.id DESC;
END $$;
REVOKE ALL ON FUNCTION rv_projects_page FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_projects_page TO reelvox_app;

-- The project's moves, oldest first: [{from, to, by, at}].
CREATE OR REPLACE FUNCTION rv_project_history(p_project uuid)
RETURNS TABLE (outcome text, history_json json)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    p projects := (SELECT x FROM projects x WHERE x.id = p_project);
BEGIN
    IF rv_project_access(p) IS NULL THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok', COALESCE(json_agg(json_build_object(
                     'from', h.from_status, 'to', h.to_status, 'by', h.by_user,
                     'at', rv_ts(h.at)) ORDER BY h.id), '[]')
                   FROM project_history h WHERE h.project_id = p.id;
END $$;
REVOKE ALL ON FUNCTION rv_project_history FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_history TO reelvox_app;

-- The project locked for a change, and whether the caller may make it: p_roles are
-- the access kinds allowed (owner, expert, admin). outcome: ok | not_found |
-- forbidden.
CREATE OR REPLACE FUNCTION rv_project_lock(p_project uuid, p_roles text[],
                                           OUT outcome text, OUT p projects)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    acc text;
BEGIN
    SELECT * INTO p FROM projects x WHERE x.id = p_project FOR UPDATE;
    acc := rv_project_access(p);
    outcome := CASE WHEN acc IS NULL THEN 'not_found'
                    WHEN acc = ANY (p_roles) THEN 'ok' ELSE 'forbidden' END;
END $$;
REVOKE ALL ON FUNCTION rv_project_lock FROM PUBLIC, reelvox_app, reelvox_poller;

-- ------------------------------------------------------------- owner's edits
CREATE OR REPLACE FUNCTION rv_project_create(p_name text, p_description text)
RETURNS TABLE (outcome text, project_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    p projects;
BEGIN
    INSERT INTO projects (user_id, name, description)
    VALUES (rv_uid_required(), p_name, COALESCE(p_description, ''))
    RETURNING * INTO p;
    RETURN QUERY SELECT 'ok', rv_project_json(p, rv_uid());
END $$;
REVOKE ALL ON FUNCTION rv_project_create FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_create TO reelvox_app;

-- Rename or describe (NULL: unchanged); the owner or an admin, in any status.
CREATE OR REPLACE FUNCTION rv_project_update(p_project uuid, p_name text, p_description text)
RETURNS TABLE (outcome text, project_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    l record;
    p projects;
BEGIN
    SELECT * INTO l FROM rv_project_lock(p_project, '{owner,admin}');
    IF l.outcome <> 'ok' THEN
        RETURN QUERY SELECT l.outcome, NULL::json;
        RETURN;
    END IF;
    UPDATE projects x SET name = COALESCE(p_name, x.name),
                          description = COALESCE(p_description, x.description)
     WHERE x.id = p_project RETURNING * INTO p;
    RETURN QUERY SELECT 'ok', rv_project_json(p, rv_uid());
END $$;
REVOKE ALL ON FUNCTION rv_project_update FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_update TO reelvox_app;

-- Only a draft or a cancelled project goes (nothing is held in escrow then).
CREATE OR REPLACE FUNCTION rv_project_delete(p_project uuid)
RETURNS TABLE (outcome text, project_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    l record;
BEGIN
    SELECT * INTO l FROM rv_project_lock(p_project, '{owner,admin}');
    IF l.outcome <> 'ok' THEN
        RETURN QUERY SELECT l.outcome, NULL::json;
        RETURN;
    END IF;
    IF (l.p).status NOT IN ('draft', 'cancelled') OR (l.p).escrow_credits > 0 THEN
        RETURN QUERY SELECT 'invalid_state', rv_project_json(l.p, rv_uid());
        RETURN;
    END IF;
    DELETE FROM projects x WHERE x.id = p_project;
    RETURN QUERY SELECT 'ok', NULL::json;
END $$;
REVOKE ALL ON FUNCTION rv_project_delete FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_delete TO reelvox_app;

-- ------------------------------------------------------------------ audios
-- The owner attaches one of their own audios to a draft (the estimate is made from
-- them); someone else's audio is audio_not_found. Attaching twice is harmless.
CREATE OR REPLACE FUNCTION rv_project_audio_add(p_project uuid, p_audio uuid)
RETURNS TABLE (outcome text, project_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    l record;
BEGIN
    SELECT * INTO l FROM rv_project_lock(p_project, '{owner}');
    IF l.outcome <> 'ok' THEN
        RETURN QUERY SELECT l.outcome, NULL::json;
        RETURN;
    END IF;
    -- FOR SHARE: orders this against rv_audio_delete of the same audio.
    PERFORM 1 FROM audios a WHERE a.id = p_audio AND a.user_id = (l.p).user_id FOR SHARE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'audio_not_found', NULL::json;
        RETURN;
    END IF;
    IF (l.p).status <> 'draft' THEN
        RETURN QUERY SELECT 'invalid_state', NULL::json;
        RETURN;
    END IF;
    INSERT INTO project_audios (project_id, audio_id) VALUES (p_project, p_audio)
    ON CONFLICT DO NOTHING;
    UPDATE projects x SET updated_at = now() WHERE x.id = p_project;
    RETURN QUERY SELECT 'ok', rv_project_json(x, rv_uid()) FROM projects x WHERE x.id = p_project;
END $$;
REVOKE ALL ON FUNCTION rv_project_audio_add FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_audio_add TO reelvox_app;

CREATE OR REPLACE FUNCTION rv_project_audio_remove(p_project uuid, p_audio uuid)
RETURNS TABLE (outcome text, project_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    l record;
BEGIN
    SELECT * INTO l FROM rv_project_lock(p_project, '{owner}');
    IF l.outcome <> 'ok' THEN
        RETURN QUERY SELECT l.outcome, NULL::json;
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM project_audios pa
                    WHERE pa.project_id = p_project AND pa.audio_id = p_audio) THEN
        RETURN QUERY SELECT 'audio_not_found', NULL::json;
        RETURN;
    END IF;
    IF (l.p).status <> 'draft' THEN
        RETURN QUERY SELECT 'invalid_state', NULL::json;
        RETURN;
    END IF;
    DELETE FROM project_audios pa WHERE pa.project_id = p_project AND pa.audio_id = p_audio;
    UPDATE projects x SET updated_at = now() WHERE x.id = p_project;
    RETURN QUERY SELECT 'ok', rv_project_json(x, rv_uid()) FROM projects x WHERE x.id = p_project;
END $$;
REVOKE ALL ON FUNCTION rv_project_audio_remove FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_audio_remove TO reelvox_app;

-- ---------------------------------------------------------------- estimate
-- The transparent rule-based estimate (method "rules"): admin_config
-- estimate_rates — setupMinutes once, then for each audio its minutes times
-- minutesPerAudioMinute of its source (upload|generated), every work minute at
-- centsPerWorkMinute.
CREATE OR REPLACE FUNCTION rv_estimate_rules(p_project uuid) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r jsonb := COALESCE((SELECT value FROM admin_config WHERE key = 'estimate_rates'), '{}');
    setup bigint := COALESCE((r ->> 'setupMinutes')::numeric, 15)::bigint;
    rate numeric := COALESCE((r ->> 'centsPerWorkMinute')::numeric, 100);
    items jsonb := '[]';
    a record;
    mins bigint;
    total_min bigint := 0;
    total_cents bigint := 0;
BEGIN
    IF setup > 0 THEN
        items := items || jsonb_build_array(jsonb_build_object(
            'task', 'Setup, listening and final review', 'minutes', setup,
            'costCents', ceil(setup * rate)::bigint));
        total_min := setup;
        total_cents := ceil(setup * rate)::bigint;
    END IF;
    FOR a IN SELECT au.filename, au.source, COALESCE(au.duration_ms, 0) AS ms
               FROM project_audios pa JOIN audios au ON au.id = pa.audio_id
              WHERE pa.project_id = p_project ORDER BY pa.added_at, pa.audio_id
    LOOP
        mins := GREATEST(1, ceil(a.ms / 60000.0
                  * COALESCE((r -> 'minutesPerAudioMinute' ->> a.source)::numeric, 4)))::bigint;
        items := items || jsonb_build_array(jsonb_build_object(
            'task', 'Edit and master ' || a.filename, 'minutes', mins,
            'costCents', ceil(mins * rate)::bigint));
        total_min := total_min + mins;
        total_cents := total_cents + ceil(mins * rate)::bigint;
    END LOOP;
    RETURN jsonb_build_object(
        'costCents', total_cents, 'durationMinutes', total_min, 'breakdown', items,
        'assumptions', format('Rule-based estimate, not AI: %s setup minutes, then per minute '
                              'of audio %s work minutes for uploads and %s for generated '
                              'speech, at %s cents per work minute.', setup,
                              COALESCE(r -> 'minutesPerAudioMinute' ->> 'upload', '4'),
                              COALESCE(r -> 'minutesPerAudioMinute' ->> 'generated', '2'), rate),
        'method', 'rules');
END $$;
REVOKE ALL ON FUNCTION rv_estimate_rules FROM PUBLIC, reelvox_app, reelvox_poller;

-- The owner asks for an estimate of a draft: an estimate job (rv_submit: charge,
-- idempotency, rate limit, provider) and the project to estimating, in one
-- transaction. The job's input names the project and, for the provider, its name,
-- description and each audio's duration and kind. Outcomes as rv_submit's, plus
-- not_found | forbidden | invalid_state.
CREATE OR REPLACE FUNCTION rv_project_estimate(p_project uuid, p_idem text, p_available text[],
                                               p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    l record;
    s record;
    input jsonb := jsonb_build_object('projectId', p_project);
BEGIN
    SELECT * INTO l FROM rv_project_lock(p_project, '{owner}');
    IF l.outcome <> 'ok' THEN
        RETURN QUERY SELECT l.outcome, NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    -- A repeated key answers its job whatever the project's status is now.
    SELECT * INTO s FROM rv_submit_repeat('estimate', p_idem, rv_request_hash('estimate', input)) r;
    IF s.status IS NOT NULL THEN
        RETURN QUERY SELECT s.status, s.job_json, s.job_id, s.retry_after, s.required, s.balance;
        RETURN;
    END IF;
    IF (l.p).status <> 'draft' THEN
        RETURN QUERY SELECT 'invalid_state', NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    SELECT * INTO s FROM rv_submit('estimate', input, p_idem, p_available, p_token, NULL,
        jsonb_build_object('project', jsonb_build_object(
            'name', (l.p).name, 'description', (l.p).description,
            'audios', COALESCE((SELECT jsonb_agg(jsonb_build_object(
                          'filename', a.filename, 'durationMs', a.duration_ms, 'kind', a.source)
                          ORDER BY pa.added_at, pa.audio_id)
                        FROM project_audios pa JOIN audios a ON a.id = pa.audio_id
                       WHERE pa.project_id = p_project), '[]')))) r;
    IF s.status = 'created' THEN
        UPDATE projects x SET status = 'estimating', estimate_job_id = s.job_id,
                              estimate_error = NULL
         WHERE x.id = p_project;
    END IF;
    RETURN QUERY SELECT s.status, s.job_json, s.job_id, s.retry_after, s.required, s.balance;
END $$;
REVOKE ALL ON FUNCTION rv_project_estimate FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_estimate TO reelvox_app;

-- An estimate job's end moves its project, in the same transaction whatever ended
-- it (the poller's success or failure, a deadline, the user's cancel of the job):
-- succeeded → ready with output.estimate; failed or cancelled → draft with the
-- job's error (rv_job_fail/rv_job_cancel refund the job). Only a project still
-- estimating with this job moves (a cancelled project stays cancelled).
CREATE OR REPLACE FUNCTION rv_jobs_estimate_end() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.status = 'succeeded' THEN
        UPDATE projects x SET status = 'ready', estimate = NEW.output -> 'estimate',
                              estimate_error = NULL
         WHERE x.estimate_job_id = NEW.id AND x.status = 'estimating';
    ELSIF NEW.status IN ('failed', 'cancelled') THEN
        UPDATE projects x SET status = 'draft', estimate_error = NEW.error
         WHERE x.estimate_job_id = NEW.id AND x.status = 'estimating';
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION rv_jobs_estimate_end FROM PUBLIC, reelvox_app, reelvox_poller;
CREATE OR REPLACE TRIGGER jobs_estimate_end AFTER UPDATE OF status ON jobs FOR EACH ROW
    WHEN (NEW.kind = 'estimate' AND NEW.status IS DISTINCT FROM OLD.status
          AND NEW.status IN ('succeeded', 'failed', 'cancelled'))
    EXECUTE FUNCTION rv_jobs_estimate_end();

-- The poller records an estimate (p_estimate: the API's estimate object, checked
-- by the caller); the trigger above moves the project. False when the job had
-- ended already.
CREATE OR REPLACE FUNCTION rv_estimate_succeed(p_job uuid, p_estimate jsonb)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
BEGIN
    SELECT * INTO j FROM jobs x WHERE x.id = p_job AND x.kind = 'estimate' FOR UPDATE;
    IF NOT FOUND OR rv_job_terminal(j.status) THEN
        RETURN false;
    END IF;
    UPDATE jobs x SET status = 'succeeded', progress = 100, completed_at = now(),
                      started_at = COALESCE(x.started_at, now()), locked_until = NULL,
                      locked_by = NULL, error = NULL,
                      output = jsonb_build_object('projectId', j.input ->> 'projectId',
                                                  'estimate', p_estimate)
     WHERE x.id = p_job;
    PERFORM pg_notify('reelvox_done', p_job::text);
    RETURN true;
END $$;
REVOKE ALL ON FUNCTION rv_estimate_succeed FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_estimate_succeed TO reelvox_poller;

-- The local provider's estimate: the rules, at once. outcome: succeeded | failed
-- (unusable rates: the job failed and refunded, the project back to draft) | ended
-- (the job had ended already).
CREATE OR REPLACE FUNCTION rv_estimate_local(p_job uuid, p_poller text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs := (SELECT x FROM jobs x WHERE x.id = p_job AND x.kind = 'estimate');
    est jsonb;
BEGIN
    IF j.id IS NULL OR rv_job_terminal(j.status) THEN
        RETURN 'ended';
    END IF;
    PERFORM rv_job_started_local(p_job, p_poller);
    BEGIN
        est := rv_estimate_rules((j.input ->> 'projectId')::uuid);
    EXCEPTION WHEN data_exception THEN -- rates that are no numbers: fails for good
        PERFORM rv_job_fail(p_job, jsonb_build_object('code', 'estimate_failed', 'message',
            'the estimate rates (admin_config estimate_rates) are not usable numbers'));
        RETURN 'failed';
    END;
    RETURN CASE WHEN rv_estimate_succeed(p_job, est) THEN 'succeeded' ELSE 'ended' END;
END $$;
REVOKE ALL ON FUNCTION rv_estimate_local FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_estimate_local TO reelvox_poller;

-- ------------------------------------------------------- expert and escrow
-- ⌈costCents ÷ escrow.centsPerCredit⌉ of an estimate.
CREATE OR REPLACE FUNCTION rv_project_price(p_estimate jsonb) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT ceil(COALESCE((p_estimate ->> 'costCents')::numeric, 0)
                / GREATEST(COALESCE((SELECT (value ->> 'centsPerCredit')::numeric
                                       FROM admin_config WHERE key = 'escrow'), 1), 0.0001))::bigint
$$;

-- escrow.<p_key> as a percentage 0..100 (p_default when missing).
CREATE OR REPLACE FUNCTION rv_escrow_percent(p_key text, p_default numeric) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT LEAST(100, GREATEST(0, COALESCE((SELECT (value ->> p_key)::numeric FROM admin_config
                                             WHERE key = 'escrow'), p_default)))
$$;

-- The owner assigns an expert (a user with role expert and a profile, not offline)
-- to a ready project: the price is held from the owner's balance in escrow
-- (escrow_hold) and the project goes in_progress, in one transaction. outcome also
-- expert_not_found | expert_offline | insufficient (required, balance).
CREATE OR REPLACE FUNCTION rv_project_assign(p_project uuid, p_expert uuid)
RETURNS TABLE (outcome text, project_json json, required bigint, balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    l record;
    e expert_profiles;
    price bigint;
    bal bigint;
    p projects;
BEGIN
    SELECT * INTO l FROM rv_project_lock(p_project, '{owner}');
    IF l.outcome <> 'ok' THEN
        RETURN QUERY SELECT l.outcome, NULL::json, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    SELECT ep.* INTO e FROM expert_profiles ep JOIN users u ON u.id = ep.user_id
     WHERE ep.user_id = p_expert AND u.role = 'expert' AND u.id <> (l.p).user_id
       FOR SHARE OF ep;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'expert_not_found', NULL::json, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    IF (l.p).status <> 'ready' THEN
        RETURN QUERY SELECT 'invalid_state', NULL::json, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    IF e.availability = 'offline' THEN
        RETURN QUERY SELECT 'expert_offline', NULL::json, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    price := rv_project_price((l.p).estimate);
    SELECT u.credits INTO bal FROM users u WHERE u.id = (l.p).user_id FOR UPDATE;
    IF bal < price THEN
        RETURN QUERY SELECT 'insufficient', NULL::json, price, bal;
        RETURN;
    END IF;
    IF price > 0 THEN
        PERFORM rv_credit_move((l.p).user_id, -price, 'escrow_hold',
                               'Escrow for project ' || p_project);
    END IF;
    UPDATE projects x SET status = 'in_progress', expert_id = p_expert, price_credits = price,
                          escrow_credits = price
     WHERE x.id = p_project RETURNING * INTO p;
    RETURN QUERY SELECT 'ok', rv_project_json(p, rv_uid()), price, bal - price;
END $$;
REVOKE ALL ON FUNCTION rv_project_assign FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_assign TO reelvox_app;

-- Pays p_amount of the project's escrow to its expert, less escrow.feePercent
-- (⌊amount × feePercent ÷ 100⌋, platform_fee).
CREATE OR REPLACE FUNCTION rv_escrow_release(p projects, p_amount bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    fee bigint := floor(p_amount * rv_escrow_percent('feePercent', 10) / 100)::bigint;
BEGIN
    IF p_amount <= 0 THEN
        RETURN;
    END IF;
    PERFORM rv_credit_move(p.expert_id, p_amount, 'escrow_release',
                           'Escrow released for project ' || p.id);
    IF fee > 0 THEN
        PERFORM rv_credit_move(p.expert_id, -fee, 'platform_fee',
                               'Platform fee for project ' || p.id);
    END IF;
END $$;
REVOKE ALL ON FUNCTION rv_escrow_release FROM PUBLIC, reelvox_app, reelvox_poller;

-- ------------------------------------------------------------ deliverables
CREATE OR REPLACE FUNCTION rv_deliverable_json(d project_deliverables, a audios) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', d.id, 'audioId', a.id, 'filename', a.filename, 'durationMs', a.duration_ms,
        'createdAt', rv_ts(d.created_at), 'storageKey', a.storage_key))
$$;
REVOKE ALL ON FUNCTION rv_deliverable_json FROM PUBLIC, reelvox_app, reelvox_poller;

-- The assigned expert adds one of their own audios to an in_progress project.
CREATE OR REPLACE FUNCTION rv_project_deliverable_add(p_project uuid, p_audio uuid)
RETURNS TABLE (outcome text, deliverable_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    l record;
    a audios;
    d project_deliverables;
BEGIN
    SELECT * INTO l FROM rv_project_lock(p_project, '{expert}');
    IF l.outcome <> 'ok' THEN
        RETURN QUERY SELECT l.outcome, NULL::json;
        RETURN;
    END IF;
    SELECT * INTO a FROM audios x WHERE x.id = p_audio AND x.user_id = rv_uid() FOR SHARE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'audio_not_found', NULL::json;
        RETURN;
    END IF;
    IF (l.p).status <> 'in_progress' THEN
        RETURN QUERY SELECT 'invalid_state', NULL::json;
        RETURN;
    END IF;
    INSERT INTO project_deliverables (project_id, audio_id) VALUES (p_project, p_audio)
    ON CONFLICT (project_id, audio_id) DO UPDATE SET project_id = EXCLUDED.project_id
    RETURNING * INTO d;
    UPDATE projects x SET updated_at = now() WHERE x.id = p_project;
    RETURN QUERY SELECT 'ok', rv_deliverable_json(d, a);
END $$;
REVOKE ALL ON FUNCTION rv_project_deliverable_add FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_deliverable_add TO reelvox_app;

-- The deliverables, oldest first: {items: [deliverable]}.
CREATE OR REPLACE FUNCTION rv_project_deliverables(p_project uuid)
RETURNS TABLE (outcome text, list_json json)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    p projects := (SELECT x FROM projects x WHERE x.id = p_project);
BEGIN
    IF rv_project_access(p) IS NULL THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok', json_build_object('items', COALESCE(json_agg(
                     rv_deliverable_json(d, a) ORDER BY d.created_at, d.id), '[]'))
                   FROM project_deliverables d JOIN audios a ON a.id = d.audio_id
                  WHERE d.project_id = p_project;
END $$;
REVOKE ALL ON FUNCTION rv_project_deliverables FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_deliverables TO reelvox_app;

-- ------------------------------------------------------------------ moves
-- The moves of a project after assignment, by their name in the API:
--   submit  (the expert)          in_progress → review (a deliverable first)
--   accept  (the owner)           review → completed: the escrow released to the
--                                 expert less the fee
--   changes (the owner; message)  review → in_progress, the message in the thread
--   cancel  (the owner or admin)  any non-terminal → cancelled: the escrow back to
--                                 the owner in full while nothing was submitted,
--                                 else escrow.cancelRefundPercent of it (⌊…⌋) and
--                                 the rest released to the expert (less the fee);
--                                 a running estimate job is cancelled and refunded
CREATE OR REPLACE FUNCTION rv_project_act(p_project uuid, p_action text, p_message text)
RETURNS TABLE (outcome text, project_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    l record;
    p projects;
    target text := CASE p_action WHEN 'submit' THEN 'review' WHEN 'accept' THEN 'completed'
                                 WHEN 'changes' THEN 'in_progress' WHEN 'cancel' THEN 'cancelled'
                   END;
    refund bigint;
BEGIN
    IF target IS NULL THEN
        RAISE EXCEPTION 'no such action: %', p_action USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO l FROM rv_project_lock(p_project, CASE p_action
        WHEN 'submit' THEN '{expert}'::text[] WHEN 'cancel' THEN '{owner,admin}'::text[]
        ELSE '{owner}'::text[] END);
    IF l.outcome <> 'ok' THEN
        RETURN QUERY SELECT l.outcome, NULL::json;
        RETURN;
    END IF;
    p := l.p;
    IF NOT rv_project_move_ok(p.status, target)
       OR (p_action = 'changes' AND p.status <> 'review') THEN
        RETURN QUERY SELECT 'invalid_state', NULL::json;
        RETURN;
    END IF;
    IF p_action = 'submit' AND NOT EXISTS (SELECT 1 FROM project_deliverables d
                                             WHERE d.project_id = p.id) THEN
        RETURN QUERY SELECT 'no_deliverables', NULL::json;
        RETURN;
    END IF;
    IF p_action = 'accept' THEN
        PERFORM rv_escrow_release(p, p.escrow_credits);
        UPDATE projects x SET escrow_credits = 0 WHERE x.id = p.id;
    ELSIF p_action = 'cancel' AND p.escrow_credits > 0 THEN
        refund := CASE WHEN p.submitted_at IS NULL THEN p.escrow_credits
                       ELSE floor(p.escrow_credits
                                  * rv_escrow_percent('cancelRefundPercent', 50) / 100)::bigint END;
        IF refund > 0 THEN
            PERFORM rv_credit_move(p.user_id, refund, 'escrow_refund',
                                   'Escrow refunded for project ' || p.id);
        END IF;
        PERFORM rv_escrow_release(p, p.escrow_credits - refund);
        UPDATE projects x SET escrow_credits = 0 WHERE x.id = p.id;
    ELSIF p_action = 'changes' THEN
        INSERT INTO project_messages (project_id, author_id, body)
        VALUES (p.id, rv_uid(), p_message);
    END IF;
    UPDATE projects x SET status = target,
                          submitted_at = CASE WHEN p_action = 'submit'
                                              THEN COALESCE(x.submitted_at, now())
                                              ELSE x.submitted_at END
     WHERE x.id = p.id RETURNING * INTO p;
    -- After the move: the job's end then finds the project cancelled, not estimating.
    IF p_action = 'cancel' AND p.estimate_job_id IS NOT NULL THEN
        UPDATE jobs j SET status = 'cancelled', completed_at = now(), locked_until = NULL,
                          error = '{"code": "cancelled", "message": "the project was cancelled"}',
                          cancel_at_provider = j.provider_job_id IS NOT NULL
                                               OR j.status = 'dispatching'
         WHERE j.id = p.estimate_job_id AND NOT rv_job_terminal(j.status);
        IF FOUND THEN
            PERFORM rv_job_refund(p.estimate_job_id);
            PERFORM pg_notify('reelvox_jobs', p.estimate_job_id::text);
        END IF;
    END IF;
    RETURN QUERY SELECT 'ok', rv_project_json(p, rv_uid());
END $$;
REVOKE ALL ON FUNCTION rv_project_act FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_act TO reelvox_app;

-- ------------------------------------------------------------------ rating
-- The owner rates a completed project's expert once (a second time: rated). The
-- expert's average follows (trigger project_ratings_sum).
CREATE OR REPLACE FUNCTION rv_project_rate(p_project uuid, p_stars integer, p_comment text)
RETURNS TABLE (outcome text, rating_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    l record;
    r project_ratings;
BEGIN
    SELECT * INTO l FROM rv_project_lock(p_project, '{owner}');
    IF l.outcome <> 'ok' THEN
        RETURN QUERY SELECT l.outcome, NULL::json;
        RETURN;
    END IF;
    IF (l.p).status <> 'completed' OR (l.p).expert_id IS NULL THEN
        RETURN QUERY SELECT 'invalid_state', NULL::json;
        RETURN;
    END IF;
    INSERT INTO project_ratings (project_id, expert_id, owner_id, stars, comment)
    VALUES (p_project, (l.p).expert_id, rv_uid(), p_stars, COALESCE(p_comment, ''))
    ON CONFLICT (project_id) DO NOTHING
    RETURNING * INTO r;
    IF r.project_id IS NULL THEN
        RETURN QUERY SELECT 'rated', NULL::json;
        RETURN;
    END IF;
    RETURN QUERY SELECT 'ok', json_build_object(
        'projectId', r.project_id, 'expertId', r.expert_id, 'stars', r.stars,
        'comment', r.comment, 'createdAt', rv_ts(r.created_at));
END $$;
REVOKE ALL ON FUNCTION rv_project_rate FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_rate TO reelvox_app;

CREATE OR REPLACE FUNCTION rv_project_ratings_sum() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE expert_profiles e SET rating_sum = e.rating_sum - OLD.stars,
                                     rating_count = e.rating_count - 1
         WHERE e.user_id = OLD.expert_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE expert_profiles e SET rating_sum = e.rating_sum + NEW.stars,
                                     rating_count = e.rating_count + 1
         WHERE e.user_id = NEW.expert_id;
    END IF;
    RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION rv_project_ratings_sum FROM PUBLIC, reelvox_app, reelvox_poller;
CREATE OR REPLACE TRIGGER project_ratings_sum AFTER INSERT OR UPDATE OR DELETE ON project_ratings
    FOR EACH ROW EXECUTE FUNCTION rv_project_ratings_sum();

-- ---------------------------------------------------------------- messages
CREATE OR REPLACE FUNCTION rv_message_json(m project_messages) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', m.id, 'authorId', m.author_id, 'body', m.body,
                             'createdAt', rv_ts(m.created_at))
$$;

-- The owner or the assigned expert writes in the project's thread (an admin: forbidden).
CREATE OR REPLACE FUNCTION rv_project_message_add(p_project uuid, p_body text)
RETURNS TABLE (outcome text, message_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    l record;
    m project_messages;
BEGIN
    SELECT * INTO l FROM rv_project_lock(p_project, '{owner,expert}');
    IF l.outcome <> 'ok' THEN
        RETURN QUERY SELECT l.outcome, NULL::json;
        RETURN;
    END IF;
    INSERT INTO project_messages (project_id, author_id, body) VALUES (p_project, rv_uid(), p_body)
    RETURNING * INTO m;
    RETURN QUERY SELECT 'ok', rv_message_json(m);
END $$;
REVOKE ALL ON FUNCTION rv_project_message_add FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_message_add TO reelvox_app;

-- A page of the thread, newest first; the reader's unread messages (the other
-- side's) become read. Rows: (outcome, total, message_json); one row with NULL json
-- when the page is empty.
CREATE OR REPLACE FUNCTION rv_project_messages(p_project uuid, p_limit integer, p_offset integer)
RETURNS TABLE (outcome text, total bigint, message_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    p projects := (SELECT x FROM projects x WHERE x.id = p_project);
    acc text := rv_project_access(p);
BEGIN
    IF acc IS NULL THEN
        RETURN QUERY SELECT 'not_found', 0::bigint, NULL::json;
        RETURN;
    END IF;
    IF acc IN ('owner', 'expert') THEN
        UPDATE project_messages m SET read_at = now()
         WHERE m.project_id = p_project AND m.read_at IS NULL
           AND m.author_id IS DISTINCT FROM rv_uid();
    END IF;
    RETURN QUERY
    SELECT 'ok', t.n, pg.j
      FROM (SELECT count(*) AS n FROM project_messages m WHERE m.project_id = p_project) t
      LEFT JOIN LATERAL (SELECT rv_message_json(m) AS j, m.created_at, m.id
                           FROM project_messages m WHERE m.project_id = p_project
                          ORDER BY m.created_at DESC, m.id DESC
                          LIMIT p_limit OFFSET p_offset) pg ON true
     ORDER BY pg.created_at DESC, pg.id DESC;
END $$;
REVOKE ALL ON FUNCTION rv_project_messages FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_project_messages TO reelvox_app;

-- Which provider an estimate job was given (local: rules; openai: a language model).
CREATE OR REPLACE FUNCTION rv_estimate_provider(p_job uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT provider FROM jobs WHERE id = p_job AND kind = 'estimate'
$$;
REVOKE ALL ON FUNCTION rv_estimate_provider FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_estimate_provider TO reelvox_poller;
