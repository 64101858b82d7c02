"""U-Net, CenterNet and the scene tasks end to end: shapes, overfitting a few scenes, files."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from tests import torch_twins
from tests.helpers import assert_close

import cnnkit
from cnnkit.data.scenes import Scenes
from cnnkit.detection.tasks import (
    TASK_RECIPES,
    TaskConfig,
    add_task_arguments,
    evaluate_task,
    load_task_run,
    predict_arrays,
    predict_task,
    task_kwargs,
    train_task,
)
from cnnkit.models import CenterNet, UNet
from cnnkit.models.unet import ContextBlock


@pytest.mark.parametrize("context", [False, True])
def test_unet_shapes_and_gradients(context):
    cnnkit.manual_seed(0)
    model = UNet(1, 5, base_channels=4, depth=2, context=context)
    x = cnnkit.randn(2, 1, 16, 16, requires_grad=True)
    out = model(x)
    assert out.shape == (2, 5, 16, 16)
    out.sum().backward()
    assert x.grad.shape == x.shape
    assert all(p.grad is not None for p in model.parameters())
    features = model.decode(cnnkit.zeros(1, 1, 16, 16))
    assert [f.shape for f in features] == [(1, 8, 8, 8), (1, 4, 16, 16)]


@pytest.mark.parametrize(
    ("depth", "context", "multiscale"), [(2, False, False), (3, True, True), (3, False, True)]
)
def test_unet_matches_torch_twin(depth, context, multiscale):
    """Same weights (copied through state_dict) give the same logits, gradients and BN stats.

    float64, so no ReLU input lies within rounding of its kink on one side and not the other.
    """
    torch.manual_seed(0)
    twin = torch_twins.UNet(1, 5, 4, depth, context, multiscale).double()
    ours = UNet(1, 5, 4, depth, context, multiscale).double()
    assert list(ours.state_dict()) == list(twin.state_dict())
    ours.load_state_dict({key: value.numpy() for key, value in twin.state_dict().items()})
    x = np.random.default_rng(1).standard_normal((3, 1, 16, 16))
    image = cnnkit.Tensor(x, requires_grad=True)
    reference = torch.from_numpy(x).requires_grad_()
    out, expected = ours(image), twin(reference)
    assert_close(out.data, expected.detach().numpy(), 1e-5, "logits")
    upstream = np.random.default_rng(2).standard_normal(out.shape)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    assert_close(image.grad, reference.grad.numpy(), 1e-4, "input grad")
    our_params = dict(ours.named_parameters())
    for key, param in twin.named_parameters():
        assert_close(our_params[key].grad, param.grad.numpy(), 1e-4, f"grad of {key}")
    our_state = ours.state_dict()
    for key, value in twin.state_dict().items():
        assert_close(our_state[key], value.numpy(), 1e-5, key)


def test_context_block_keeps_shape_and_sees_far():
    block = ContextBlock(3, rates=(2, 4))
    block.eval()
    # Positive weights keep every ReLU open for a non-negative input, so whether a pixel
    # reaches the output depends on the taps alone, not on the random draw of the weights.
    for parameter in block.parameters():
        parameter.data[...] = np.abs(parameter.data)
    x = cnnkit.zeros(1, 3, 12, 12)
    assert block(x).shape == (1, 3, 12, 12)

    def change_at_centre(column: int) -> float:
        moved = np.zeros((1, 3, 12, 12), dtype=np.float32)
        moved[0, :, 6, column] = 1.0
        with cnnkit.no_grad():
            difference = block(cnnkit.Tensor(moved)).data - block(x).data
        return float(np.abs(difference[0, :, 6, 6]).max())

    # The 3x3 branches of dilation 2 and 4 reach 0, 2 and 4 pixels away, nothing between.
    assert change_at_centre(10) > 0 and change_at_centre(8) > 0
    assert change_at_centre(9) == 0 and change_at_centre(11) == 0


def test_centernet_outputs_and_errors():
    model = CenterNet(num_classes=3, base_channels=4, depth=2, stride=2, semantic_classes=4)
    out = model(cnnkit.zeros(2, 1, 16, 16))
    assert out["heatmap"].shape == (2, 3, 8, 8) and out["box"].shape == (2, 4, 8, 8)
    assert out["semantic"].shape == (2, 4, 16, 16)
    with pytest.raises(ValueError, match="stride"):
        CenterNet(stride=3)
    with pytest.raises(ValueError, match="stride"):
        CenterNet(depth=2, stride=4)
    with pytest.raises(RuntimeError, match="num_classes=0"):
        UNet(num_classes=0)(cnnkit.zeros(1, 1, 16, 16))


SMALL = {
    "scenes": 8,
    "size": 32,
    "max_objects": 2,
    "scale_min": 14,
    "scale_max": 18,
    "fresh_scenes": False,
    "base_channels": 8,
    "depth": 2,
    "stride": 2,
}


def foreground_iou(prediction, target):
    return np.sum((prediction > 0) & (target > 0)) / np.sum((prediction > 0) | (target > 0))


# Full batches suit the per-pixel loss (its multiscale head needs ~80 steps before the first
# foreground pixels win the argmax); the detector learns faster from more, smaller steps.
@pytest.mark.parametrize(
    "task, scenes, batch_size, epochs",
    [("segment", 8, 8, 80), ("detect", 16, 4, 20), ("instance", 16, 4, 20)],
)
def test_tiny_training_overfits_a_handful_of_scenes(tmp_path, task, scenes, batch_size, epochs):
    small = {**SMALL, "scenes": scenes}
    result = train_task(
        task, epochs=epochs, batch_size=batch_size, lr=1e-2, seed=0, output_dir=tmp_path,
        limit=scenes, progress=False, threads=1, **small,
    )  # fmt: skip
    assert "train_seconds" in result
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["status"] == "finished" and len(record["history"]) == epochs
    losses = [row["train_loss"] for row in record["history"]]
    assert losses[-1] < 0.5 * losses[0]
    for name in ("model.safetensors", "checkpoint.safetensors", "curves.png"):
        assert (tmp_path / name).stat().st_size > 0
    config, model = load_task_run(tmp_path)
    quarter = scenes // 4
    assert config == TaskConfig(
        task, epochs, batch_size, 1e-2, 0, val_scenes=quarter, test_scenes=quarter, **small
    )
    # The training scenes of epoch 1 (seed * 100_003 + 1), seen every epoch. An untrained
    # network predicts no foreground at all (IoU 0) and finds no digits (AP 0).
    seen = Scenes("train", scenes, 32, 2, (14, 18), seed=1)
    metrics = evaluate_task(config, model, seen)
    predictions = predict_arrays(config, model, seen.images)
    if task == "segment":
        fg = [
            foreground_iou(p["semantic"], t)
            for p, t in zip(predictions, seen.semantic, strict=True)
        ]
        assert np.mean(fg) > 0.25 and metrics["miou"] > 0.15
    elif task == "detect":
        assert metrics["map_50"] > 0.4
    else:
        assert metrics["mask_map_50"] > 0.4 and metrics["map_50"] > 0.4

    image = tmp_path / "scene.png"
    Image.fromarray((seen.images[0, 0] * 255).astype(np.uint8)).save(image)
    drawn_predictions = predict_task(tmp_path, [image], tmp_path / "drawn.png")
    with Image.open(tmp_path / "drawn.png") as drawn:
        assert drawn.size == (128, 128) and drawn.mode == "RGB"
    assert len(drawn_predictions) == 1
    predict_task(tmp_path, [image, image], tmp_path / "many")
    assert (tmp_path / "many" / "scene.png").exists()


def test_task_arguments_round_trip():
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="detect")
    add_task_arguments(parser)
    args = parser.parse_args(["--base-channels", "4", "--context", "--scenes", "50"])
    assert task_kwargs(args)["base_channels"] == 4 and task_kwargs(args)["context"]
    assert task_kwargs(args)["scenes"] == 50 and task_kwargs(args)["train_max_objects"] is None
    args = parser.parse_args(["--train-objects", "5"])
    assert task_kwargs(args)["train_max_objects"] == 5
    # without the command line's --epochs/--batch-size/--lr, the recipe's
    assert task_kwargs(args)["epochs"] == TASK_RECIPES["detect"]["epochs"]
    assert task_kwargs(parser.parse_args(["--task", "segment"]))["train_max_objects"] == 12
    with pytest.raises(ValueError, match="task"):
        train_task("classify", epochs=1, batch_size=1, lr=0.1, seed=0, output_dir="unused")


def test_crowded_training_scenes_only_in_training(tmp_path, monkeypatch):
    made = []
    original = Scenes.__init__

    def recording(self, split, num_scenes, size, max_objects, *args, **kwargs):
        made.append((split, max_objects))
        original(self, split, num_scenes, size, max_objects, *args, **kwargs)

    monkeypatch.setattr(Scenes, "__init__", recording)
    train_task(
        "segment", epochs=1, batch_size=4, lr=1e-2, seed=0, output_dir=tmp_path, limit=4,
        progress=False, threads=1, **{**SMALL, "train_max_objects": 3},
    )  # fmt: skip
    assert made == [("val", 2), ("train", 3), ("test", 2)]
    assert load_task_run(tmp_path)[0].train_max_objects == 3


@pytest.mark.parametrize("crowd", [0, -2, True, 2.5])
def test_crowded_training_scenes_bad_count(tmp_path, crowd):
    with pytest.raises(
        ValueError,
        match=rf"train_max_objects \(--train-objects\) must be a positive int or None, "
        rf"got {crowd!r}",
    ):
        train_task(
            "segment", epochs=1, batch_size=4, lr=1e-2, seed=0, output_dir=tmp_path, limit=4,
            progress=False, threads=1, **{**SMALL, "train_max_objects": crowd},
        )  # fmt: skip


def test_segment_errors_script(tmp_path):
    from scripts.segment_errors import _box_cover, digit_table, held_out_predictions

    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 24, 24]], dtype=np.float32)
    assert _box_cover(boxes, 0) == 0.5 and _box_cover(boxes, 1) == 0.5
    assert _box_cover(boxes, 2) == 0.0 and _box_cover(boxes[:1], 0) == 0.0
    train_task(
        "segment", epochs=1, batch_size=4, lr=1e-2, seed=0, output_dir=tmp_path, limit=16,
        progress=False, threads=1, **SMALL,
    )  # fmt: skip
    scenes, predicted = held_out_predictions(tmp_path)
    table = digit_table(scenes, predicted)
    test = Scenes("test", 4, 32, 2, (14, 18), seed=0)
    np.testing.assert_array_equal(scenes.images, test.images)
    assert len(predicted) == 4 and predicted[0].shape == (32, 32)
    assert len(table["right"]) == test.counts.sum()
    assert np.array_equal(table["crowd"], np.repeat(test.counts, test.counts))
    assert set(np.unique(table["right"])) <= {0.0, 1.0}
    assert np.all((table["visible"] > 0) & (table["visible"] <= 1))


def test_vote_by_true_digits():
    from scripts.segment_errors import vote_by_true_digits

    instances = np.array([[1, 1, 1, 0, 2, 2], [1, 1, 0, 0, 2, 2]])
    semantic = np.array([[3, 3, 5, 0, 7, 0], [3, 0, 4, 4, 7, 9]])
    voted = vote_by_true_digits(semantic, instances)
    # digit 1: its predicted digit pixels 3, 3, 5, 3 all become 3, its missed pixel stays 0;
    # digit 2: 7, 7, 9 -> 7; pixels outside the true digits (the 4 at column 3) are kept
    np.testing.assert_array_equal(voted, [[3, 3, 3, 0, 7, 0], [3, 0, 4, 4, 7, 7]])
    np.testing.assert_array_equal(semantic[0], [3, 3, 5, 0, 7, 0])  # input untouched


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"epochs": 0}, r"epochs \(--epochs\) must be a positive int, got 0"),
        ({"batch_size": 2.5}, r"batch_size \(--batch-size\) must be a positive int, got 2.5"),
        ({"val_scenes": 0}, r"^val_scenes must be a positive int, got 0"),
        ({"depth": True}, r"depth \(--depth\) must be a positive int, got True"),
        ({"size": 48, "depth": 5}, r"halve the 48-pixel scenes evenly"),
    ],
)
def test_train_task_refuses_bad_settings_up_front(tmp_path, settings, message):
    arguments = {"epochs": 1, "batch_size": 4, "lr": 1e-2, "seed": 0, **settings}
    with pytest.raises(ValueError, match=message):
        train_task("segment", output_dir=tmp_path / "run", **arguments)
    assert not (tmp_path / "run").exists()  # refused before anything was written
