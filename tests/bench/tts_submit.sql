-- pgbench: the SQL of one POST /api/tts, as the handler sends it (context + submit).
\set n random(1, 1000000000)
\startpipeline
SELECT set_config('reelvox.user_id', :uid, true), set_config('reelvox.role', 'user', true);
SELECT status, job_json, job_id, retry_after, required, balance
  FROM rv_submit('tts',
       '{"text":"Benchmarks are not timed tests.","voiceId":"00000000-0000-4000-8000-000000000001","emotion":"auto","speed":1,"pitch":0,"volume":1,"audioFormat":"mp3","sampleRate":32000}',
       NULL, '{local}', md5(:n::text), '00000000-0000-4000-8000-000000000001');
\endpipeline
