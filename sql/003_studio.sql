-- The schema, part three: what the video studios, the money and the project work
-- share, made once so their own migrations only add to it.
--   - every kind of job and of ledger row the studio knows (one CHECK each);
--   - projects: one table for the voice studio's expert projects and the video
--     studios' clip and explainer work (the lifecycle functions are in
--     sql/functions/projects.sql);
--   - images (inputs for clips and explainers) and clips (image-to-video).

ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN (
    'tts', 'voice_clone', 'voice_conversion', 'sfx',      -- voice
    'video_clip', 'video_compile',                        -- clips and compilations
    'script', 'narration', 'images', 'video_render',      -- narrated explainers
    'estimate'));                                         -- project estimates

ALTER TABLE credit_ledger DROP CONSTRAINT credit_ledger_kind_check;
ALTER TABLE credit_ledger ADD CONSTRAINT credit_ledger_kind_check CHECK (kind IN (
    'signup', 'referral', 'grant', 'adjustment',            -- accounts and admins
    'job_charge', 'job_refund',                             -- generation
    'purchase', 'payment_refund', 'dispute',                -- Stripe
    'escrow_hold', 'escrow_refund', 'escrow_release', 'platform_fee', -- experts
    'batch_hold', 'batch_release'));                        -- video batches

-- ------------------------------------------------------------------ projects
-- A user's project. The voice studio's lifecycle (estimate, expert, delivery) moves
-- status; video work only gathers images, clips and compilations in a project and
-- leaves status at draft. expert_id and price_credits are set by assignment.
CREATE TABLE projects (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    status        text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'estimating', 'ready',
                      'in_progress', 'review', 'completed', 'cancelled')),
    estimate      jsonb,
    expert_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    price_credits bigint CHECK (price_credits >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projects_user ON projects (user_id, created_at DESC, id DESC);
CREATE INDEX projects_expert ON projects (expert_id, created_at DESC, id DESC)
    WHERE expert_id IS NOT NULL;

-- ------------------------------------------------------------------ images
-- An uploaded image, decoded and re-encoded without metadata (storage_key), with a
-- small thumbnail (thumb_key). Written only through functions.
CREATE TABLE images (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id   uuid REFERENCES projects (id) ON DELETE SET NULL,
    filename     text NOT NULL CHECK (length(filename) BETWEEN 1 AND 255),
    content_type text NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    width        integer NOT NULL CHECK (width > 0),
    height       integer NOT NULL CHECK (height > 0),
    bytes        bigint NOT NULL CHECK (bytes >= 0),
    storage_key  text NOT NULL UNIQUE,
    thumb_key    text NOT NULL UNIQUE,
    source       text NOT NULL DEFAULT 'upload' CHECK (source IN ('upload', 'generated', 'stock')),
    job_id       uuid REFERENCES jobs (id) ON DELETE SET NULL,
    attribution  jsonb,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX images_user ON images (user_id, created_at DESC, id DESC);
CREATE INDEX images_project ON images (project_id, created_at DESC) WHERE project_id IS NOT NULL;

-- ------------------------------------------------------------------ clips
-- An image turned into a short video by a video_clip job. The clip's status is its
-- job's; the video and its poster are written when the job succeeds.
CREATE TABLE clips (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id       uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    image_id         uuid REFERENCES images (id) ON DELETE SET NULL,
    job_id           uuid NOT NULL UNIQUE REFERENCES jobs (id),
    prompt           text NOT NULL DEFAULT '' CHECK (length(prompt) <= 1000),
    duration_seconds integer NOT NULL CHECK (duration_seconds IN (5, 10)),
    ratio            text NOT NULL DEFAULT '16:9' CHECK (ratio IN ('16:9', '9:16', '1:1')),
    approved         boolean NOT NULL DEFAULT false,
    position         integer NOT NULL DEFAULT 0,
    video_key        text UNIQUE,
    poster_key       text UNIQUE,
    duration_ms      bigint,
    bytes            bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX clips_project ON clips (project_id, position, created_at);
CREATE INDEX clips_user ON clips (user_id, created_at DESC, id DESC);

-- Row level security: defence in depth behind the WHERE clauses of the handlers.
-- An assigned expert's view of a project is added by the projects work.
ALTER TABLE projects ENABLE ROW LEVEL SECURITY;
CREATE POLICY projects_own ON projects USING (user_id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE images ENABLE ROW LEVEL SECURITY;
CREATE POLICY images_own ON images USING (user_id = rv_uid() OR rv_role() = 'admin');
ALTER TABLE clips ENABLE ROW LEVEL SECURITY;
CREATE POLICY clips_own ON clips USING (user_id = rv_uid() OR rv_role() = 'admin');

GRANT SELECT ON projects, images, clips TO reelvox_app;
