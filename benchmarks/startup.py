#!/usr/bin/env python
"""What the ``yolo_lr.pth`` startup hook adds to every Python process: whole-process start-up time.

Runs ``python -c pass`` (the interpreter of this environment, whose site-packages hold ``yolo_lr.pth``) in pairs,
once with the hook on and once with ``YOLO_LR_DISABLE=1``, alternating which runs first, and reports the medians and
the median of the paired differences; also the modules the hook imports and their own ``-X importtime``. No
training; about a minute:

    python benchmarks/startup.py --write-md        # ... and rewrite the startup block of BENCHMARKS.md
    python benchmarks/startup.py --from-json benchmarks/results/startup.json --write-md   # re-render
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)

GOAL_MS = 2.0
BENCH = common.Bench(
    name="startup",
    block="startup",
    doc=__doc__,
    full={"pairs": 300, "python": sys.executable},
    smoke={"pairs": 4},
    help={"pairs": "on/off pairs", "python": "interpreter to start"},
    minimum={"pairs": 2},
)


def env(hook_on: bool) -> dict[str, str]:
    """This environment without the harness's PYTHONPATH (the hook imports the installed yolo_lr), hook on or off."""
    e = {k: v for k, v in os.environ.items() if k not in ("YOLO_LR_DISABLE", "PYTHONPATH")}
    return e if hook_on else {**e, "YOLO_LR_DISABLE": "1"}


def run_once(python: str, hook_on: bool) -> float:
    """Milliseconds for one whole ``python -c pass`` process (spawn to exit)."""
    t0 = time.perf_counter()
    subprocess.run([python, "-c", "pass"], env=env(hook_on), check=True)
    return (time.perf_counter() - t0) * 1e3


def modules_added(python: str) -> list[str]:
    """Modules present at the end of ``python -c`` with the hook on but not with it off."""
    code = "import sys; print('\\n'.join(sorted(sys.modules)))"
    on, off = (
        set(subprocess.run([python, "-c", code], env=env(h), check=True, capture_output=True, text=True).stdout.split())
        for h in (True, False)
    )
    return sorted(on - off)


def hook_import_us(python: str, runs: int = 20) -> float:
    """Median over ``runs`` processes of the ``-X importtime`` self time of the modules the hook imports (µs)."""
    totals = []
    for _ in range(runs):
        p = subprocess.run([python, "-X", "importtime", "-c", "pass"], env=env(True), capture_output=True, text=True)
        rows = (line.removeprefix("import time:").split("|") for line in p.stderr.splitlines())
        ours = [r for r in rows if len(r) == 3 and r[2].strip() in {"yolo_lr", "yolo_lr._startup"}]
        totals.append(sum(int(r[0]) for r in ours if r[0].strip().isdigit()))
    return statistics.median(totals)


def run(ctx: common.Context) -> dict:
    s = ctx.settings
    added = modules_added(s.python)
    if "yolo_lr" not in added:
        raise SystemExit(f"the startup hook did not run in {s.python}: is the project installed there?")
    for h in (True, False):  # warm the file system caches
        run_once(s.python, h)
    on, off = [], []
    for i in range(s.pairs):
        first = i % 2 == 0  # alternate which of the pair runs first
        x, y = run_once(s.python, first), run_once(s.python, not first)
        on.append(x if first else y)
        off.append(y if first else x)
    return {
        "machine": common.machine_info(torch_threads=None),
        "on_ms": on,
        "off_ms": off,
        "hook_import_us": hook_import_us(s.python),
        "modules": added,
        "load_jobs": None,  # no trainings: the load alone
    }


def render(ctx: common.Context, raw: dict) -> common.Report:
    diff = [a - b for a, b in zip(raw["on_ms"], raw["off_ms"])]
    q1, _, q3 = statistics.quantiles(diff, n=4)
    med = statistics.median(diff)
    rows = [
        ["`python -c pass`, hook on, median", f"{statistics.median(raw['on_ms']):.2f} ms", "", ""],
        ["`python -c pass`, `YOLO_LR_DISABLE=1`, median", f"{statistics.median(raw['off_ms']):.2f} ms", "", ""],
        [
            "**Added by the hook: median of paired differences**",
            f"**{med:+.2f} ms**",
            f"<= {GOAL_MS:g} ms",
            "met" if med <= GOAL_MS else "missed",
        ],
        ["Paired differences, interquartile range", f"{q1:+.2f} .. {q3:+.2f} ms", "", ""],
        [
            "The hook's own imports (`-X importtime`, self time, median of 20)",
            f"{raw['hook_import_us']:.0f} µs",
            "",
            "",
        ],
        ["Modules the hook adds to `sys.modules`", ", ".join(f"`{m}`" for m in raw["modules"]), "", ""],
    ]
    table = common.md_table(["Figure", "Measured", "Goal", "Verdict"], rows)
    return common.Report(body=table, wall_note=f" ({len(diff)} on/off pairs)", console=table)


def main(argv: list[str] | None = None) -> int:
    return common.main(BENCH, run, argv, script=Path(__file__), render=render)


if __name__ == "__main__":
    sys.exit(main())
