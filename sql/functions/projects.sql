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
