"""``lr.csv`` (the LR of every param group at every optimizer step) and ``lr.png`` (its plot), written on rank 0.

Both are for people to read: nothing the plugin computes depends on them, so a missing, truncated or garbled
``lr.csv`` cannot change a resumed run's LRs (resume rewrites it to the epochs the checkpoint holds).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

CSV_NAME, PLOT_NAME = "lr.csv", "lr.png"


class LRLog:
    """Appends each epoch's rows (one per optimizer step) to ``lr.csv``, once per epoch.

    Args:
        save_dir: the run directory.
        header: column names: ``epoch, iteration, step, lr/pg0(...), ..., momentum``.
    """

    def __init__(self, save_dir: Path, header: list[str]):
        self.path = Path(save_dir) / CSV_NAME
        self.header = header

    def start(self, last_epoch: int | None) -> None:
        """A new run (``last_epoch`` None) starts a new file; a resumed one keeps the rows of epochs <= last_epoch.

        Rows that do not parse (a write torn by a crash, a garbled file) are dropped; the file is rewritten whole.
        """
        if last_epoch is None:
            self.path.unlink(missing_ok=True)
            return
        kept = []
        try:
            with open(self.path, newline="") as f:
                rows = list(csv.reader(f))
        except (OSError, UnicodeDecodeError, csv.Error):
            rows = []
        if rows and rows[0] == self.header:
            for r in rows[1:]:
                try:
                    if len(r) == len(self.header) and [float(x) for x in r] and int(r[0]) <= last_epoch:
                        kept.append(r)
                except ValueError:
                    continue
        with open(self.path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(self.header)
            w.writerows(kept)

    def append(self, rows: list[tuple]) -> None:
        """Append an epoch's rows (before its checkpoint is written)."""
        if not rows:
            return
        new = not self.path.exists()
        with open(self.path, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(self.header)
            w.writerows(rows)

    def plot(self, reductions: list[int], note: str | None = None) -> Path | None:
        """Draw ``lr.png`` next to ``lr.csv``; None when there is nothing to draw. ``note``: see :func:`plot_lr_csv`."""
        if not self.path.exists():
            return None
        return plot_lr_csv(self.path, self.path.with_name(PLOT_NAME), reductions, note=note)


def plot_lr_csv(
    csv_path: Path,
    png_path: Path,
    reductions: list[int] | None = None,
    title: str | None = None,
    note: str | None = None,
) -> Path:
    """Draw LR vs iteration per param group from an lr.csv, with epoch boundaries and plateau reductions marked.

    ``note`` (e.g. ``lr0=0.0123 found by lr_find``) is added to the title and written in the plot's upper right.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    header, data = rows[0], [r for r in rows[1:] if r]
    lr_cols = [j for j, h in enumerate(header) if h.startswith("lr/")]
    it = [int(r[1]) for r in data]
    fig = Figure(figsize=(8, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    seen, tops = set(), {}
    marker = "o" if len(data) <= 30 else None  # a run of a few steps: every step visible, one step included
    for j in lr_cols:  # identical curves (weight/bn) are drawn once, labelled together
        ys = tuple(float(r[j]) for r in data)
        if ys in seen:
            continue
        seen.add(ys)
        same = [header[k] for k in lr_cols if tuple(float(r[k]) for r in data) == ys]
        ax.plot(it, ys, label=", ".join(same), linewidth=1.2, marker=marker, markersize=3)
        tops["bias" in header[j]] = max(tops.get("bias" in header[j], 0.0), max(ys, default=0.0))
    if not data:
        ax.text(0.5, 0.5, "no optimizer step was taken", transform=ax.transAxes, ha="center")
    ys_all = [float(r[j]) for r in data for j in lr_cols]
    if ys_all and max(ys_all) - min(ys_all) <= 1e-12 * max(abs(max(ys_all)), 1e-30):  # a flat curve or one point
        ax.set_ylim(0, 1.25 * max(ys_all) if max(ys_all) > 0 else 1.0)
    if len(set(it)) == 1:
        ax.set_xlim(it[0] - 1, it[0] + 1)
    if tops.get(True, 0.0) > 3 * tops.get(False, math.inf) and tops[False] > 0:  # bias warmup would flatten the rest
        ax.set_ylim(0, 1.25 * tops[False])
        ax.text(0.01, 0.97, f"bias warmup from {tops[True]:.3g} clipped", transform=ax.transAxes, fontsize=8, va="top")
    epoch_first = {}
    for r in data:
        epoch_first.setdefault(int(r[0]), int(r[1]))
    for e, x in epoch_first.items():
        if e > 0:
            ax.axvline(x, color="0.85", linewidth=0.8, zorder=0)
    for e in reductions or []:
        if e + 1 in epoch_first:
            ax.axvline(epoch_first[e + 1], color="tab:red", linestyle="--", linewidth=1.0)
            ax.annotate("plateau", (epoch_first[e + 1], ax.get_ylim()[1]), color="tab:red", fontsize=8, va="top")
    ax.set_xlabel("iteration (batch); grey lines = epoch starts")
    ax.set_ylabel("learning rate")
    title = title or f"yolo_lr: LR per optimizer step ({csv_path.parent.name})"
    ax.set_title(f"{title}\n{note}" if note else title, fontsize=10 if note else None)
    if note:
        ax.text(0.99, 0.97, note, transform=ax.transAxes, fontsize=8, ha="right", va="top", color="tab:red")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png_path)
    return png_path
