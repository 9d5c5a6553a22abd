"""What the ``yolo_lr.pth`` startup hook adds to every Python process: whole-process start-up time.

Runs ``python -c pass`` (the interpreter of this environment, whose site-packages hold ``yolo_lr.pth``) in pairs,
once with the hook on and once with ``YOLO_LR_DISABLE=1``, the order inside each pair alternating, and reports the
medians and the median of the paired differences. Also lists the modules the hook imports and its own import time
from ``-X importtime``. One command, about a minute:

    .venv/bin/python benchmarks/startup.py            # prints, and rewrites the startup block of BENCHMARKS.md
    .venv/bin/python benchmarks/startup.py --pairs 50 --no-write

Standard library only; no Ultralytics, no training.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_name  # noqa: E402  (benchmarks/ is not a package)

ROOT = Path(__file__).resolve().parents[1]
MD_PATH = ROOT / "BENCHMARKS.md"
START, END = "<!-- startup:start -->", "<!-- startup:end -->"
GOAL_MS = 2.0


def env(hook_on: bool) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "YOLO_LR_DISABLE"}
    if not hook_on:
        e["YOLO_LR_DISABLE"] = "1"
    return e


def run_once(python: str, hook_on: bool) -> float:
    """Seconds for one whole ``python -c pass`` process (spawn to exit)."""
    t0 = time.perf_counter()
    subprocess.run([python, "-c", "pass"], env=env(hook_on), check=True)
    return time.perf_counter() - t0


def modules_added(python: str) -> list[str]:
    """Modules present at the end of ``python -c`` with the hook on but not with it off."""
    code = "import sys; print('\\n'.join(sorted(sys.modules)))"
    on, off = (
        set(subprocess.run([python, "-c", code], env=env(h), check=True, capture_output=True, text=True).stdout.split())
        for h in (True, False)
    )
    return sorted(on - off)


def hook_import_us(python: str, runs: int = 20) -> float:
    """Median over ``runs`` processes of the cumulative ``-X importtime`` of the modules the hook imports (µs)."""
    totals = []
    for _ in range(runs):
        p = subprocess.run([python, "-X", "importtime", "-c", "pass"], env=env(True), capture_output=True, text=True)
        total = 0
        for line in p.stderr.splitlines():  # import time: self [us] | cumulative | imported package
            parts = [x.strip() for x in line.removeprefix("import time:").split("|")]
            if len(parts) == 3 and parts[2].strip() in {"yolo_lr", "yolo_lr._startup"} and parts[0].isdigit():
                total += int(parts[0])
        totals.append(total)
    return statistics.median(totals)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=200, help="on/off pairs (default 200)")
    ap.add_argument("--python", default=sys.executable, help="interpreter to start (default: this one)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    a = ap.parse_args(argv)

    pth = Path(sysconfig.get_paths(vars={"base": sys.prefix})["purelib"]) / "yolo_lr.pth"
    added = modules_added(a.python)
    if "yolo_lr" not in added:
        print(f"the startup hook did not run in {a.python} (is the project installed there? {pth})", file=sys.stderr)
        return 1
    for h in (True, False):  # warm the file system caches
        run_once(a.python, h)
    on, off, diff = [], [], []
    t0 = time.perf_counter()
    for i in range(a.pairs):
        first = i % 2 == 0  # alternate which of the pair runs first
        x = run_once(a.python, first)
        y = run_once(a.python, not first)
        t_on, t_off = (x, y) if first else (y, x)
        on.append(t_on * 1e3)
        off.append(t_off * 1e3)
        diff.append((t_on - t_off) * 1e3)
    wall = time.perf_counter() - t0
    q1, _, q3 = statistics.quantiles(diff, n=4)
    hook_us = hook_import_us(a.python)
    med_diff = statistics.median(diff)
    verdict = "met" if med_diff <= GOAL_MS else "missed"
    try:
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    lines = [
        f"Measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC on {cpu_name()} ({os.cpu_count()} cores, "
        f"load average {load}), Python {platform.python_version()}; {a.pairs} on/off pairs in {wall:.0f} s.",
        "",
        "```bash",
        ".venv/bin/python benchmarks/startup.py" + (f" --pairs {a.pairs}" if a.pairs != 200 else ""),
        "```",
        "",
        "| Figure | Measured | Goal | Verdict |",
        "|---|---|---|---|",
        f"| `python -c pass`, hook on, median | {statistics.median(on):.2f} ms |  |  |",
        f"| `python -c pass`, `YOLO_LR_DISABLE=1`, median | {statistics.median(off):.2f} ms |  |  |",
        f"| **Added by the hook: median of paired differences** | **{med_diff:+.2f} ms** | <= {GOAL_MS:g} ms | "
        f"{verdict} |",
        f"| Paired differences, interquartile range | {q1:+.2f} .. {q3:+.2f} ms |  |  |",
        f"| The hook's own imports (`-X importtime`, self time, median of 20) | {hook_us:.0f} µs |  |  |",
        f"| Modules the hook adds to `sys.modules` | {', '.join(f'`{m}`' for m in added)} |  |  |",
    ]
    block = "\n".join(lines)
    print(block)
    if not a.no_write:
        text = MD_PATH.read_text()
        if START not in text:
            text += (
                "\n## Startup hook\n\nWhat installing the plugin adds to every Python process of the environment "
                "(the `yolo_lr.pth` startup hook arranges registration for when Ultralytics is imported). Script: "
                f"[`benchmarks/startup.py`](benchmarks/startup.py).\n\n{START}\n{END}\n"
            )
        i, j = text.index(START) + len(START), text.index(END)
        MD_PATH.write_text(text[:i] + "\n" + block + "\n" + text[j:])
        print(f"written to {MD_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
