"""Faust fixes: one correction to faust-streaming 0.15's table recovery that at-least-once depends on.

After a rebalance, ``Recovery.on_recovery_completed`` resumes the stream partitions, then awaits the seek to the
committed offsets, and only then calls ``app.flow_control.resume()`` — which clears every stream queue. Messages
the fetcher delivered during the seek sit in those queues: they are thrown away unprocessed, and because the
consumer has already recorded them as read, their re-fetch after the seek is dropped as "already read" too. Seen
here (tests/integration/test_faults.py, a second worker joining and leaving): 5–26 raw articles of a partition
lost until the next restart, in about one run in three. faust-streaming issues #216/#217 fixed the same order in
``_resume_streams`` (the path without tables); the path with tables kept it.

The fix keeps the upstream steps and changes only their order: seek while the stream partitions are still
paused, resume the flow (clearing queues that can only hold pre-rebalance messages, which the seek re-reads),
and resume the partitions last. Applied by ``apply()`` when the worker is built, never at import time, and
only to the faust-streaming minor it was written for (pyproject pins ``<0.16``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("akhbar.faust_fixes")

FIXED_MINOR = "0.15."


async def on_recovery_completed(self: Any, generation_id: int = 0) -> None:
    """``Recovery.on_recovery_completed`` with the seek before, and the partition resume after, the flow resume."""
    app, consumer = self.app, self.app.consumer
    self.log.info("Restore complete!")
    await app.on_rebalance_complete.send()
    self._set_recovery_ended()
    actives, standbys = self.actives_for_table, self.standbys_for_table
    table_callbacks = [
        asyncio.ensure_future(table.on_recovery_completed(actives[table], standbys[table]))
        for table in self.tables.values()
    ]
    if table_callbacks:
        await asyncio.wait(table_callbacks)
    if app.consumer_generation_id != generation_id:
        self.log.warning("Recovery rebalancing again app id %s param %s", app.consumer_generation_id, generation_id)
        return
    assignment = consumer.assignment()
    if assignment:
        self.log.info("Seek stream partitions to committed offsets.")
        await self._wait(consumer.perform_seek(), timeout=app.conf.broker_request_timeout)
    self.completed.set()
    app.flow_control.resume()  # clears the stream queues: nothing fetched since the seek is in them yet
    consumer.resume_flow()
    consumer.resume_partitions({tp for tp in assignment if not self._is_changelog_tp(tp)})
    await app._fetcher.maybe_start()
    self.tables.on_actives_ready()
    if not app.assignor.assigned_standbys():
        self.tables.on_standbys_ready()
    app.on_rebalance_end()
    self.log.info("Worker ready")


def apply() -> bool:
    """Install the fix into faust's Recovery class; returns False (and warns) on a faust it was not written for."""
    import faust
    from faust.tables.recovery import Recovery

    if not faust.__version__.startswith(FIXED_MINOR):
        log.warning("faust-streaming %s: recovery-order fix not applied (written for %sx)", faust.__version__,
                    FIXED_MINOR)  # fmt: skip
        return False
    Recovery.on_recovery_completed = on_recovery_completed  # type: ignore[method-assign]
    return True
