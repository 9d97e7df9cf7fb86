"""`scripts/bench`: run every measurement, print the table, write the JSON.

Each section is a function returning rows (core.Row); adding a measurement means adding rows,
never changing the table or the JSON format.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import engines, large, listening, memory, phone, player, sections
from .core import ROOT, BenchError, Context, Row, scratch_folder, stderr, summary, table

SECTIONS = {
    "export": sections.export,  # 1 and 2
    "startup": sections.startup,  # 3
    "scale": sections.scale,  # 6
    "memory": memory.measure,  # 7
    "engines": engines.measure,  # 8 and 9
    "phone": phone.measure,  # 10
    "large": large.measure,  # 11
    "listening": listening.measure,  # 12
    # 4 runs last: it renders in this process, and Linux passes a parent's peak memory on to
    # the children it starts, which would spoil the memory figures of sections 6 and 7
    "player": player.measure,
}


def _meta(quick: bool, started: float) -> dict[str, object]:
    """What the numbers depend on, so two result files can be compared fairly."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "measured": "source tree (python -m voiceguide, cwd = repository root)",
        "quick": quick,
        "seconds": round(time.perf_counter() - started, 1),
        "python": platform.python_version(),
        "espeak_ng": espeak.strip(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs (about a third)")
    parser.add_argument(
        "--long",
        action="store_true",
        help="measure timing accuracy over all of upper-back (adds 15 minutes)",
    )
    parser.add_argument(
        "--only", choices=list(SECTIONS), action="append", help="run only these sections"
    )
    parser.add_argument(
        "--json",
        type=Path,
        default=ROOT / "bench-results" / "bench.json",
        help="where to write the results (default: bench-results/bench.json)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    rows: list[Row] = []
    failed: list[str] = []
    with scratch_folder() as scratch:
        ctx = Context(quick=args.quick, scratch=scratch, log=stderr, long=args.long)
        for name, measure in SECTIONS.items():
            if args.only and name not in args.only:
                continue
            stderr(f"bench: {name} ...")
            try:
                new = measure(ctx)
            except BenchError as exc:  # the other sections still count
                stderr(f"bench: {name} failed: {exc}")
                failed.append(name)
                continue
            rows += new
    meta = _meta(args.quick, started)
    print(table(rows))
    print(f"\ntotal {meta['seconds']} s{' (--quick)' if args.quick else ''}")
    print(summary(rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "meta": meta,
        "summary": summary(rows),
        "rows": [r.to_json() for r in rows],
    }
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    if failed:
        print(f"failed sections: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
