"""Plant small bugs in the integration layer, one at a time, and check that the tests guarding each one fail.

Each bug is a one-line edit of the *installed* yolo_lr (the copy in this interpreter's site-packages, so subprocess
trainings through the stock ``yolo`` CLI and DDP workers run it too). For each bug: edit, run the named tests, restore
the file (also on Ctrl-C or an error). A bug is *caught* when its tests fail, and the script prints the first failing
assertion so you can see it fails for the right reason. Before any bug, the same tests must pass on the clean copy.

    bash scripts/run_tests.sh --co -q >/dev/null   # once: sets up .venv (any README command does)
    .venv/bin/python scripts/planted_bugs.py                  # every bug; a Markdown table on stdout
    .venv/bin/python scripts/planted_bugs.py --only plateau_metric_zero
    .venv/bin/python scripts/planted_bugs.py --write-md       # also rewrites the table in tests/README.md

It edits the environment it runs in: never run it while the test suite runs in the same ``.venv``. Needs the offline
environment of the tests (``scripts/setup_env.sh`` exports it; the script sets the same defaults).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Bug:
    name: str
    behaviour: str
    module: str  # file inside the yolo_lr package
    old: str  # must occur exactly once
    new: str
    tests: tuple[str, ...]  # pytest node ids (or file::test prefixes with -k below)


BUGS = [
    Bug(
        "warmup_start_ignored",
        "warmup start in a real run",
        "schedule.py",
        "start = settings.warmup.start",
        "start = 0.0",
        ("tests/test_training.py::test_warmup_shape_and_start_in_training",),
    ),
    Bug(
        "warmup_shape_ignored",
        "warmup shape in a real run",
        "policies.py",
        "return warmup_weight(u, self.shape)",
        'return warmup_weight(u, "linear")',
        ("tests/test_training.py::test_warmup_shape_and_start_in_training",),
    ),
    Bug(
        "freeze_removed_lr0_kept",
        "backbone freeze via requires_grad=False",
        "backbone.py",
        "p.requires_grad_(False)",
        "p.requires_grad_(True)",
        ("tests/test_finetune.py::test_frozen_backbone_is_frozen_not_just_lr_zero",),
    ),
    Bug(
        "cooldown_reset_on_load",
        "plateau cooldown counter across resume",
        "plateau.py",
        'self.cooldown_counter = int(state["cooldown_counter"])',
        "self.cooldown_counter = 0",
        ("tests/test_training.py::test_resume_mid_patience_then_mid_cooldown_gives_the_uninterrupted_lr_trace",),
    ),
    Bug(
        "onecycle_momentum_never_applied",
        "one-cycle momentum cycling in the optimizer",
        "stepper.py",
        "self.momenta = plan.momenta(self.momentum_base)",
        "self.momenta = None",
        ("tests/test_training.py::test_every_policy_in_training_matches_its_closed_form",),
    ),
    Bug(
        "plateau_metric_zero",
        "plateau reads its metric in training",
        "plateau_watch.py",
        "return float(pool.get(name))",
        "return 0.0",
        ("tests/test_training.py::test_plateau_decisions_follow_the_metric_epoch_by_epoch",),
    ),
    Bug(
        "finder_rng_not_restored",
        "finder restores the RNG state",
        "ultralytics_compat.py",
        "torch.set_rng_state(torch_rng)",
        "pass",
        (
            "tests/test_finder.py::test_range_test_restores_model_ema_optimizer_and_rng_exactly",
            "tests/test_finder.py::test_coco8_finder_restores_the_rng_state",
        ),
    ),
    Bug(
        "ddp_broadcast_removed",
        "DDP: rank 1 applies rank 0's plateau decision",
        "plateau_watch.py",
        "dist.broadcast_object_list(box, 0)",
        "box = [self.state()]",
        ("tests/test_ddp.py",),
    ),
    Bug(
        "lr_csv_resume_keeps_every_row",
        "lr.csv after a resume: the rows of an uninterrupted run, none twice",
        "lr_log.py",
        "and int(r[0]) <= last_epoch:",
        ":",
        ("tests/test_resume.py",),
    ),
    Bug(
        "freeze_lost_on_resume",
        "a run killed before its unfreeze epoch is frozen again on resume",
        "backbone.py",
        "if unfreeze and start_epoch < unfreeze:",
        "if unfreeze and start_epoch == 0:",
        ("tests/test_resume.py",),
    ),
    Bug(
        "plateau_history_lost_on_resume",
        "the plateau's history of reductions survives a resume",
        "plateau_watch.py",
        'self.reductions = list(state["reductions"])',
        "self.reductions = []",
        ("tests/test_resume.py",),
    ),
    Bug(
        "lr_log_native_when_no_step",
        "results.csv lr/pg*: an LR a step used, also for an epoch without a step",
        "stepper.py",
        "if self.taken else self.previous",
        "if self.taken else None",
        ("tests/test_few_steps.py",),
    ),
    Bug(
        "sweep_ranks_min_as_max",
        "sweep: a lower-is-better metric ranks lowest first",
        "tools/sweep.py",
        'sign = 1.0 if mode == "max" else -1.0',
        "sign = 1.0",
        ("tests/test_sweep.py",),
    ),
    Bug(
        "reset_callbacks_silent_native",
        "a trainer whose callbacks were reset still gets the plugin",
        "registration.py",
        "            callbacks[event].append(fn)",
        "            pass",
        ("tests/test_host_paths.py",),
    ),
    Bug(
        "no_first_step_guard",
        "a run whose plugin callbacks were removed stops at its first step",
        "registration.py",
        "        if not is_driving(trainer):",
        "        if False:",
        ("tests/test_host_paths.py",),
    ),
    Bug(
        "no_fallback_refusal",
        "on an unsupported Ultralytics, lr_* keys stop the run naming the releases",
        "registration.py",
        "            if keys and _INACTIVE:",
        "            if False:",
        ("tests/test_ultralytics_compat.py",),
    ),
]


def installed_package() -> Path:
    out = subprocess.run(
        [sys.executable, "-c", "import yolo_lr, os; print(os.path.dirname(yolo_lr.__file__))"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",  # not the checkout: the installed copy (the one the startup hook imports) is the one to edit
    )
    pkg = Path(out.stdout.strip())
    if pkg == ROOT / "yolo_lr":
        raise SystemExit(f"yolo_lr is imported from the checkout ({pkg}); run with the installed copy (README)")
    return pkg


def run_tests(tests: tuple[str, ...]) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return p.returncode, p.stdout + p.stderr, time.perf_counter() - t0


def first_failure(output: str) -> str:
    """The first assertion line pytest printed (``E   ...``), shortened."""
    for line in output.splitlines():
        if line.startswith("E ") and line[1:].strip():
            return re.sub(r"\s+", " ", line[1:].strip())[:160]
    failed = [line for line in output.splitlines() if line.startswith("FAILED")]
    return failed[0][:160] if failed else "(no assertion line)"


def plant(pkg: Path, bug: Bug) -> tuple[bool, str, float]:
    path = pkg / bug.module
    clean = path.read_text()
    if clean.count(bug.old) != 1:
        raise SystemExit(f"{bug.name}: expected exactly one {bug.old!r} in {path} (found {clean.count(bug.old)})")
    try:
        path.write_text(clean.replace(bug.old, bug.new))
        rc, out, secs = run_tests(bug.tests)
    finally:
        path.write_text(clean)
    if rc not in (0, 1):
        raise SystemExit(f"{bug.name}: pytest could not run (exit {rc}):\n{out[-3000:]}")
    return rc == 1, first_failure(out) if rc == 1 else "all passed", secs


def table(rows: list[tuple[Bug, bool, str, float]]) -> str:
    lines = [
        "| behaviour | planted bug (one line, in the installed package) | guarding tests | caught? | first failure |",
        "|---|---|---|---|---|",
    ]
    for bug, caught, why, _ in rows:
        tests = ", ".join(f"`{t.removeprefix('tests/')}`" for t in bug.tests)
        lines.append(
            f"| {bug.behaviour} | `{bug.module}`: `{bug.old}` → `{bug.new}` | {tests} | "
            f"{'**yes**' if caught else '**NO**'} | {why.replace('|', '/')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", choices=[b.name for b in BUGS])
    ap.add_argument("--write-md", action="store_true", help="rewrite the planted-bugs table in tests/README.md")
    args = ap.parse_args(argv)
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / ".yolo_config"))
    bugs = [b for b in BUGS if not args.only or b.name in args.only]
    pkg = installed_package()
    t0 = time.perf_counter()
    tests = tuple(dict.fromkeys(t for b in bugs for t in b.tests))
    rc, out, secs = run_tests(tests)
    if rc != 0:
        raise SystemExit(f"the guarding tests fail on the clean package (exit {rc}):\n{out[-3000:]}")
    print(f"clean package: {len(tests)} test selections pass ({secs:.0f} s)", flush=True)
    rows = []
    for bug in bugs:
        caught, why, secs = plant(pkg, bug)
        rows.append((bug, caught, why, secs))
        print(f"{bug.name}: {'caught' if caught else 'SURVIVED'} ({secs:.0f} s) {why}", flush=True)
    text = table(rows)
    note = (
        f"`python scripts/planted_bugs.py`: {sum(r[1] for r in rows)} of {len(rows)} planted bugs caught, "
        f"{time.perf_counter() - t0:.0f} s in all (clean run first: the same tests pass)."
    )
    print("\n" + text + "\n\n" + note)
    if args.write_md:
        md = ROOT / "tests" / "README.md"
        start, end = "<!-- planted:start -->", "<!-- planted:end -->"
        body = md.read_text()
        if body.count(start) != 1 or body.count(end) != 1:
            raise SystemExit(f"{md} needs one {start} ... {end} pair")
        head, rest = body.split(start, 1)
        md.write_text(f"{head}{start}\n{text}\n\n{note}\n{end}{rest.split(end, 1)[1]}")
    return 0 if all(r[1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
