"""A video chain (auto mode) whose poller is killed (-9, its whole process group)
while the chain's script step is at the language model: once the dead poller's
lease has run out and the loop has restarted, the chain completes, each step's job made once and succeeded once, the cost held
once and nothing released (the autouse ledger_invariant checks balance = ledger)."""
import os
import signal
import uuid

from explainerkit import create_video, wait_video
from jobkit import (balance, group_alive, poller_loop_pid, start_poller_loop, wait_until)


def test_poller_killed_mid_chain(api, register, db):
    u = register()
    before = balance(db, u)
    # The OpenAI simulator answers the script after 4 s: the kill lands meanwhile.
    v = create_video(api, u, auto=True, topic=f"kill {uuid.uuid4().hex[:6]} [[slow=4]]")
    jobs = lambda: db.rows("SELECT kind, status FROM jobs WHERE input ->> 'videoId' = :'v' "
                           "ORDER BY created_at", v=v["id"])
    try:
        wait_until(lambda: jobs() == [("script", "running")], 20,
                   what="the script step at the language model")
        pid = poller_loop_pid()
        os.killpg(pid, signal.SIGKILL)
        wait_until(lambda: not group_alive(pid), 5, what="the poller loop to die")
        assert jobs() == [("script", "running")]
        # The dead poller's lease on the step runs out (RV_LOCAL_TIMEOUT + 60 s, six
        # minutes here): the test brings that moment forward.
        db.rows("UPDATE jobs SET locked_until = now() WHERE input ->> 'videoId' = :'v' "
                "AND status = 'running'", v=v["id"])
    finally:
        start_poller_loop()
    got = wait_video(api, u, v["id"], ("ready", "failed"), timeout=180)
    assert got["status"] == "ready", got.get("error")
    assert jobs() == [("script", "succeeded"), ("narration", "succeeded"),
                      ("images", "succeeded"), ("video_render", "succeeded")]
    steps = db.rows("SELECT kind, status FROM video_steps WHERE video_id = :'v' ORDER BY position",
                    v=v["id"])
    assert [s[1] for s in steps] == ["done"] * 4, steps
    kinds = db.rows("SELECT kind, delta FROM credit_ledger WHERE user_id = :'u' "
                    "AND kind LIKE 'batch%' ORDER BY created_at", u=u.id)
    assert kinds == [("batch_hold", "-20")]
    assert balance(db, u) == before - 20
