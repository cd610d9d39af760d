-- The job state machine: every move is a function that refuses an illegal one;
-- terminal states are final (trigger jobs_guard). The user's side (cancel, refund)
-- first, then the poller's. Submitting: submit.sql.

CREATE OR REPLACE FUNCTION rv_job_terminal(s text) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT s IN ('succeeded', 'failed', 'cancelled') $$;

-- Terminal states are final, whatever code path tries to move them.
CREATE OR REPLACE FUNCTION rv_jobs_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF rv_job_terminal(OLD.status) AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'job % is % and cannot become %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER jobs_guard BEFORE UPDATE ON jobs FOR EACH ROW
    EXECUTE FUNCTION rv_jobs_guard();

-- A succeeded job's result: its output, but for a clip {clipId, durationMs} (the
-- handler adds url and posterUrl from the clip's row; storage keys stay inside).
CREATE OR REPLACE FUNCTION rv_job_result(j jobs) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT CASE j.kind
           WHEN 'video_clip' THEN jsonb_build_object('clipId', j.input -> 'clipId',
                                                     'durationMs', j.output -> 'durationMs')
           ELSE j.output END
$$;

-- The job as API.md shows it. `result.url` is added by the handler (it signs it),
-- as text: `result` must stay the last member (common/views.c). The input's `voice`
-- (provider ids) and a conversion's `source` (the storage key the poller signs a
-- link to for the provider) stay inside.
CREATE OR REPLACE FUNCTION rv_job_json(j jobs) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', j.id, 'kind', j.kind, 'status', j.status, 'progress', j.progress,
        'input', j.input - 'voice' - 'source' - 'imageKey',
        'error', CASE WHEN j.status IN ('failed', 'cancelled') THEN j.error END,
        'costCredits', j.cost_credits, 'provider', j.provider,
        'createdAt', rv_ts(j.created_at), 'startedAt', rv_ts(j.started_at),
        'completedAt', rv_ts(j.completed_at),
        'result', CASE WHEN j.status = 'succeeded' THEN rv_job_result(j) END))
$$;

CREATE OR REPLACE FUNCTION rv_job_cost(p_kind text, p_input jsonb) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    c jsonb := (SELECT value -> p_kind FROM admin_config WHERE key = 'job_costs');
    n bigint;
BEGIN
    IF c IS NULL THEN
        RETURN 1;
    END IF;
    IF c ? 'perChars' THEN
        n := ceil(length(COALESCE(p_input ->> 'text', p_input ->> 'prompt', ''))::numeric
                  / GREATEST((c ->> 'perChars')::numeric, 1)) * (c ->> 'credits')::numeric;
    ELSIF c ? 'perSecond' THEN
        n := GREATEST(ceil(COALESCE((p_input ->> 'durationSeconds')::numeric, 0)
                           * (c ->> 'perSecond')::numeric), COALESCE((c ->> 'min')::bigint, 0));
    ELSE
        n := COALESCE((c ->> 'flat')::bigint, 1);
    END IF;
    RETURN GREATEST(n, 0);
END $$;

-- ------------------------------------------------------------ cancel and refund
-- A user's cancel (any job's, for an admin). p_user is ignored: the request's user
-- cancels. status: ok | not_found | invalid_state.
CREATE OR REPLACE FUNCTION rv_job_cancel(p_user uuid, p_job uuid)
RETURNS TABLE (status text, job_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job AND (user_id = rv_uid() OR rv_role() = 'admin')
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found', NULL::json;
        RETURN;
    END IF;
    IF rv_job_terminal(j.status) THEN
        RETURN QUERY SELECT 'invalid_state', rv_job_json(j);
        RETURN;
    END IF;
    UPDATE jobs SET status = 'cancelled', completed_at = now(), locked_until = NULL,
                    error = '{"code": "cancelled", "message": "cancelled by the user"}',
                    cancel_at_provider = j.provider_job_id IS NOT NULL OR j.status = 'dispatching'
     WHERE id = p_job RETURNING * INTO j;
    PERFORM rv_job_refund(j.id);
    PERFORM pg_notify('reelvox_jobs', j.id::text);
    RETURN QUERY SELECT 'ok', rv_job_json(j);
END $$;
REVOKE ALL ON FUNCTION rv_job_cancel FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_cancel TO reelvox_app;

-- Gives a failed or cancelled job's credits back, at most once: the ledger's
-- unique index credit_ledger_job_once (job_id, kind) holds a second refund row
-- out, so a second call — concurrent or later, with or without the job's lock —
-- moves nothing (its balance change rolls back with the refused row).
CREATE OR REPLACE FUNCTION rv_job_refund(p_job uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs := (SELECT x FROM jobs x WHERE x.id = p_job);
BEGIN
    IF j.cost_credits > 0 AND j.status IN ('failed', 'cancelled') THEN
        BEGIN
            PERFORM rv_credit_move(j.user_id, j.cost_credits, 'job_refund',
                                   j.kind || ' job refund', j.id);
        EXCEPTION WHEN unique_violation THEN
            NULL; -- refunded already
        END;
    END IF;
END $$;
REVOKE ALL ON FUNCTION rv_job_refund FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_refund TO reelvox_poller;

-- ------------------------------------------------------------ the poller's side
-- A lease (locked_until/locked_by) marks a job one poller is working on; any other
-- poller skips it until it runs out, so a dead poller's work is taken up again.

-- Due queued jobs, dispatches whose lease ran out, and jobs run here (provider_job_id
-- local: local work and blocking LLM calls) whose runner died (rescue: the caller must look
-- the job up at the provider before submitting it again: `rescued` tells; no work
-- of the job can be older than `created_s`, seconds since the epoch). Only jobs of
-- p_providers: a poller without a provider's key leaves its jobs to others.
-- p_fresh_only: queued jobs only, no rescues (a sweep's first, quick dispatch).
CREATE OR REPLACE FUNCTION rv_jobs_claim(p_poller text, p_providers text[], p_limit integer,
                                         p_lease integer, p_fresh_only boolean DEFAULT false)
RETURNS TABLE (job_id uuid, kind text, input jsonb, provider text, provider_model text,
               provider_job_id text, callback_token text, attempts integer,
               max_attempts integer, user_id uuid, rescued boolean, created_s bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT id, status <> 'queued' AS rescued FROM jobs
         WHERE ((status = 'queued' AND run_at <= now())
                OR (NOT p_fresh_only AND status = 'dispatching' AND locked_until < now())
                OR (NOT p_fresh_only AND status = 'running' AND provider_job_id = 'local'
                    AND (locked_until IS NULL OR locked_until < now())))
           AND provider = ANY (p_providers)
         ORDER BY run_at
         LIMIT p_limit
         FOR UPDATE SKIP LOCKED
    )
    UPDATE jobs j SET status = 'dispatching', attempts = j.attempts + 1,
                      locked_until = now() + make_interval(secs => p_lease), locked_by = p_poller
      FROM due
     WHERE j.id = due.id
    RETURNING j.id, j.kind, j.input, j.provider, j.provider_model, j.provider_job_id,
              j.callback_token, j.attempts, j.max_attempts, j.user_id, due.rescued,
              floor(extract(epoch FROM j.created_at))::bigint
$$;
REVOKE ALL ON FUNCTION rv_jobs_claim FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_jobs_claim TO reelvox_poller;

-- Running jobs due for a status check (their webhook is late), leased for the check.
CREATE OR REPLACE FUNCTION rv_jobs_due_checks(p_poller text, p_limit integer, p_lease integer)
RETURNS TABLE (job_id uuid, kind text, input jsonb, provider text, provider_job_id text,
               user_id uuid)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT id FROM jobs
         WHERE status = 'running' AND run_at <= now()
           AND (locked_until IS NULL OR locked_until < now())
         ORDER BY run_at LIMIT p_limit FOR UPDATE SKIP LOCKED
    )
    UPDATE jobs j SET locked_until = now() + make_interval(secs => p_lease), locked_by = p_poller
      FROM due WHERE j.id = due.id
    RETURNING j.id, j.kind, j.input, j.provider, j.provider_job_id, j.user_id
$$;
REVOKE ALL ON FUNCTION rv_jobs_due_checks FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_jobs_due_checks TO reelvox_poller;

-- Leases one job for finishing work (webhook event, download). NULL row if another
-- poller holds it or it is terminal.
CREATE OR REPLACE FUNCTION rv_job_lease(p_job uuid, p_poller text, p_lease integer)
RETURNS TABLE (job_id uuid, kind text, input jsonb, provider text, provider_job_id text,
               user_id uuid, status text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE jobs j SET locked_until = now() + make_interval(secs => p_lease), locked_by = p_poller
     WHERE j.id = p_job AND NOT rv_job_terminal(j.status)
       AND (j.locked_until IS NULL OR j.locked_until < now() OR j.locked_by = p_poller)
    RETURNING j.id, j.kind, j.input, j.provider, j.provider_job_id, j.user_id, j.status
$$;
REVOKE ALL ON FUNCTION rv_job_lease FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_lease TO reelvox_poller;

-- The provider accepted the job (or reported progress): running, next check later.
-- A queued job is taken over too: work of it exists at the provider after all.
-- Work other than what the job already holds is not taken over: it is recorded as
-- a duplicate and 'duplicate' is returned (the caller cancels it). Otherwise returns
-- 'running', or else the job's status: terminal (the caller stops the provider's
-- work) or another poller's (it leaves the job alone).
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
REVOKE ALL ON FUNCTION rv_job_running FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_running TO reelvox_poller;

-- Of p_ids (work at p_provider), those some job already holds: a rescue looking a
-- job up at the provider never adopts them.
CREATE OR REPLACE FUNCTION rv_provider_work_taken(p_provider text, p_ids text[])
RETURNS SETOF text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT provider_job_id FROM jobs WHERE provider = p_provider AND provider_job_id = ANY (p_ids)
$$;
REVOKE ALL ON FUNCTION rv_provider_work_taken FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_provider_work_taken TO reelvox_poller;

-- Whether p_provider_job_id is work other than what the job holds; if so, recorded.
CREATE OR REPLACE FUNCTION rv_provider_duplicate(p_job uuid, p_provider_job_id text)
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
REVOKE ALL ON FUNCTION rv_provider_duplicate FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_provider_duplicate TO reelvox_poller;

-- A job's status, NULL if there is no such job (whoever asks: the poller reads
-- no rows of jobs directly, row level security hides them from it).
CREATE OR REPLACE FUNCTION rv_job_status(p_job uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT status FROM jobs WHERE id = p_job
$$;
REVOKE ALL ON FUNCTION rv_job_status FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_status TO reelvox_poller;

-- A local job started synthesising: running, and the poller's lease kept, so a
-- job whose poller and child both died is rescued when the lease runs out.
CREATE OR REPLACE FUNCTION rv_job_started_local(p_job uuid, p_poller text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE jobs SET status = 'running', progress = GREATEST(progress, 10),
                    provider_job_id = 'local', started_at = COALESCE(started_at, now())
     WHERE id = p_job AND status IN ('dispatching', 'running') AND locked_by = p_poller;
    RETURN FOUND;
END $$;
REVOKE ALL ON FUNCTION rv_job_started_local FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_started_local TO reelvox_poller;

-- Releases a lease without changing anything else (check found nothing new).
CREATE OR REPLACE FUNCTION rv_job_release(p_job uuid, p_poller text, p_check_in integer)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE jobs SET locked_until = NULL, locked_by = NULL,
                    run_at = CASE WHEN status = 'running'
                                  THEN now() + make_interval(secs => p_check_in) ELSE run_at END
     WHERE id = p_job AND locked_by = p_poller AND NOT rv_job_terminal(status)
$$;
REVOKE ALL ON FUNCTION rv_job_release FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_release TO reelvox_poller;

-- A transient failure: back to the queue at p_run_in seconds, or failed (and
-- refunded) when the attempts are used up. Returns the new status.
CREATE OR REPLACE FUNCTION rv_job_retry(p_job uuid, p_poller text, p_run_in double precision,
                                        p_error jsonb)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND OR rv_job_terminal(j.status) THEN
        RETURN j.status;
    END IF;
    IF j.attempts >= j.max_attempts THEN
        RETURN rv_job_fail(p_job, p_error);
    END IF;
    UPDATE jobs SET status = 'queued', error = p_error, provider_job_id = NULL,
                    run_at = now() + make_interval(secs => p_run_in),
                    locked_until = NULL, locked_by = NULL
     WHERE id = p_job;
    RETURN 'queued';
END $$;
REVOKE ALL ON FUNCTION rv_job_retry FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_retry TO reelvox_poller;

-- A dispatch whose outcome is unknown (no answer, an unreadable one, a 5xx): the
-- work may exist at the provider. The job stays dispatching and its lease runs out
-- in p_run_in seconds, so it comes back as a rescue, which looks the job up at the
-- provider before anything is submitted again; meanwhile a webhook of that work is
-- taken by this poller. Failed (and refunded) when the attempts are used up.
-- Returns the new status.
CREATE OR REPLACE FUNCTION rv_job_recheck(p_job uuid, p_poller text, p_run_in double precision,
                                          p_error jsonb)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND OR j.status <> 'dispatching' OR j.locked_by IS DISTINCT FROM p_poller THEN
        RETURN j.status; -- ended, or moved on by a webhook or another poller
    END IF;
    IF j.attempts >= j.max_attempts THEN
        RETURN rv_job_fail(p_job, p_error);
    END IF;
    UPDATE jobs SET error = p_error, locked_until = now() + make_interval(secs => p_run_in)
     WHERE id = p_job;
    RETURN 'dispatching';
END $$;
REVOKE ALL ON FUNCTION rv_job_recheck FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_recheck TO reelvox_poller;

-- Fails a job and refunds it, exactly once. Returns the job's status afterwards.
CREATE OR REPLACE FUNCTION rv_job_fail(p_job uuid, p_error jsonb)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    st text;
BEGIN
    UPDATE jobs SET status = 'failed', error = p_error, completed_at = now(),
                    locked_until = NULL, locked_by = NULL
     WHERE id = p_job AND NOT rv_job_terminal(status)
    RETURNING status INTO st;
    IF st IS NULL THEN
        RETURN (SELECT status FROM jobs WHERE id = p_job);
    END IF;
    PERFORM rv_job_refund(p_job);
    PERFORM pg_notify('reelvox_done', p_job::text);
    RETURN st;
END $$;
REVOKE ALL ON FUNCTION rv_job_fail FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_fail TO reelvox_poller;

-- Success: the output is already in our storage (p_audio describes the file, whose
-- registration this claims, see rv_storage_claim); p_output adds members to the
-- job's result (a clone's voice ids). Returns false when the job was already
-- terminal (the output is then dropped by the caller).
CREATE OR REPLACE FUNCTION rv_job_succeed(p_job uuid, p_audio jsonb,
                                          p_provider_job_id text DEFAULT NULL,
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
REVOKE ALL ON FUNCTION rv_job_succeed FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_job_succeed TO reelvox_poller;

-- Many successes in one transaction, so in one commit: item i of p_items
-- ({"job", "audio", "providerJobId"}) as rv_job_succeed, each in a subtransaction
-- of its own, so that one that fails (an output not registered, a job id that is
-- not one) leaves the others done. One row per item, in order: (item, ok); ok as
-- rv_job_succeed's answer, false when it failed.
CREATE OR REPLACE FUNCTION rv_jobs_succeed(p_items jsonb)
RETURNS TABLE (item integer, ok boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    it jsonb;
BEGIN
    item := 0;
    FOR it IN SELECT value FROM jsonb_array_elements(p_items) LOOP
        item := item + 1;
        BEGIN
            ok := rv_job_succeed((it ->> 'job')::uuid, it -> 'audio', it ->> 'providerJobId');
        EXCEPTION WHEN OTHERS THEN
            ok := false;
        END;
        RETURN NEXT;
    END LOOP;
END $$;
REVOKE ALL ON FUNCTION rv_jobs_succeed FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_jobs_succeed TO reelvox_poller;

-- Jobs past their deadline, leased so their provider work can be cancelled.
CREATE OR REPLACE FUNCTION rv_jobs_overdue(p_poller text, p_limit integer, p_lease integer)
RETURNS TABLE (job_id uuid, provider text, provider_job_id text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT id FROM jobs
         WHERE status IN ('queued', 'dispatching', 'running') AND deadline_at < now()
           AND (locked_until IS NULL OR locked_until < now())
         LIMIT p_limit FOR UPDATE SKIP LOCKED
    )
    UPDATE jobs j SET locked_until = now() + make_interval(secs => p_lease), locked_by = p_poller
      FROM due WHERE j.id = due.id
    RETURNING j.id, j.provider, j.provider_job_id
$$;
REVOKE ALL ON FUNCTION rv_jobs_overdue FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_jobs_overdue TO reelvox_poller;

-- Cancelled jobs whose provider work should be stopped.
CREATE OR REPLACE FUNCTION rv_jobs_to_cancel(p_limit integer)
RETURNS TABLE (job_id uuid, provider text, provider_job_id text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT id FROM jobs WHERE cancel_at_provider LIMIT p_limit FOR UPDATE SKIP LOCKED
    )
    UPDATE jobs j SET cancel_at_provider = false FROM due WHERE j.id = due.id
    RETURNING j.id, j.provider, j.provider_job_id
$$;
REVOKE ALL ON FUNCTION rv_jobs_to_cancel FROM PUBLIC, reelvox_app, reelvox_poller;
GRANT EXECUTE ON FUNCTION rv_jobs_to_cancel TO reelvox_poller;
