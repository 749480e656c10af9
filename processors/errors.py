"""Errors: the one taxonomy every stage uses (expected drops, permanent errors, transient errors).

- ``Dropped``: an expected outcome (duplicate id seen again, not Arabic, too short). Counted, never an error.
- ``PermanentError``: this input can never be processed (bad JSON, wrong schema, undecodable page). The agent
  sends it to ``news.dlq.v1`` with the stage and the reason and moves on.
- ``TransientError``: the world is briefly wrong (a server refused, a 503, a timeout). Retried with bounded
  backoff; if it still fails when the budget is spent it becomes permanent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class AkhbarError(Exception):
    """Base of every error the pipeline raises on purpose."""

    def __init__(self, reason: str, *, stage: str = "unknown") -> None:
        super().__init__(reason)
        self.reason = reason
        self.stage = stage

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickling keeps only ``args`` by default: the stage would come back from a pool process as "unknown".
        return (_rebuild, (type(self), self.reason, self.stage))


def _rebuild(kind: type[AkhbarError], reason: str, stage: str) -> AkhbarError:
    return kind(reason, stage=stage)


class PermanentError(AkhbarError):
    """The input is bad: retrying cannot help. Route to the dead-letter topic."""


class TransientError(AkhbarError):
    """The world is briefly wrong: retry with backoff."""


class Dropped(AkhbarError):
    """An expected drop (not Arabic, too short, …): counted under ``reason``, not dead-lettered."""


def outcome_of(call: Callable[[Item], Result], item: Item, stage: str) -> Result | AkhbarError:
    """``call(item)``, or the error that ended the item: ours as raised, any other (a bug on one item, which must
    not fail its batch) as a ``PermanentError`` of ``stage`` naming it, which also survives pickling."""
    try:
        return call(item)
    except AkhbarError as exc:
        return exc
    except Exception as exc:
        return PermanentError(f"{type(exc).__name__}: {exc}", stage=stage)


class ConfigError(Exception):
    """Configuration is invalid; the message names the file, the source and the field."""
