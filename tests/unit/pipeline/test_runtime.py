"""The collector thresholds every akhbar process sets at start."""

from __future__ import annotations

import gc
import subprocess
import sys

from pipeline.runtime import THRESHOLDS, tune_collector


def test_tune_collector_sets_the_thresholds_and_is_idempotent() -> None:
    before = gc.get_threshold()
    try:
        tune_collector()
        tune_collector()
        assert gc.get_threshold() == THRESHOLDS
        assert THRESHOLDS[0] > before[0]  # fewer young collections than CPython's default
    finally:
        gc.set_threshold(*before)


def test_the_cli_entry_point_tunes_the_collector() -> None:
    code = "\n".join(
        [
            "import gc, sys, pipeline.cli as cli",
            "sys.argv = ['akhbar', '--help']",
            "try:",
            "    cli.main()",
            "except SystemExit:",
            "    pass",
            "print(gc.get_threshold())",
        ]
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip().splitlines()[-1] == str(THRESHOLDS)
