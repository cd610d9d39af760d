-- pgbench: the queue core's statements as the poller (and tests/tools/queuebench)
-- send them: a claim of :batch no-op jobs (provider 'noop'), their outputs
-- registered, and all completed in one statement (rv_jobs_succeed). Jobs per
-- second = completions / time (scripts/bench). Run with -M prepared: :ids goes
-- as a parameter.
SELECT coalesce(array_agg(job_id)::text, '{}') AS ids
  FROM rv_jobs_claim('pgbench', '{noop}', :batch, 60, true) \gset
SELECT rv_storage_pending(ARRAY(SELECT 'audios/queuebench/' || x || '.mp3'
                                  FROM unnest(:ids::uuid[]) x));
SELECT count(*) FILTER (WHERE ok)
  FROM rv_jobs_succeed((SELECT coalesce(jsonb_agg(jsonb_build_object(
           'job', x,
           'audio', jsonb_build_object('filename', 'noop.mp3', 'contentType', 'audio/mpeg',
                                       'bytes', 1, 'durationMs', 1, 'sampleRate', 8000,
                                       'channels', 1,
                                       'storageKey', 'audios/queuebench/' || x || '.mp3'))),
                                '[]')
                          FROM unnest(:ids::uuid[]) x));
