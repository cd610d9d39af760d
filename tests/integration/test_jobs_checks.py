"""A status check the provider answers 404 (it no longer knows the work) fails the
job at once, refunded, instead of asking again until the job's deadline."""
from jobkit import assert_settled, sim, submit_tts, wait_for_job


def test_check_answered_404_fails_the_job_promptly(api, db, register):
    u = register()
    text = "Forgotten by the provider. " + sim(webhooks="none", get_status=404, times="always")
    job = submit_tts(api, u, text=text)
    # The deadline is 10 minutes; checks come every RV_POLL_INTERVAL (2 s here).
    done = wait_for_job(api, u, job["id"], timeout=30)
    assert done["status"] == "failed", done
    assert done["error"]["code"] == "provider_failed", done
    assert_settled(db, done, refunded=True)
