"""`cnnkit train --task ...` and `cnnkit predict -o` reach the scene tasks; misuse is refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnkit.cli import main


@pytest.fixture(scope="module")
def detect_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "detect"
    code = main([
        "train", "--task", "detect", "--data", "scenes", "--epochs", "1", "--limit", "16",
        "--test-scenes", "8", "--batch-size", "8", "--no-progress", "--out", str(run_dir),
    ])  # fmt: skip
    assert code == 0
    return run_dir


def test_train_task_writes_a_run_directory(detect_run: Path) -> None:
    record = json.loads((detect_run / "run.json").read_text())
    assert record["config"]["task"] == "detect"
    assert record["status"] == "finished"
    assert {"map_50", "map"} <= set(record["result"])
    assert (detect_run / "model.safetensors").is_file()


def test_predict_draws_detections(detect_run: Path, tmp_path: Path) -> None:
    picture = tmp_path / "scene.png"
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    Image.fromarray(pixels).save(picture)
    output = tmp_path / "drawn.png"
    assert main(["predict", str(detect_run), str(picture), "-o", str(output)]) == 0
    width, height = Image.open(output).size
    assert width == height >= 64  # the scene, drawn (enlarged) with its boxes


def test_predict_of_a_task_run_needs_an_output(detect_run: Path, tmp_path: Path, capsys) -> None:
    picture = tmp_path / "scene.png"
    Image.fromarray(np.zeros((64, 64), dtype=np.uint8)).save(picture)
    assert main(["predict", str(detect_run), str(picture)]) == 1
    assert "-o/--output" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task", "segment", "--model", "lenet5"], "--model: not an option of --task segment"),
        (["--task", "detect", "--data", "mnist"], "trains on --data scenes, got --data mnist"),
        (["--data", "scenes"], "--data scenes needs --task detect, segment or instance"),
        (["--task", "segment", "--train-objects", "0"], "(--train-objects) must be a positive int"),
        (["--task", "segment", "--scenes", "0"], "scenes (--scenes) must be a positive int, got 0"),
        (["--task", "detect", "--test-scenes", "-1"], "(--test-scenes) must be a positive int"),
        (["--task", "segment", "--base-channels", "0"], "(--base-channels) must be a positive"),
        (["--task", "instance", "--depth", "0"], "depth (--depth) must be a positive int, got 0"),
        (["--task", "segment", "--depth", "7"], "64-pixel scenes evenly at every pooling"),
    ],
)
def test_scene_task_misuse_is_refused(argv: list[str], message: str, capsys) -> None:
    assert main(["train", *argv, "--no-progress"]) == 1
    assert message in capsys.readouterr().err


def test_unknown_task_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--task", "classification"])
    assert exit_info.value.code == 2
    assert "--task" in capsys.readouterr().err


def _record_train_task(monkeypatch) -> dict:
    """Replace ``train_task`` (not run); the returned dict receives the keywords it is given."""
    import cnnkit.detection.tasks as tasks

    seen: dict = {}
    monkeypatch.setattr(tasks, "train_task", lambda task, **kwargs: seen.update(kwargs) or {})
    return seen


def _train_keywords(monkeypatch, argv: list[str]) -> dict:
    """The keywords ``cnnkit train`` passes to ``train_task``."""
    seen = _record_train_task(monkeypatch)
    assert main(["train", *argv, "--data", "scenes", "--no-progress", "--out", "unused"]) == 0
    return seen


@pytest.mark.parametrize("task", ["segment", "detect", "instance"])
def test_unset_scene_flags_take_the_task_recipe(task: str, monkeypatch) -> None:
    from cnnkit.detection.tasks import TASK_RECIPES, TaskConfig

    seen = _train_keywords(monkeypatch, ["--task", task])
    for name, value in TASK_RECIPES[task].items():
        assert seen[name] == value, name
    if "train_max_objects" not in TASK_RECIPES[task]:
        assert seen["train_max_objects"] is TaskConfig.train_max_objects


def test_given_scene_flags_override_the_recipe(monkeypatch) -> None:
    argv = ["--task", "segment", "--epochs", "2", "--batch-size", "4", "--lr", "0.5",
            "--base-channels", "4", "--train-objects", "3"]  # fmt: skip
    seen = _train_keywords(monkeypatch, argv)
    expected = {"epochs": 2, "batch_size": 4, "lr": 0.5, "base_channels": 4}
    assert {name: seen[name] for name in expected} == expected
    assert seen["train_max_objects"] == 3


def test_the_module_cli_uses_the_same_recipe(monkeypatch) -> None:
    import cnnkit.detection.tasks as tasks

    seen = _record_train_task(monkeypatch)
    assert tasks._main(["train", "--task", "segment", "-o", "unused"]) == 0
    for name, value in tasks.TASK_RECIPES["segment"].items():
        assert seen[name] == value, name
