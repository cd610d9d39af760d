-- The schema, part four: images and image-to-video clips (the tables are in
-- 003_studio.sql; their functions in sql/functions/images.sql and clips.sql).
--   - what a video_clip job costs: job_costs.video_clip.perSecond credits per
--     second of clip (rv_job_cost), 2 by default;
--   - who serves video_clip: Runway (gen4_turbo) when its key is set, else the
--     local provider (a Ken Burns clip made from the image), and its deadline;
--   - an index for "is this image used by a clip that has not ended".
-- Added only where missing: an admin's own settings stay as they are.

UPDATE admin_config SET value = value || '{"video_clip": {"perSecond": 2}}'
 WHERE key = 'job_costs' AND NOT value ? 'video_clip';

UPDATE admin_config
   SET value = jsonb_set(value, '{kinds,video_clip}', '["runway", "local"]')
 WHERE key = 'providers' AND NOT COALESCE(value -> 'kinds', '{}') ? 'video_clip';
UPDATE admin_config
   SET value = jsonb_set(value, '{runway}',
                         COALESCE(value -> 'runway', '{}')
                         || '{"models": {"video_clip": "gen4_turbo"}}')
 WHERE key = 'providers' AND NOT COALESCE(value -> 'runway', '{}') ? 'models';
UPDATE admin_config
   SET value = jsonb_set(value, '{deadlines,video_clip}', '1800')
 WHERE key = 'providers' AND NOT COALESCE(value -> 'deadlines', '{}') ? 'video_clip';

CREATE INDEX clips_image ON clips (image_id) WHERE image_id IS NOT NULL;
