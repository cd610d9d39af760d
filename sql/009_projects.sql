-- Projects, estimates and the expert marketplace (issue 12). The projects table is
-- 003_studio.sql's (shared with the video work); this adds what the voice studio's
-- lifecycle needs around it:
--   - on projects: the estimate job and its last error, the escrow the project
--     holds now (escrow_credits), when the expert first submitted;
--   - project_audios (a project's inputs), project_history (every status move, who
--     and when), project_deliverables (the expert's audios), project_messages (the
--     owner-expert thread, read marks per message), expert_profiles and
--     project_ratings (one per project; an expert's average kept by a trigger);
--   - the assigned expert's view of a project (row level security);
--   - admin_config: escrow, expert_specialties, estimate_rates, and the estimate
--     kind's provider and cost.
-- The lifecycle (which moves are legal: trigger projects_guard) and every write are
-- in sql/functions/projects.sql and experts.sql: the application role writes none
-- of these tables directly.
--
-- Escrow, in the ledger: an assignment moves price_credits from the owner
-- (escrow_hold, negative) into projects.escrow_credits; acceptance pays it to the
-- expert (escrow_release) who pays the fee out of it (platform_fee, negative); a
-- cancellation pays the refund share back to the owner (escrow_refund) and the rest
-- to the expert (escrow_release, platform_fee). So at every moment
--   -sum(escrow_hold) = sum(escrow_release) + sum(escrow_refund) + sum(escrow_credits).

ALTER TABLE projects
    ADD COLUMN estimate_job_id uuid REFERENCES jobs (id) ON DELETE SET NULL,
    ADD COLUMN estimate_error  jsonb,
    ADD COLUMN escrow_credits  bigint NOT NULL DEFAULT 0 CHECK (escrow_credits >= 0),
    ADD COLUMN submitted_at    timestamptz;
CREATE INDEX projects_estimate_job ON projects (estimate_job_id) WHERE estimate_job_id IS NOT NULL;

CREATE TABLE project_audios (
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    audio_id   uuid NOT NULL REFERENCES audios (id) ON DELETE CASCADE,
    added_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, audio_id)
);
CREATE INDEX project_audios_audio ON project_audios (audio_id);

-- by_user: who moved it (NULL: the system, e.g. an estimate job ending).
CREATE TABLE project_history (
    id          bigserial PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    from_status text,
    to_status   text NOT NULL,
    by_user     uuid REFERENCES users (id) ON DELETE SET NULL,
    at          timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX project_history_project ON project_history (project_id, id);

CREATE TABLE project_deliverables (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    audio_id   uuid NOT NULL REFERENCES audios (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, audio_id)
);
CREATE INDEX project_deliverables_audio ON project_deliverables (audio_id);

-- read_at: when the other side (owner or expert, whoever did not write it) read it.
CREATE TABLE project_messages (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    author_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    body       text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    read_at    timestamptz
);
CREATE INDEX project_messages_project ON project_messages (project_id, created_at DESC, id DESC);
CREATE INDEX project_messages_unread ON project_messages (project_id) WHERE read_at IS NULL;

-- An expert's public profile (users with role expert keep one: PUT /api/experts/me).
-- rating_sum/rating_count are kept by the trigger on project_ratings.
CREATE TABLE expert_profiles (
    user_id           uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    bio               text NOT NULL DEFAULT '' CHECK (length(bio) <= 5000),
    hourly_rate_cents bigint NOT NULL CHECK (hourly_rate_cents BETWEEN 0 AND 100000000),
    specialties       text[] NOT NULL DEFAULT '{}',
    languages         text[] NOT NULL DEFAULT '{}',
    availability      text NOT NULL DEFAULT 'available'
                      CHECK (availability IN ('available', 'busy', 'offline')),
    rating_sum        bigint NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    rating_count      bigint NOT NULL DEFAULT 0 CHECK (rating_count >= 0),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX expert_profiles_rating ON expert_profiles
    ((CASE WHEN rating_count > 0 THEN rating_sum::numeric / rating_count ELSE 0 END) DESC);
CREATE INDEX expert_profiles_specialties ON expert_profiles USING gin (specialties);
CREATE INDEX expert_profiles_languages ON expert_profiles USING gin (languages);

CREATE TABLE project_ratings (
    project_id uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    expert_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    owner_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    stars      integer NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment    text NOT NULL DEFAULT '' CHECK (length(comment) <= 2000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX project_ratings_expert ON project_ratings (expert_id, created_at DESC);

-- Row level security: the assigned expert sees the projects assigned to them (reads
-- only: the application role writes projects through functions).
CREATE POLICY projects_expert ON projects FOR SELECT USING (expert_id = rv_uid());
ALTER TABLE project_audios ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_history ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_deliverables ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_ratings ENABLE ROW LEVEL SECURITY;
ALTER TABLE expert_profiles ENABLE ROW LEVEL SECURITY;
-- What a project's owner, its expert or an admin sees of its rows.
CREATE POLICY project_audios_seen ON project_audios
    USING (EXISTS (SELECT 1 FROM projects p WHERE p.id = project_id));
CREATE POLICY project_history_seen ON project_history
    USING (EXISTS (SELECT 1 FROM projects p WHERE p.id = project_id));
CREATE POLICY project_deliverables_seen ON project_deliverables
    USING (EXISTS (SELECT 1 FROM projects p WHERE p.id = project_id));
CREATE POLICY project_messages_seen ON project_messages
    USING (EXISTS (SELECT 1 FROM projects p WHERE p.id = project_id));
-- Profiles and ratings are public.
CREATE POLICY expert_profiles_public ON expert_profiles FOR SELECT USING (true);
CREATE POLICY project_ratings_public ON project_ratings FOR SELECT USING (true);

GRANT SELECT ON project_audios, project_history, project_deliverables, project_messages,
    expert_profiles, project_ratings TO reelvox_app;

INSERT INTO admin_config (key, value) VALUES
    -- priceCredits = ceil(estimate costCents / centsPerCredit); feePercent of a
    -- release goes to the platform; cancelRefundPercent of the escrow goes back to
    -- the owner when the expert has already submitted work (in full before).
    ('escrow', '{"centsPerCredit": 1, "feePercent": 10, "cancelRefundPercent": 50}'),
    ('expert_specialties', '["mixing", "mastering", "dialogue_editing", "noise_reduction",
                             "voice_direction", "sound_design", "podcast_production",
                             "audiobook_production", "dubbing", "music_editing"]'),
    -- The transparent rule-based estimate (method "rules"): setupMinutes once, then
    -- per minute of each audio minutesPerAudioMinute[its source] of work, each work
    -- minute at centsPerWorkMinute.
    ('estimate_rates', '{"setupMinutes": 15, "centsPerWorkMinute": 100,
                         "minutesPerAudioMinute": {"upload": 4, "generated": 2}}')
ON CONFLICT (key) DO NOTHING;

-- The estimate kind: the local provider (rules) unless the configuration says more;
-- one credit, refunded when it fails.
UPDATE admin_config SET value = jsonb_set(value, '{kinds,estimate}', '["local"]')
 WHERE key = 'providers' AND NOT (value -> 'kinds') ? 'estimate';
UPDATE admin_config SET value = jsonb_set(value, '{deadlines,estimate}', '300')
 WHERE key = 'providers' AND NOT (value -> 'deadlines') ? 'estimate';
UPDATE admin_config SET value = value || '{"estimate": {"flat": 1}}'
 WHERE key = 'job_costs' AND NOT value ? 'estimate';
