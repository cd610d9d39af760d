"""A create that times out on our side may still land at the provider later (a slow
accept queue). The lookup that decides whether to submit again is not taken as
conclusive before such a create could have landed, and if the provider ends up
with two predictions for one job anyway, the one the job does not hold is
cancelled there and recorded. The stack's lease is 8 s, so a create times out
after 4 s (RV_POLLER_LEASE / 2)."""
import uuid

from jobkit import (assert_settled, job_row, no_rate_limit, sim, sim_predictions, simctl,
                    submit_tts, wait_for_job, wait_until)


def hung_done():
    return simctl.stats().get("creates_hung_done", 0)

CREATE_TIMEOUT_S = 4


def test_late_create_is_found_not_made_twice(api, db, register):
    """The provider takes the create 1.5x our timeout later: the job is found at the
    provider and adopted, never created a second time."""
    no_rate_limit(db)
    u = register()
    text = f"Late create {uuid.uuid4().hex[:8]}. " + sim(create_hang_s=CREATE_TIMEOUT_S * 1.5)
    before = hung_done()
    job = submit_tts(api, u, text=text)
    done = wait_for_job(api, u, job["id"], timeout=60)
    assert done["status"] == "succeeded", done
    # The held create has gone on at the provider: nothing more is coming.
    wait_until(lambda: hung_done() > before, 30, what="the held create to land")
    preds = sim_predictions(job["id"])
    assert len(preds) == 1, [(p["id"], p["status"], p["create_attempts"]) for p in preds]
    assert job_row(db, job["id"], "provider_job_id")[0] == preds[0]["id"]
    assert_settled(db, done, refunded=False)
    assert int(db.scalar("SELECT count(*) FROM provider_duplicates WHERE job_id = :'j'",
                         j=job["id"])) == 0


def test_second_prediction_is_cancelled_and_recorded(api, db, register):
    """The first create lands long after the job was submitted again: the job keeps
    the work it holds; the other prediction is cancelled at the provider and
    recorded; the job is charged once."""
    no_rate_limit(db)
    u = register()
    text = (f"Very late create {uuid.uuid4().hex[:8]}. "
            + sim(create_hang_s=CREATE_TIMEOUT_S * 5, delay_ms=8000))
    job = submit_tts(api, u, text=text)

    def two():
        ps = sim_predictions(job["id"])
        return ps if len(ps) == 2 else None

    preds = wait_until(two, 60, what="the late create to land")
    held = lambda: job_row(db, job["id"], "provider_job_id")[0]
    wait_until(held, 30, what="the job to hold a prediction")
    late = [p for p in preds if p["id"] != held()]
    assert len(late) == 1, (preds, held())
    late_id = late[0]["id"]
    wait_until(lambda: db.rows("SELECT job_id FROM provider_duplicates WHERE provider_job_id = "
                               ":'p'", p=late_id), 30, what="the duplicate to be recorded")
    wait_until(lambda: [p for p in sim_predictions(job["id"])
                        if p["id"] == late_id and p["status"] == "canceled"], 30,
               what="the duplicate to be cancelled at the provider")
    done = wait_for_job(api, u, job["id"], timeout=60)
    assert done["status"] == "succeeded", done
    assert job_row(db, job["id"], "provider_job_id")[0] != late_id
    assert_settled(db, done, refunded=False)
