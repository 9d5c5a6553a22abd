"""Every preset trains coco8 through the stock `yolo` CLI (startup hook, cfg=preset) and its per-step LRs equal the
`yolo-lr plot` preview of the same settings: a consistency check of the preview, not a check of the formulas (both
sides share the schedule code; test_training.py checks every policy against closed forms). The previews of the
presets agree with their documented shapes."""

from __future__ import annotations

import subprocess

import pytest
import yaml
from conftest import COCO8, FAST, MODEL, ROOT, read_csv, venv_bin, yolo_env

import yolo_lr
from yolo_lr.tools.cli import load_config, simulate

PRESETS = ["finetune", "native", "onecycle", "plateau", "restarts", "step", "warmup_cosine", "wsd"]
EPOCHS = 3
# finetune's unfreeze epoch (3) must lie inside a 3-epoch run
EXTRA = {"finetune": {"lr_unfreeze_epoch": 1}}


def test_every_preset_is_listed():
    assert yolo_lr.preset_names() == sorted(PRESETS)


def _plot_rows(tmp_path, name: str, overrides: dict) -> list[dict]:
    """The CSV written by the real `yolo-lr plot` command for this preset and these overrides."""
    words = [f"{k}={v}" for k, v in overrides.items()]
    out = tmp_path / f"plot_{name}.png"
    p = subprocess.run(
        [
            venv_bin("yolo-lr"),
            "plot",
            f"cfg={name}",
            f"epochs={EPOCHS}",
            "batches=4",
            "batch=1",
            "nbs=1",
            f"out={out}",
            *words,
        ],
        capture_output=True,
        text=True,
        env=yolo_env(),
        timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert out.exists() and out.with_suffix(".csv").exists()
    return read_csv(out.with_suffix(".csv"))


def _assert_same_lrs(real: list[dict], preview: list[dict]):
    assert len(real) == len(preview) > 0
    cols = [c for c in real[0] if c.startswith("lr/")]
    assert cols == [c for c in preview[0] if c.startswith("lr/")]
    for a, b in zip(real, preview):
        assert int(a["iteration"]) == int(b["iteration"])
        for c in cols:
            assert float(a[c]) == pytest.approx(float(b[c]), rel=1e-9, abs=1e-15), (c, a["iteration"])


def _effective(args) -> dict:
    """optimizer=auto rewrites lr0/warmup_bias_lr at train time: the preview needs the values the run used."""
    return {"lr0": args["lr0"], "warmup_bias_lr": args["warmup_bias_lr"]} if args else {}


@pytest.mark.training
@pytest.mark.parametrize("name", PRESETS)
def test_preset_via_stock_cli_matches_preview(pretrained, tmp_path, name):
    import torch

    model = pretrained if name == "finetune" else MODEL
    extra = [f"{k}={v}" for k, v in EXTRA.get(name, {}).items()]
    p = subprocess.run(
        [
            venv_bin("yolo"),
            "train",
            f"cfg={yolo_lr.preset_path(name)}",
            f"model={model}",
            f"data={COCO8}",
            f"epochs={EPOCHS}",
            f"project={tmp_path}",
            "name=cli",
            *(f"{k}={v}" for k, v in FAST.items() if k not in {"verbose"}),
            *extra,
        ],
        capture_output=True,
        text=True,
        env=yolo_env(),
        timeout=600,
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    run_dir = tmp_path / "cli"
    eff = {}
    if name == "native":
        ckpt = torch.load(run_dir / "weights" / "last.pt", map_location="cpu", weights_only=False)
        eff = _effective(ckpt["train_args"])
        assert eff["lr0"] != 0.01  # optimizer=auto really replaced lr0, and the preview must be told
    _assert_same_lrs(read_csv(run_dir / "lr.csv"), _plot_rows(tmp_path, name, {**EXTRA.get(name, {}), **eff}))


# ------------------------------------------------------------------------------------ the preview's documented shapes
def _sim(name: str, epochs: int = 30, batches: int = 10, **kw):
    cfg, _, _ = load_config({"cfg": name, "epochs": epochs, "batch": 1, "nbs": 1, **kw})
    return cfg, simulate(cfg, batches)


def test_finetune_preset_recipe():
    cfg, sim = _sim("finetune")
    # an explicit optimizer (auto would replace lr0), the study's lr0 and an optimizer step every batch of 16
    assert cfg["optimizer"] == "AdamW" and cfg["lr0"] == pytest.approx(0.0015)
    assert yaml.safe_load((ROOT / "configs" / "finetune.yaml").read_text())["nbs"] == 16
    assert cfg["warmup_bias_lr"] == 0.0 and cfg["warmup_epochs"] < 3  # no bias spike, shorter than native
    h = sim["header"]
    head, bb, bias = h.index("lr/pg0(weight)"), h.index("lr/pg3(weight/backbone)"), h.index("lr/pg2(bias)")
    rows = sim["rows"]
    assert max(r[bias] for r in rows) <= cfg["lr0"] + 1e-12  # no bias spike
    unfreeze, scale = cfg["lr_unfreeze_epoch"], cfg["lr_backbone_scale"]
    assert 0 < scale < 1 and unfreeze >= 1
    assert all(r[bb] == 0.0 for r in rows if r[0] < unfreeze) and all(r[bb] > 0 for r in rows if r[0] > unfreeze)
    late = [r for r in rows if r[0] >= unfreeze + cfg["lr_unfreeze_warmup"]]
    assert late and all(r[bb] == pytest.approx(scale * r[head], rel=1e-12) for r in late)
    assert rows[-1][head] == pytest.approx(cfg["lr0"] * cfg["lrf"], rel=1e-9)


def test_onecycle_preset_cycles_momentum():
    _cfg, sim = _sim("onecycle")
    rows, h = sim["rows"], sim["header"]
    lr, mom = [r[h.index("lr/pg0(weight)")] for r in rows], [r[-1] for r in rows]
    peak = lr.index(max(lr))
    assert abs(peak / len(rows) - 0.3) < 0.02 and lr[0] == pytest.approx(0.01 / 25)
    assert (
        mom[peak] == pytest.approx(0.85, abs=1e-3) and mom[0] == pytest.approx(0.95) and mom[-1] == pytest.approx(0.95)
    )


def test_restarts_and_plateau_previews_mark_events():
    _, sim = _sim("restarts", epochs=70, batches=2)
    restarts = [e for e, ev in sim["events"].items() if any(x.startswith("restart") for x in ev)]
    # three cycles (mult 2) fill the 66.5 epochs from the end of warmup (3 epochs) to the last batch (69.5): 9.5, 19
    # and 38 epochs, so restarts at 3 + 9.5 = 12.5 and 3 + 28.5 = 31.5
    assert restarts == [12, 31]
    _, sim = _sim("plateau", epochs=40, batches=2)
    drops = sorted(e for e, ev in sim["events"].items() if any(x.startswith("plateau") for x in ev))
    # The simulated metric improves until epoch 16 (40% of 40) and is flat after. Bad epochs 17..22: the 6th (> patience
    # 5) triggers a reduction after epoch 22, used from epoch 23. Cooldown 2 (epochs 23, 24) then 6 bad epochs 25..30:
    # the next reduction is used from epoch 31. Event keys are the first 0-based epoch that uses the reduced LR.
    assert drops[:2] == [23, 31]


@pytest.mark.training
def test_a_preset_name_works_as_cfg_in_python_and_a_local_file_wins(tmp_path, monkeypatch):
    from ultralytics import YOLO

    monkeypatch.chdir(tmp_path)
    args = {**FAST, "data": str(COCO8), "epochs": 2, "project": str(tmp_path), "warmup_epochs": 0}
    model = YOLO(MODEL)
    model.train(cfg="plateau", name="by_name", **args)
    assert model.trainer.args.lr_policy == "plateau" and (tmp_path / "by_name" / "lr.csv").exists()
    (tmp_path / "plateau.yaml").write_text("lr_policy: wsd\n")  # the user's own file of that name wins
    model = YOLO(MODEL)
    model.train(cfg="plateau.yaml", name="local", **args)
    assert model.trainer.args.lr_policy == "wsd"


@pytest.mark.training
def test_stock_cli_takes_a_preset_name_and_ends_a_bad_yaml_with_its_line(tmp_path):
    words = [f"{k}={v}" for k, v in FAST.items() if k != "verbose"]
    base = [venv_bin("yolo"), "train", "model=" + MODEL, f"data={COCO8}", "epochs=2", f"project={tmp_path}", *words]
    p = subprocess.run([*base, "cfg=step", "name=step"], env=yolo_env(), capture_output=True, text=True, timeout=600,
                       cwd=tmp_path)  # fmt: skip
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    assert "lr_policy: step" in (tmp_path / "step" / "args.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text("lr_policy: cosine\nlr0: [0.01\n")
    p = subprocess.run([*base, f"cfg={bad}", "name=bad"], env=yolo_env(), capture_output=True, text=True, timeout=600,
                       cwd=tmp_path)  # fmt: skip
    tail = (p.stdout + p.stderr).strip().splitlines()[-6:]
    assert p.returncode != 0 and any(f"'{bad}', line 2, column 6" in line for line in tail), tail
    assert not any("not a valid YOLO argument" in line for line in tail), tail
    assert not (tmp_path / "bad").exists()
