-- Jobs: generation work queued by handlers and carried out by the poller, the
-- webhook inbox, generated and uploaded audio, and voices (seeded presets).
-- The job state machine lives here: every move is a function that refuses an
-- illegal one, terminal states are final (trigger), and a job's charge and refund
-- are each at most one ledger row (unique index), so a refund can't happen twice.

INSERT INTO admin_config (key, value) VALUES
    ('job_costs', '{"tts": {"perChars": 100, "credits": 1}, "sfx": {"flat": 2},
                    "voice_clone": {"flat": 50}, "voice_conversion": {"perSecond": 0.1, "min": 2}}'),
    ('rate_limits', '{"generationsPerMinute": 3}'),
    ('providers', '{"kinds": {"tts": ["replicate", "local"], "sfx": ["replicate"],
                              "voice_clone": ["replicate"], "voice_conversion": ["replicate"]},
                    "replicate": {"models": {"tts": "minimax/speech-02-turbo",
                                             "sfx": "sepal/audiogen",
                                             "voice_clone": "minimax/voice-cloning"}},
                    "deadlines": {"tts": 600, "sfx": 900, "voice_clone": 1800,
                                  "voice_conversion": 900}}')
ON CONFLICT (key) DO NOTHING;

CREATE UNIQUE INDEX credit_ledger_job_once ON credit_ledger (job_id, kind)
    WHERE job_id IS NOT NULL;

CREATE TABLE voices (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid REFERENCES users (id) ON DELETE CASCADE, -- NULL: a preset
    preset_key   text UNIQUE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'training', 'active', 'failed')),
    is_cloned    boolean NOT NULL DEFAULT false,
    language     text NOT NULL DEFAULT 'en',
    gender       text,
    sample_audio_id uuid,
    preview_audio_id uuid,
    provider_voice_ids jsonb NOT NULL DEFAULT '{}', -- {"replicate": "Wise_Woman"}
    error        text,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    CHECK ((user_id IS NULL) = (preset_key IS NOT NULL))
);
CREATE INDEX voices_user ON voices (user_id, created_at DESC);

INSERT INTO voices (id, preset_key, name, status, language, gender, provider_voice_ids, completed_at)
VALUES
    ('00000000-0000-4000-8000-000000000001', 'preset-en-us-female', 'Ava (US English)', 'active', 'en-US', 'female', '{"replicate": "Wise_Woman"}', now()),
    ('00000000-0000-4000-8000-000000000002', 'preset-en-us-male', 'Noah (US English)', 'active', 'en-US', 'male', '{"replicate": "Deep_Voice_Man"}', now()),
    ('00000000-0000-4000-8000-000000000003', 'preset-en-gb-female', 'Olivia (British English)', 'active', 'en-GB', 'female', '{"replicate": "Calm_Woman"}', now()),
    ('00000000-0000-4000-8000-000000000004', 'preset-en-gb-male', 'Oliver (British English)', 'active', 'en-GB', 'male', '{"replicate": "Elegant_Man"}', now()),
    ('00000000-0000-4000-8000-000000000005', 'preset-de-female', 'Mia (German)', 'active', 'de', 'female', '{"replicate": "Lovely_Girl"}', now()),
    ('00000000-0000-4000-8000-000000000006', 'preset-fr-male', 'Louis (French)', 'active', 'fr', 'male', '{"replicate": "Patient_Man"}', now()),
    ('00000000-0000-4000-8000-000000000007', 'preset-es-female', 'Lucia (Spanish)', 'active', 'es', 'female', '{"replicate": "Sweet_Girl_2"}', now());

CREATE TABLE jobs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('tts', 'voice_clone', 'voice_conversion', 'sfx',
                        'script', 'images', 'video_clip', 'video_compile', 'estimate')),
    status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'dispatching',
                        'running', 'succeeded', 'failed', 'cancelled')),
    progress        integer NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    input           jsonb NOT NULL,
    output          jsonb,
    error           jsonb,
    provider        text NOT NULL,
    provider_model  text,
    provider_job_id text,
    callback_token  text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL DEFAULT 6,
    run_at          timestamptz NOT NULL DEFAULT now(), -- due to dispatch, or to be polled
    locked_until    timestamptz,                        -- a poller's lease
    locked_by       text,
    cancel_at_provider boolean NOT NULL DEFAULT false,
    deadline_at     timestamptz NOT NULL,
    cost_credits    bigint NOT NULL CHECK (cost_credits >= 0),
    idempotency_key text CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    completed_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX jobs_user ON jobs (user_id, created_at DESC, id DESC);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status IN ('queued', 'dispatching', 'running');
CREATE INDEX jobs_provider_cancel ON jobs (id) WHERE cancel_at_provider;
CREATE INDEX jobs_provider_work ON jobs (provider, provider_job_id)
    WHERE provider_job_id IS NOT NULL;

CREATE FUNCTION rv_job_terminal(s text) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT s IN ('succeeded', 'failed', 'cancelled') $$;

-- Terminal states are final, whatever code path tries to move them.
CREATE FUNCTION rv_jobs_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF rv_job_terminal(OLD.status) AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'job % is % and cannot become %', OLD.id, OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END $$;
CREATE TRIGGER jobs_guard BEFORE UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION rv_jobs_guard();

CREATE TABLE audios (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename     text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    content_type text NOT NULL,
    bytes        bigint NOT NULL CHECK (bytes >= 0),
    duration_ms  bigint,
    sample_rate  integer,
    channels     integer,
    storage_key  text NOT NULL UNIQUE,
    source       text NOT NULL CHECK (source IN ('upload', 'generated')),
    job_id       uuid REFERENCES jobs (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audios_user ON audios (user_id, created_at DESC, id DESC);
CREATE UNIQUE INDEX audios_job ON audios (job_id) WHERE job_id IS NOT NULL;

CREATE TABLE webhook_events (
    id           bigserial PRIMARY KEY,
    provider     text NOT NULL,
    event_id     text NOT NULL,
    job_id       uuid,
    payload      jsonb NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz,
    UNIQUE (provider, event_id)
);
CREATE INDEX webhook_events_pending ON webhook_events (id) WHERE processed_at IS NULL;

-- The job as API.md shows it. `result.url` is added by the handler (it signs it),
-- as text: `result` must stay the last member (common/views.c).
CREATE FUNCTION rv_job_json(j jobs) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', j.id, 'kind', j.kind, 'status', j.status, 'progress', j.progress,
        'input', j.input - 'voice',
        'error', CASE WHEN j.status IN ('failed', 'cancelled') THEN j.error END,
        'costCredits', j.cost_credits, 'provider', j.provider,
        'createdAt', rv_ts(j.created_at), 'startedAt', rv_ts(j.started_at),
        'completedAt', rv_ts(j.completed_at),
        'result', CASE WHEN j.status = 'succeeded' THEN j.output END))
$$;

CREATE FUNCTION rv_audio_json(a audios) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', a.id, 'filename', a.filename, 'contentType', a.content_type, 'bytes', a.bytes,
        'durationMs', a.duration_ms, 'sampleRate', a.sample_rate, 'channels', a.channels,
        'source', a.source, 'jobId', a.job_id, 'createdAt', rv_ts(a.created_at)))
$$;

-- Cloned voices are forgotten by Replicate after 7 days unused: expiresAt says when.
CREATE FUNCTION rv_voice_json(v voices) RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_strip_nulls(json_build_object(
        'id', v.id, 'name', v.name, 'status', v.status, 'isCloned', v.is_cloned,
        'language', v.language, 'gender', v.gender, 'sampleAudioId', v.sample_audio_id,
        'error', v.error, 'createdAt', rv_ts(v.created_at), 'completedAt', rv_ts(v.completed_at),
        'lastUsedAt', rv_ts(v.last_used_at),
        'expiresAt', CASE WHEN v.is_cloned AND v.status = 'active'
                          THEN rv_ts(COALESCE(v.last_used_at, v.completed_at) + interval '7 days')
                     END))
$$;

CREATE FUNCTION rv_job_cost(p_kind text, p_input jsonb) RETURNS bigint
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

-- Submitting a job, in one transaction: idempotency, the per-user rate limit,
-- provider choice, the credit reservation, the row and the wake-up.
-- p_available: providers this deployment has keys for, in no particular order.
-- status: created | repeated | rate_limited | insufficient | no_provider.
CREATE FUNCTION rv_job_submit(p_user uuid, p_kind text, p_input jsonb, p_idem text,
                              p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
    bal bigint;
    cost bigint;
    lim bigint;
    oldest timestamptz;
    prov text;
    cfg jsonb := (SELECT value FROM admin_config WHERE key = 'providers');
BEGIN
    -- One submit at a time per user: makes the limit and the idempotency exact.
    SELECT credits INTO bal FROM users WHERE id = p_user FOR UPDATE;
    IF p_idem IS NOT NULL THEN
        SELECT * INTO j FROM jobs WHERE user_id = p_user AND idempotency_key = p_idem;
        IF FOUND THEN
            RETURN QUERY SELECT 'repeated', rv_job_json(j), j.id, 0, 0::bigint, bal;
            RETURN;
        END IF;
    END IF;
    SELECT p INTO prov FROM jsonb_array_elements_text(cfg -> 'kinds' -> p_kind) p
     WHERE p = ANY (p_available) LIMIT 1;
    IF prov IS NULL THEN
        RETURN QUERY SELECT 'no_provider', NULL::json, NULL::uuid, 0, 0::bigint, bal;
        RETURN;
    END IF;
    -- Limited when the lim-th newest job is still inside the minute: it is also
    -- the job whose leaving frees a slot. Costs lim index entries, not the window.
    -- 0 or less disables the limit.
    lim := COALESCE((SELECT (value ->> 'generationsPerMinute')::bigint FROM admin_config
                      WHERE key = 'rate_limits'), 3);
    IF lim > 0 THEN
        SELECT created_at INTO oldest FROM jobs
         WHERE user_id = p_user AND created_at > now() - interval '60 seconds'
         ORDER BY created_at DESC OFFSET lim - 1 LIMIT 1;
        IF oldest IS NOT NULL THEN
            RETURN QUERY SELECT 'rate_limited', NULL::json, NULL::uuid,
                GREATEST(1, ceil(60 - extract(epoch FROM now() - oldest)))::integer, 0::bigint, bal;
            RETURN;
        END IF;
    END IF;
    cost := rv_job_cost(p_kind, p_input);
    IF bal < cost THEN
        RETURN QUERY SELECT 'insufficient', NULL::json, NULL::uuid, 0, cost, bal;
        RETURN;
    END IF;
    INSERT INTO jobs (user_id, kind, input, provider, provider_model, callback_token,
                      deadline_at, cost_credits, idempotency_key)
    VALUES (p_user, p_kind, p_input, prov, cfg -> prov -> 'models' ->> p_kind, p_token,
            now() + make_interval(secs => COALESCE((cfg -> 'deadlines' ->> p_kind)::integer, 900)),
            cost, p_idem)
    RETURNING * INTO j;
    IF cost > 0 THEN
        bal := rv_credit_move(p_user, -cost, 'job_charge', p_kind || ' job', j.id);
    END IF;
    PERFORM pg_notify('reelvox_jobs', j.id::text);
    RETURN QUERY SELECT 'created', rv_job_json(j), j.id, 0, cost, bal;
END $$;

-- A voice the caller may speak with: a preset or their own, and active.
-- status: ok | voice_not_found | voice_not_active; v is the row when found.
CREATE FUNCTION rv_voice_active(p_user uuid, p_voice uuid, OUT status text, OUT v voices)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    SELECT * INTO v FROM voices x WHERE x.id = p_voice AND (x.user_id IS NULL OR x.user_id = p_user);
    IF NOT FOUND THEN
        status := 'voice_not_found';
    ELSIF v.status <> 'active' THEN
        status := 'voice_not_active';
    ELSE
        status := 'ok';
    END IF;
END $$;

-- Text to speech: the voice must be a preset or the caller's own, and active.
-- Extra status: voice_not_found | voice_not_active.
CREATE FUNCTION rv_tts_submit(p_user uuid, p_voice uuid, p_input jsonb, p_idem text,
                              p_available text[], p_token text)
RETURNS TABLE (status text, job_json json, job_id uuid, retry_after integer, required bigint,
               balance bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v voices;
    chk record;
BEGIN
    SELECT * INTO chk FROM rv_voice_active(p_user, p_voice);
    IF chk.status <> 'ok' THEN
        RETURN QUERY SELECT chk.status, NULL::json, NULL::uuid, 0, 0::bigint, 0::bigint;
        RETURN;
    END IF;
    v := chk.v;
    IF v.user_id IS NOT NULL THEN
        UPDATE voices SET last_used_at = now() WHERE id = v.id;
    END IF;
    RETURN QUERY SELECT * FROM rv_job_submit(p_user, 'tts',
        p_input || jsonb_build_object('voice', jsonb_build_object(
            'presetKey', v.preset_key, 'providerVoiceIds', v.provider_voice_ids)),
        p_idem, p_available, p_token);
END $$;

-- A user's cancel. status: ok | not_found | invalid_state.
CREATE FUNCTION rv_job_cancel(p_user uuid, p_job uuid)
RETURNS TABLE (status text, job_json json)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job AND (user_id = p_user OR rv_role() = 'admin')
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

-- Gives a failed or cancelled job's credits back; a second call does nothing.
CREATE FUNCTION rv_job_refund(p_job uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    j jobs := (SELECT x FROM jobs x WHERE x.id = p_job);
BEGIN
    IF j.cost_credits > 0 AND j.status IN ('failed', 'cancelled') AND NOT EXISTS (
           SELECT 1 FROM credit_ledger WHERE job_id = p_job AND kind = 'job_refund') THEN
        PERFORM rv_credit_move(j.user_id, j.cost_credits, 'job_refund',
                               j.kind || ' job refund', j.id);
    END IF;
END $$;

-- ---------------------------------------------------------------- the poller's side
-- A lease (locked_until/locked_by) marks a job one poller is working on; any other
-- poller skips it until it runs out, so a dead poller's work is taken up again.

-- Due queued jobs, and dispatches whose lease ran out (rescue: the caller must look
-- the job up at the provider before submitting it again: `rescued` tells; no work
-- of the job can be older than `created_s`, seconds since the epoch). Only jobs of
-- p_providers: a poller without a provider's key leaves its jobs to others.
-- p_fresh_only: queued jobs only, no rescues (a sweep's first, quick dispatch).
CREATE FUNCTION rv_jobs_claim(p_poller text, p_providers text[], p_limit integer, p_lease integer,
                              p_fresh_only boolean DEFAULT false)
RETURNS TABLE (job_id uuid, kind text, input jsonb, provider text, provider_model text,
               provider_job_id text, callback_token text, attempts integer,
               max_attempts integer, user_id uuid, rescued boolean, created_s bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT id, status <> 'queued' AS rescued FROM jobs
         WHERE ((status = 'queued' AND run_at <= now())
                OR (NOT p_fresh_only AND status = 'dispatching' AND locked_until < now())
                OR (NOT p_fresh_only AND status = 'running' AND provider = 'local'
                    AND locked_until < now()))
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

-- Running jobs due for a status check (their webhook is late), leased for the check.
CREATE FUNCTION rv_jobs_due_checks(p_poller text, p_limit integer, p_lease integer)
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

-- Leases one job for finishing work (webhook event, download). NULL row if another
-- poller holds it or it is terminal.
CREATE FUNCTION rv_job_lease(p_job uuid, p_poller text, p_lease integer)
RETURNS TABLE (job_id uuid, kind text, input jsonb, provider text, provider_job_id text,
               user_id uuid, status text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE jobs j SET locked_until = now() + make_interval(secs => p_lease), locked_by = p_poller
     WHERE j.id = p_job AND NOT rv_job_terminal(j.status)
       AND (j.locked_until IS NULL OR j.locked_until < now() OR j.locked_by = p_poller)
    RETURNING j.id, j.kind, j.input, j.provider, j.provider_job_id, j.user_id, j.status
$$;

-- The provider accepted the job (or reported progress): running, next check later.
-- A queued job is taken over too: work of it exists at the provider after all.
-- Returns 'running', or else the job's status: terminal (the caller stops the
-- provider's work) or another poller's (it leaves the job alone).
CREATE FUNCTION rv_job_running(p_job uuid, p_poller text, p_provider_job_id text,
                               p_progress integer, p_check_in integer)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    st text;
BEGIN
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

-- Of p_ids (work at p_provider), those some job already holds: a rescue looking a
-- job up at the provider never adopts them.
CREATE FUNCTION rv_provider_work_taken(p_provider text, p_ids text[])
RETURNS SETOF text LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT provider_job_id FROM jobs WHERE provider = p_provider AND provider_job_id = ANY (p_ids)
$$;

-- A job's status, NULL if there is no such job (whoever asks: the poller reads
-- no rows of jobs directly, row level security hides them from it).
CREATE FUNCTION rv_job_status(p_job uuid) RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT status FROM jobs WHERE id = p_job
$$;

-- A local job started synthesising: running, and the poller's lease kept, so a
-- job whose poller and child both died is rescued when the lease runs out.
CREATE FUNCTION rv_job_started_local(p_job uuid, p_poller text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE jobs SET status = 'running', progress = GREATEST(progress, 10),
                    provider_job_id = 'local', started_at = COALESCE(started_at, now())
     WHERE id = p_job AND status IN ('dispatching', 'running') AND locked_by = p_poller;
    RETURN FOUND;
END $$;

-- Releases a lease without changing anything else (check found nothing new).
CREATE FUNCTION rv_job_release(p_job uuid, p_poller text, p_check_in integer)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE jobs SET locked_until = NULL, locked_by = NULL,
                    run_at = CASE WHEN status = 'running'
                                  THEN now() + make_interval(secs => p_check_in) ELSE run_at END
     WHERE id = p_job AND locked_by = p_poller AND NOT rv_job_terminal(status)
$$;

-- A transient failure: back to the queue at p_run_in seconds, or failed (and
-- refunded) when the attempts are used up. Returns the new status.
CREATE FUNCTION rv_job_retry(p_job uuid, p_poller text, p_run_in double precision,
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

-- A dispatch whose outcome is unknown (no answer, an unreadable one, a 5xx): the
-- work may exist at the provider. The job stays dispatching and its lease runs out
-- in p_run_in seconds, so it comes back as a rescue, which looks the job up at the
-- provider before anything is submitted again; meanwhile a webhook of that work is
-- taken by this poller. Failed (and refunded) when the attempts are used up.
-- Returns the new status.
CREATE FUNCTION rv_job_recheck(p_job uuid, p_poller text, p_run_in double precision,
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

-- Fails a job and refunds it, exactly once. Returns the job's status afterwards.
CREATE FUNCTION rv_job_fail(p_job uuid, p_error jsonb)
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

-- Success: the output is already in our storage (p_audio describes the file);
-- p_output adds members to the job's result (a clone's voice ids). Returns false
-- when the job was already terminal (the output is then dropped by the caller).
CREATE FUNCTION rv_job_succeed(p_job uuid, p_audio jsonb, p_provider_job_id text DEFAULT NULL,
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

-- Jobs past their deadline, leased so their provider work can be cancelled.
CREATE FUNCTION rv_jobs_overdue(p_poller text, p_limit integer, p_lease integer)
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

-- Cancelled jobs whose provider work should be stopped.
CREATE FUNCTION rv_jobs_to_cancel(p_limit integer)
RETURNS TABLE (job_id uuid, provider text, provider_job_id text)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH due AS (
        SELECT id FROM jobs WHERE cancel_at_provider LIMIT p_limit FOR UPDATE SKIP LOCKED
    )
    UPDATE jobs j SET cancel_at_provider = false FROM due WHERE j.id = due.id
    RETURNING j.id, j.provider, j.provider_job_id
$$;

-- The webhook inbox. status: stored | duplicate | bad_token (unknown job or token).
CREATE FUNCTION rv_webhook_receive(p_provider text, p_event text, p_job uuid, p_token text,
                                   p_payload jsonb)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    tok text;
BEGIN
    SELECT callback_token INTO tok FROM jobs WHERE id = p_job;
    IF tok IS NULL OR tok <> p_token THEN
        RETURN 'bad_token';
    END IF;
    INSERT INTO webhook_events (provider, event_id, job_id, payload)
    VALUES (p_provider, p_event, p_job, p_payload)
    ON CONFLICT (provider, event_id) DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate';
    END IF;
    PERFORM pg_notify('reelvox_webhooks', p_job::text);
    RETURN 'stored';
END $$;

-- Pending inbox events, oldest first, with what the poller needs of their job.
-- Events of a job that another poller holds wait for its lease to end; they are
-- left out, so that they never fill the batch and hold up everything newer (a dead
-- poller's leases last RV_POLLER_LEASE). `busy` stays for the caller's shape.
CREATE FUNCTION rv_webhooks_pending(p_limit integer, p_poller text)
RETURNS TABLE (event_id bigint, provider text, job_id uuid, payload jsonb, job_status text,
               kind text, user_id uuid, busy boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e.id, e.provider, e.job_id, e.payload, j.status, j.kind, j.user_id, false
      FROM webhook_events e LEFT JOIN jobs j ON j.id = e.job_id
     WHERE e.processed_at IS NULL
       AND NOT COALESCE(j.locked_until >= now() AND j.locked_by IS DISTINCT FROM p_poller, false)
     ORDER BY e.id LIMIT p_limit
$$;

CREATE FUNCTION rv_webhooks_done(p_events bigint[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE webhook_events SET processed_at = now() WHERE id = ANY (p_events)
$$;

ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_own ON jobs USING (user_id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE audios ENABLE ROW LEVEL SECURITY;
CREATE POLICY audios_own ON audios USING (user_id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE voices ENABLE ROW LEVEL SECURITY;
CREATE POLICY voices_visible ON voices
    USING (user_id IS NULL OR user_id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;

GRANT SELECT ON jobs, audios, voices TO reelvox_app;
GRANT DELETE ON audios, voices TO reelvox_app;

REVOKE EXECUTE ON FUNCTION rv_voice_active, rv_job_submit, rv_tts_submit, rv_job_cancel, rv_job_refund,
    rv_jobs_claim, rv_jobs_due_checks, rv_job_lease, rv_job_running, rv_job_started_local,
    rv_provider_work_taken, rv_job_status,
    rv_job_release,
    rv_job_retry, rv_job_recheck, rv_job_fail, rv_job_succeed, rv_jobs_overdue, rv_jobs_to_cancel,
    rv_webhook_receive, rv_webhooks_pending, rv_webhooks_done FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rv_job_submit, rv_tts_submit, rv_job_cancel, rv_job_refund,
    rv_jobs_claim, rv_jobs_due_checks, rv_job_lease, rv_job_running, rv_job_started_local,
    rv_provider_work_taken, rv_job_status,
    rv_job_release,
    rv_job_retry, rv_job_recheck, rv_job_fail, rv_job_succeed, rv_jobs_overdue, rv_jobs_to_cancel,
    rv_webhook_receive, rv_webhooks_pending, rv_webhooks_done TO reelvox_app;
