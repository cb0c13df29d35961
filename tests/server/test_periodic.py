"""server.periodic.Periodic: chores that outlive their failures and stop when told."""

import logging
import time

from server.periodic import Periodic
from server.store import StoreError


def wait_rounds(periodic, count, timeout=5):
    deadline = time.monotonic() + timeout
    while periodic.rounds < count and time.monotonic() < deadline:
        time.sleep(0.005)
    assert periodic.rounds >= count


def test_a_chore_goes_on_after_failures_and_logs_a_repeated_one_once(caplog):
    outcomes = iter([StoreError("the database is read-only", "read_only")] * 3 + [RuntimeError("bug")] + [None] * 1000)

    def chore():
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    with caplog.at_level(logging.INFO, logger="server.periodic"):
        periodic = Periodic(0.01, chore, name="chore", first=0).start()
        wait_rounds(periodic, 6)
        periodic.stop()
    messages = [record.getMessage() for record in caplog.records]
    assert messages[:3] == ["chore: the database is read-only", "chore failed", "chore: works again"]
    assert periodic.stopped and not periodic._thread.is_alive()


def test_stop_ends_the_thread_at_once_even_between_long_rounds():
    periodic = Periodic(3600, lambda: None, name="daily", first=0).start()
    wait_rounds(periodic, 1)
    began = time.monotonic()
    periodic.stop()
    assert time.monotonic() - began < 1 and not periodic._thread.is_alive()
