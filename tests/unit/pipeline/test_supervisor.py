"""The supervisor restarts a crashed child unless it is crash-looping."""

from __future__ import annotations

from pathlib import Path

from pipeline.supervisor import CRASH_WINDOW, MAX_CRASHES, Child


def test_crash_loop_detection_is_windowed():
    child = Child("worker", ["worker"], Path("/dev/null"))
    assert not any(child.crash_looping(float(t)) for t in range(MAX_CRASHES))
    assert child.crash_looping(float(MAX_CRASHES))
    later = MAX_CRASHES + CRASH_WINDOW + 1.0
    assert not child.crash_looping(later)  # old crashes age out of the window
    assert len(child.crashes) == 1
