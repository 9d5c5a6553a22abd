"""The documentation stays true to the repository: every relative link in README.md and docs/ points at a file that
exists, and every command in their bash blocks is a real one (its script or module exists, its `yolo` / `yolo-lr`
command and every key it passes are known). Pure: nothing is run."""

from __future__ import annotations

import re
import shlex
from importlib.util import find_spec
from pathlib import Path

import pytest
from conftest import ROOT

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "BENCHMARKS.md", ROOT / "tests" / "README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"```bash\n(.*?)```", re.S)
PROGRAMS_ELSEWHERE = {"pip", "tensorboard"}  # installed by the user, not this project


def _links(path: Path) -> list[str]:
    return [m for m in LINK.findall(path.read_text()) if not m.startswith(("http://", "https://", "#", "mailto:"))]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_at_a_file(path):
    missing = [link for link in _links(path) if not (path.parent / link.split("#")[0]).exists()]
    assert not missing, f"{path.relative_to(ROOT)}: links to nothing: {missing}"


def _commands(path: Path) -> list[str]:
    out = []
    for block in FENCE.findall(path.read_text()):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def _known_keys() -> set[str]:
    from ultralytics.cfg import MODES, TASKS
    from ultralytics.utils import DEFAULT_CFG_DICT

    from yolo_lr.config import KEYS
    from yolo_lr.finder import FINDER_KEYS
    from yolo_lr.tools.cli import SWEEP_OPTIONS

    tools = {"lr0", "batches", "out", "cfg", "force", "rule", "iters"}  # yolo-lr find/sweep/plot words
    return set(DEFAULT_CFG_DICT) | set(KEYS) | set(FINDER_KEYS) | tools | set(SWEEP_OPTIONS) | set(MODES) | set(TASKS)


def _check_words(words: list[str], known: set[str]) -> list[str]:
    """What is wrong with the key=value words of a `yolo` / `yolo-lr` command ('...' and flags are placeholders)."""
    from yolo_lr.presets import preset_names

    wrong = []
    text = " ".join(w for w in words if w != "...")
    for key, value in re.findall(r"(\w+)\s*=\s*(\S+)", text):
        if key not in known:
            wrong.append(f"unknown key {key}")
        if key == "cfg" and not (value in preset_names() or (ROOT / value).exists() or "copy" in value):
            wrong.append(f"cfg={value}: no preset or file")
    return wrong


def _problem(command: str, known: set[str]) -> str | None:
    words = shlex.split(command)
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value prefixes
        words = words[1:]
    prog, rest = words[0], words[1:]
    if prog == "bash":
        return None if (ROOT / rest[0]).exists() else f"no script {rest[0]}"
    if prog.endswith("python") or prog.endswith("python3"):
        if rest[0] == "-m":
            return None if find_spec(rest[1].split(".")[0]) and find_spec(rest[1]) else f"no module {rest[1]}"
        return None if (ROOT / rest[0]).exists() else f"no file {rest[0]}"
    if prog in {"yolo", "yolo-lr"}:
        from ultralytics.cfg import MODES, TASKS

        from yolo_lr.tools.cli import COMMANDS

        verbs = [w for w in rest if "=" not in w and w not in TASKS and not w.startswith("-")]
        allowed = set(MODES) | ({"settings", "checks", "help"} if prog == "yolo" else set(COMMANDS))
        if verbs and verbs[0] not in allowed and verbs[0] != "...":
            return f"{prog}: unknown command {verbs[0]}"
        wrong = _check_words(rest, known)
        return "; ".join(wrong) if wrong else None
    if prog in PROGRAMS_ELSEWHERE:
        return None
    return f"unknown program {prog}"


@pytest.mark.parametrize("path", [p for p in DOCS if _commands(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_shown_is_real(path):
    known = _known_keys()
    problems = [f"{c!r}: {why}" for c in _commands(path) if (why := _problem(c, known))]
    assert not problems, f"{path.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_checks_catch_a_bad_link_and_a_bad_command(tmp_path):
    known = _known_keys()
    assert _problem("yolo-lr trian model=x.pt", known) == "yolo-lr: unknown command trian"
    assert "unknown key lr_plateu" in _problem("yolo train model=x.pt lr_plateu=True", known)
    assert _problem("bash scripts/no_such.sh", known) == "no script scripts/no_such.sh"
    assert _problem("yolo train cfg=nosuchpreset model=x.pt", known) == "cfg=nosuchpreset: no preset or file"
    assert _problem("yolo train cfg=plateau model=x.pt epochs=3", known) is None
    doc = tmp_path / "a.md"
    doc.write_text("[ok](a.md) [gone](b.md) [web](https://x.org)\n")
    assert _links(doc) == ["a.md", "b.md"]
