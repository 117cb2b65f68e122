"""python -m tests.benchmarks [SCENARIO…] [--quick] [--json OUT]
python -m tests.benchmarks compare --old PATH [--rounds N] [--quick] [--json OUT]

Runs each scenario against PyRTC and its baselines in the same run and prints a table
(scenario, system, figure, ratio to PyRTC) plus a JSON file. `compare` runs an older
PyRTC checkout against this one instead (see compare.py). Benchmarks print figures;
tests never assert timings."""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from .machine import machine
from .scenarios import SCENARIOS, Ctx, Row


def table(rows: list[Row]) -> str:
    ref = {(s, m): v for s, sys_, m, v, _ in rows if sys_ == "PyRTC"}
    out = [f"{'scenario':<40} {'system':<20} {'figure':<36} {'value':>14}  {'vs PyRTC':>8}"]
    for scen, system, metric, value, unit in rows:
        base = ref.get((scen, metric))
        ratio = "" if system == "PyRTC" or not base or math.isnan(value) else f"{value / base:.2f}×"
        shown = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.2f}"
        out.append(f"{scen:<40} {system:<20} {metric:<36} {shown + ' ' + unit:>14}  {ratio:>8}")
    return "\n".join(out)


def main() -> int:
    if sys.argv[1:2] == ["compare"]:
        from .compare import main as compare

        return compare(sys.argv[2:])
    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__)
    ap.add_argument("scenarios", nargs="*", choices=[*SCENARIOS, []], metavar="SCENARIO",
                    help=f"any of: {', '.join(SCENARIOS)} (default: all)")
    ap.add_argument("--quick", action="store_true", help="short runs (under 2 minutes in all)")
    ap.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the figures here")
    ap.add_argument("--gui-before", type=Path, default=None, metavar="PATH",
                    help="gui: also run the window of an older checkout (with its .venv), before this one")
    args = ap.parse_args()
    chosen = args.scenarios or list(SCENARIOS)
    rows: list[Row] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pyrtc-bench-") as tmp:
        ctx = Ctx(Path(tmp), args.quick, lambda s: print(s, file=sys.stderr, flush=True), args.gui_before)
        for name in chosen:
            print(f"[{name}]", file=sys.stderr, flush=True)
            t0 = time.monotonic()
            rows += SCENARIOS[name](ctx)
            print(f"  ({time.monotonic() - t0:.0f} s)", file=sys.stderr, flush=True)
    print(f"\nPyRTC benchmarks — {machine()}; {'quick' if args.quick else 'full'} run, "
          f"{time.monotonic() - started:.0f} s\n")
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps({
            "machine": machine(), "quick": args.quick, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
            "rows": [{"scenario": s, "system": y, "metric": m, "value": v, "unit": u}
                     for s, y, m, v, u in rows]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
