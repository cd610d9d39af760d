-- The render engine's part of the schema: music tracks (a shared library any
-- video may play under its pictures) and compilations (approved clips joined into
-- one video by a video_compile job). The functions are in
-- sql/functions/render.sql; the engine is common/render/.

-- ------------------------------------------------------------------ music tracks
-- Admins add and remove tracks; everybody may list and play them. Written only
-- through functions. source 'generated': made at set-up time (scripts/up runs
-- bin/music_seed), titled as such.
CREATE TABLE music_tracks (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    content_type text NOT NULL CHECK (content_type IN ('audio/mpeg', 'audio/wav', 'audio/ogg',
                                                       'audio/webm', 'audio/flac', 'audio/mp4')),
    bytes        bigint NOT NULL CHECK (bytes >= 0),
    duration_ms  bigint NOT NULL CHECK (duration_ms > 0),
    storage_key  text NOT NULL UNIQUE,
    source       text NOT NULL DEFAULT 'upload' CHECK (source IN ('upload', 'generated')),
    created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX music_tracks_created ON music_tracks (created_at, id);

-- ------------------------------------------------------------------ compilations
-- A user's compiled video. Its status is its job's; the video and the poster are
-- written when the job succeeds (rv_video_job_succeed).
CREATE TABLE compilations (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    project_id     uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    job_id         uuid NOT NULL UNIQUE REFERENCES jobs (id),
    clip_ids       uuid[] NOT NULL CHECK (cardinality(clip_ids) BETWEEN 1 AND 50),
    music_track_id uuid REFERENCES music_tracks (id) ON DELETE SET NULL,
    transition     text NOT NULL CHECK (transition IN ('none', 'fade', 'dissolve', 'wipe',
                                                       'slide')),
    transition_ms  integer NOT NULL CHECK (transition_ms BETWEEN 200 AND 2000),
    music_volume   numeric(5, 2) NOT NULL CHECK (music_volume BETWEEN 0 AND 100),
    video_key      text UNIQUE,
    poster_key     text UNIQUE,
    duration_ms    bigint,
    bytes          bigint,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX compilations_user ON compilations (user_id, created_at DESC, id DESC);
CREATE INDEX compilations_project ON compilations (project_id, created_at DESC, id DESC);

ALTER TABLE compilations ENABLE ROW LEVEL SECURITY;
CREATE POLICY compilations_own ON compilations
    USING (user_id = rv_uid() OR rv_role() = 'admin');

GRANT SELECT ON music_tracks, compilations TO reelvox_app;

-- ------------------------------------------------------------------ configuration
-- Video kinds run at the local provider (the render engine) unless a remote one
-- is configured first; a kind another migration already configured is left alone.
UPDATE admin_config
   SET value = jsonb_set(jsonb_set(jsonb_set(value,
           '{kinds,video_clip}', COALESCE(value -> 'kinds' -> 'video_clip', '["runway", "local"]')),
           '{kinds,video_compile}', COALESCE(value -> 'kinds' -> 'video_compile', '["local"]')),
           '{deadlines}', COALESCE(value -> 'deadlines', '{}')
                          || jsonb_build_object('video_compile',
                                 COALESCE(value -> 'deadlines' -> 'video_compile', '1800')))
 WHERE key = 'providers';
-- A compilation costs a flat price unless an admin sets perSecond (its input
-- carries durationSeconds, the video's expected length); a local clip per second.
UPDATE admin_config
   SET value = value || jsonb_build_object(
           'video_compile', COALESCE(value -> 'video_compile', '{"flat": 5}'),
           'video_clip', COALESCE(value -> 'video_clip', '{"perSecond": 1, "min": 5}'))
 WHERE key = 'job_costs';
