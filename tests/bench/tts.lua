-- wrk: POST /api/tts as the bench user (rate limit disabled for the run).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("RV_BENCH_TOKEN")
wrk.body = '{"text":"Benchmarks are not timed tests.","voiceId":"00000000-0000-4000-8000-000000000001"}'
