"""Benchmarks: run every ``benchmarks/bench_*.py`` module and print one table (``--only NAME``, ``--quick``)."""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pipeline.runtime import tune_collector


def bench_modules(only: list[str]) -> list[str]:
    here = Path(__file__).parent
    names = sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))
    return [n for n in names if not only or any(o in n for o in only)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--only", action="append", default=[], help="substring of a bench module name")
    parser.add_argument("--quick", action="store_true", help="smaller corpora, fewer repeats")
    parser.add_argument("--json", type=Path, help="also write all rows to this file")
    args = parser.parse_args(argv)
    tune_collector()  # as every akhbar process runs (pipeline/runtime.py)
    console = Console()
    rows: list[dict] = []
    failed = False
    for name in bench_modules(args.only):
        console.print(f"[bold]running {name}[/bold]")
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            rows.extend(module.run(quick=args.quick))
        except Exception as exc:  # a failing benchmark is reported, the others still run
            failed = True
            console.print(f"[red]{name} failed: {type(exc).__name__}: {exc}[/red]")
        console.print(f"  {time.perf_counter() - started:.1f}s")
    table = Table("bench", "metric", "value", "unit", "target")
    for row in rows:
        value = row.get("value")
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        table.add_row(row["bench"], row["metric"], shown, row.get("unit", ""), str(row.get("target", "")))
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
