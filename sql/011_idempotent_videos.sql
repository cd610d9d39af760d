-- Idempotency-Key on the posts that start a chain of video work: a batch answers
-- its first request only for the same body (request_hash: rv_request_hash of its
-- topics, video fields and options; NULL for a batch from before), another body
-- is a conflict, as for jobs. POST /api/videos with auto: true keeps the key on
-- its hidden batch the same way: rv_video_create takes the key (p_idem).
ALTER TABLE batches ADD COLUMN request_hash text;
DROP FUNCTION IF EXISTS rv_video_create(jsonb, jsonb, boolean, jsonb, boolean);
