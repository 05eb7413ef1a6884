"""A sync started from the web page runs in a thread, so the page answers at once.

Why: a web request must answer within the server's timeout (gunicorn kills a sync worker
after 30 s), and a first sync of a few thousand addresses takes longer at MailerLite's 120
calls a minute. Run inside the request, the worker was killed mid-run and the owner saw an
error page. Nothing is lost if the thread dies with its worker: each batch is committed as
its provider answers, and the lock goes with the process.
"""

from __future__ import annotations

import threading

from flask import Flask

from crm.db import get_session
from crm.sync import lock
from crm.sync import runner

#: how long the request waits to learn whether the thread got the lock
LOCK_WAIT_SECONDS = 10


def start(app: Flask) -> bool:
    """Start a sync in a thread of this process; False if another sync holds the lock.

    The thread takes the lock itself (a lock is tied to the connection or file descriptor
    that took it); the caller waits only until it has been taken or refused, so the owner is
    told at once when the nightly job is running.
    """
    decided = threading.Event()
    outcome = {"started": True}

    def work() -> None:
        with app.app_context():
            try:
                with lock.sync_lock():
                    decided.set()
                    runner.run_sync(get_session(), trigger="web")
            except lock.SyncAlreadyRunning:
                outcome["started"] = False
            except Exception:  # the thread has no request to fail: log it, the page shows it
                app.logger.exception("sync started from the web page failed")
            finally:
                decided.set()

    # A daemon thread: a worker that is shutting down does not wait for the providers; the
    # next run (nightly or the button) picks up whatever is still pending.
    thread = threading.Thread(target=work, name="crm-web-sync", daemon=True)
    app.extensions["crm.sync_thread"] = thread
    thread.start()
    decided.wait(LOCK_WAIT_SECONDS)
    return outcome["started"]
