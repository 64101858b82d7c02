"""``cnnkit train``, ``eval`` and ``predict`` end to end on a tiny subset, and their errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cnnkit.cli import main
from cnnkit.data import MNIST
from cnnkit.training.datasets import get_data_spec
from cnnkit.training.predict import ImageFileError, load_picture, prepare_picture

TINY = ["--limit", "512", "--limit-test", "200", "--batch-size", "32", "--no-progress"]
TINY += ["--threads", "1"]  # small GEMMs stall on a busy machine with more threads


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A LeNet-5 run on 512 bundled digits, 3 epochs (shared by the tests below)."""
    run_dir = tmp_path_factory.mktemp("runs") / "lenet"
    assert main(["train", *TINY, "--epochs", "3", "--lr", "0.1", "--out", str(run_dir)]) == 0
    return run_dir


def _save_digit(path, image: np.ndarray, *, invert=False, size=None, mode="L") -> None:
    picture = Image.fromarray(255 - image if invert else image)
    if size is not None:
        picture = picture.resize((size, size), Image.Resampling.BICUBIC)
    picture.convert(mode).save(path)


def test_train_writes_weights_metrics_curves_and_checkpoint(trained_run, capsys):
    assert {p.name for p in trained_run.iterdir()} == {
        "run.json", "model.safetensors", "checkpoint.safetensors", "curves.png",
    }  # fmt: skip
    record = json.loads((trained_run / "run.json").read_text())
    assert record["status"] == "finished"
    assert record["config"]["model"] == "lenet5" and record["config"]["limit_train"] == 512
    assert [row["epoch"] for row in record["history"]] == [1, 2, 3]
    assert record["result"]["test_accuracy"] == record["history"][-1]["test_accuracy"]
    assert record["history"][-1]["test_accuracy"] > 0.7  # it learned something real
    with Image.open(trained_run / "curves.png") as curves:
        assert curves.format == "PNG" and curves.size[0] > curves.size[1] > 100


def test_eval_reports_the_recorded_accuracy(trained_run, capsys):
    assert main(["eval", str(trained_run), "--limit", "200", "--no-progress"]) == 0
    record = json.loads((trained_run / "run.json").read_text())
    assert f"accuracy {record['result']['test_accuracy']:.2%}" in capsys.readouterr().out


def test_predict_digits_in_any_format(trained_run, tmp_path, capsys):
    digits = MNIST(train=False)
    paths = []
    for i, (invert, size, mode) in enumerate([(False, None, "L"), (True, 140, "RGB")]):
        path = tmp_path / f"digit{i}.png"
        _save_digit(path, digits.data[i, 0], invert=invert, size=size, mode=mode)
        paths.append(str(path))
    assert main(["predict", str(trained_run), *paths, "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    for line, label in zip(lines, digits.targets[:2], strict=True):
        path, ranked = line.split(": ")
        assert len(ranked.split(", ")) == 2
        assert ranked.split()[0] == str(label)  # the top class is the true digit


def test_prepared_picture_reproduces_an_mnist_digit():
    spec = get_data_spec("mnist")
    digit = MNIST(train=False).data[5, 0]
    for grey in (digit, 255 - digit):  # light-on-dark as is; dark-on-light gets inverted
        prepared = prepare_picture(grey, spec)[0].astype(float)
        assert prepared.shape == (28, 28)
        assert np.corrcoef(prepared.ravel(), digit.astype(float).ravel())[0, 1] > 0.98
    assert prepare_picture(np.full((40, 30), 255, np.uint8), spec).max() == 0  # blank page


def test_transparent_background_counts_as_white(tmp_path):
    rgba = np.zeros((20, 20, 4), np.uint8)
    rgba[5:15, 9:11] = (0, 0, 0, 255)  # a black stroke on a transparent canvas
    Image.fromarray(rgba, "RGBA").save(tmp_path / "stroke.png")
    grey = load_picture(tmp_path / "stroke.png")
    assert grey[0, 0] == 255 and grey[10, 10] == 0


def test_predict_rejects_files_that_are_not_images(trained_run, tmp_path, capsys):
    bogus = tmp_path / "notes.png"
    bogus.write_text("not an image")
    assert main(["predict", str(trained_run), str(bogus)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cnnkit predict: error:") and "not a readable image" in err
    assert "Traceback" not in err
    assert main(["predict", str(trained_run), str(tmp_path / "absent.png")]) == 1
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(ImageFileError):
        load_picture(bogus)


def test_predict_rejects_top_k_beyond_the_classes(trained_run, tmp_path, capsys):
    path = tmp_path / "d.png"
    _save_digit(path, MNIST(train=False).data[0, 0])
    assert main(["predict", str(trained_run), str(path), "--top-k", "11"]) == 1
    assert "top_k must be between 1 and 10" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["eval", "predict"])
def test_missing_run_directory(tmp_path, capsys, command):
    extra = ["x.png"] if command == "predict" else []
    assert main([command, str(tmp_path / "nope"), *extra]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "alexnet"], "invalid choice: 'alexnet'"),
    (["--data", "cifar10"], "invalid choice: 'cifar10'"),
    (["--epochs", "0"], "must be a positive integer"),
])  # fmt: skip
def test_train_rejects_unknown_names_with_usage_error(capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["train", *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_fashion_mnist_tells_how_to_get_it(tmp_path, capsys):
    args = ["train", "--data", "fashion-mnist", "--data-dir", str(tmp_path), "--no-progress"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "dataset-fashion-mnist" in err and "Traceback" not in err


def test_resume_via_cli_and_its_errors(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["train", *TINY, "--limit", "128", "--epochs", "2", "--out", str(run_dir)]
    assert main(args) == 0
    assert main(["train", "--resume", str(run_dir), "--no-progress"]) == 0
    assert "already done" in capsys.readouterr().out
    assert main(["train", "--resume", str(run_dir), "--lr", "0.5"]) == 1
    assert "--lr: a resumed run keeps the settings saved" in capsys.readouterr().err
    (run_dir / "checkpoint.safetensors").write_bytes(b"garbage")
    assert main(["train", "--resume", str(run_dir), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "truncated or corrupt" in err and "Traceback" not in err
    (run_dir / "model.safetensors").write_bytes(b"garbage")
    assert main(["eval", str(run_dir)]) == 1
    assert "model.safetensors" in capsys.readouterr().err
