-- The schema, part two: generation work and media. Jobs are queued by handlers and
-- carried out by the poller; the webhook inbox; generated and uploaded audio;
-- voices (seeded presets and clones); stored files whose reference is not yet
-- committed. The job state machine is in sql/functions/jobs.sql: every move is a
-- function that refuses an illegal one, terminal states are final (trigger
-- jobs_guard), and a job's charge and refund are each at most one ledger row
-- (credit_ledger_job_once in 001), so a refund can't happen twice.

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
    -- The hash of the request a key was first used with (rv_request_hash). Keys live
    -- on their job row: kept as long as the job is (jobs are not purged; a user's go
    -- with the user), so at least the 24 h API.md promises.
    request_hash    text CHECK (request_hash ~ '^[0-9a-f]{64}$'),
    UNIQUE (user_id, idempotency_key)
);
CREATE INDEX jobs_user ON jobs (user_id, created_at DESC, id DESC);
CREATE INDEX jobs_due ON jobs (run_at) WHERE status IN ('queued', 'dispatching', 'running');
CREATE INDEX jobs_provider_cancel ON jobs (id) WHERE cancel_at_provider;
CREATE INDEX jobs_provider_work ON jobs (provider, provider_job_id)
    WHERE provider_job_id IS NOT NULL;
-- A clone's prepared sample is referenced from its job's input.
CREATE INDEX jobs_clone_file ON jobs ((input -> 'voice' ->> 'fileKey'))
    WHERE kind = 'voice_clone';

-- A user's own audio files (uploads, recorded by rv_audio_upload) and the audio
-- jobs made. The application role writes audios only through functions.
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

-- Voices: presets (no user) and a user's cloned voices. A clone is a voice row
-- (pending) and a voice_clone job, made in one transaction by
-- rv_voice_clone_submit. From then on the voice follows its job (trigger
-- jobs_voice_clone, sql/functions/voices.sql), whatever code path moves the job:
--   job running                 → voice training
--   job back to queued (retry)  → voice pending
--   job succeeded               → voice active: the provider's voice id and the
--                                 preview audio come from the job's output, which
--                                 rv_voice_clone_succeed writes
--   job failed or cancelled     → voice failed, with the job's error message (the
--                                 job's credits are refunded once by rv_job_refund)
-- Deleting a voice (rv_voice_delete) cancels a clone still running, and removes the
-- sample and preview audio rows that no other row uses; the caller removes their
-- files after the commit.
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
    sample_audio_id uuid REFERENCES audios (id) ON DELETE SET NULL,
    preview_audio_id uuid REFERENCES audios (id) ON DELETE SET NULL,
    provider_voice_ids jsonb NOT NULL DEFAULT '{}', -- {"replicate": "Wise_Woman"}
    error        text,
    last_used_at timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    job_id       uuid REFERENCES jobs (id) ON DELETE SET NULL, -- the clone job
    CHECK ((user_id IS NULL) = (preset_key IS NOT NULL)),
    CHECK (gender IS NULL OR gender IN ('female', 'male', 'neutral')),
    CHECK (NOT is_cloned OR user_id IS NOT NULL)
);
CREATE INDEX voices_user ON voices (user_id, created_at DESC);
CREATE UNIQUE INDEX voices_job ON voices (job_id) WHERE job_id IS NOT NULL;
-- Foreign keys into audios are what rv_audio_in_use looks at: each is indexed.
CREATE INDEX voices_sample ON voices (sample_audio_id) WHERE sample_audio_id IS NOT NULL;
CREATE INDEX voices_preview ON voices (preview_audio_id) WHERE preview_audio_id IS NOT NULL;

INSERT INTO voices (id, preset_key, name, status, language, gender, provider_voice_ids, completed_at)
VALUES
    ('00000000-0000-4000-8000-000000000001', 'preset-en-us-female', 'Ava (US English)', 'active', 'en-US', 'female', '{"replicate": "Wise_Woman"}', now()),
    ('00000000-0000-4000-8000-000000000002', 'preset-en-us-male', 'Noah (US English)', 'active', 'en-US', 'male', '{"replicate": "Deep_Voice_Man"}', now()),
    ('00000000-0000-4000-8000-000000000003', 'preset-en-gb-female', 'Olivia (British English)', 'active', 'en-GB', 'female', '{"replicate": "Calm_Woman"}', now()),
    ('00000000-0000-4000-8000-000000000004', 'preset-en-gb-male', 'Oliver (British English)', 'active', 'en-GB', 'male', '{"replicate": "Elegant_Man"}', now()),
    ('00000000-0000-4000-8000-000000000005', 'preset-de-female', 'Mia (German)', 'active', 'de', 'female', '{"replicate": "Lovely_Girl"}', now()),
    ('00000000-0000-4000-8000-000000000006', 'preset-fr-male', 'Louis (French)', 'active', 'fr', 'male', '{"replicate": "Patient_Man"}', now()),
    ('00000000-0000-4000-8000-000000000007', 'preset-es-female', 'Lucia (Spanish)', 'active', 'es', 'female', '{"replicate": "Sweet_Girl_2"}', now());

-- --------------------------------------------------------------- providers
-- The webhook inbox: events as received, processed by the poller.
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

-- Webhook signing secrets: the poller fetches a provider's secret (Replicate:
-- GET /v1/webhooks/default/secret) and stores it here; the receivers read it and
-- never call the provider from a request. Only the poller (role 'system') writes.
CREATE TABLE webhook_secrets (
    provider   text PRIMARY KEY,
    secret     text NOT NULL CHECK (secret <> ''),
    fetched_at timestamptz NOT NULL DEFAULT now(),
    changed_at timestamptz NOT NULL DEFAULT now()
);

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

-- ------------------------------------------------------------------ storage
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

-- Row level security: defence in depth behind the WHERE clauses of the handlers.
-- Tables without a policy are reached only through SECURITY DEFINER functions.
ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
CREATE POLICY jobs_own ON jobs USING (user_id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE audios ENABLE ROW LEVEL SECURITY;
CREATE POLICY audios_own ON audios USING (user_id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE voices ENABLE ROW LEVEL SECURITY;
CREATE POLICY voices_visible ON voices
    USING (user_id IS NULL OR user_id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE webhook_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE webhook_secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_duplicates ENABLE ROW LEVEL SECURITY;
ALTER TABLE storage_pending ENABLE ROW LEVEL SECURITY;

-- Handlers read these; they delete audios and voices only through rv_audio_delete
-- and rv_voice_delete (which keep what is still in use), never directly.
GRANT SELECT ON jobs, audios, voices TO reelvox_app;
