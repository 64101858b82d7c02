"""Train and run detection and segmentation models on ``cnnkit.data.scenes`` (CLI back end).

Contract for the command line (``cnnkit train --task ... --data scenes``, ``cnnkit predict``):

- ``train_task(task, *, epochs, batch_size, lr, seed, output_dir, limit=None, threads=None,
  ...) -> dict`` trains ``task`` on freshly generated training scenes each epoch (``limit``
  caps the scenes per epoch; ``fresh_scenes=False`` reuses the same ones), evaluates on the
  validation split every epoch and on the test split at the end, and returns the final test
  metrics (also in ``run.json``). Tasks: ``"segment"``: U-Net, per-pixel cross-entropy over
  background + 10 object classes plus cross-entropy over the classes on object pixels;
  ``"detect"``: CenterNet; ``"instance"``: CenterNet with a foreground head, masks by
  centre-based grouping.
  ``output_dir`` receives the same files as a classification run: ``run.json`` (config,
  per-epoch history, result), ``model.safetensors``, ``checkpoint.safetensors`` and
  ``curves.png``.
- ``predict_task(run_dir, image_paths, output_path) -> list[dict]`` runs a trained model on
  image files and draws boxes with labels and scores, or coloured masks, onto each image
  (several images: ``output_path`` is a directory). Returns the predictions per image.
- ``add_task_arguments(parser)`` adds the scene-task flags (``--base-channels``, ``--scenes``...;
  each command line adds its own ``--task``, ``--epochs``, ``--batch-size`` and ``--lr``);
  ``task_kwargs(args)`` turns the parsed flags into ``train_task`` keywords. A flag left unset
  takes the task's ``TASK_RECIPES`` entry (the settings of the measured runs in
  docs/predictions), then ``TaskConfig``'s default.

``cnnkit train --task detect|segment|instance --data scenes`` and ``cnnkit predict RUN_DIR
IMAGE -o OUT`` call these (``cnnkit.training.cli``).

Metrics: ``miou`` (segmentation, background included; for ``instance`` from the semantic map
painted with the instance masks) with ``pixel_accuracy``, ``foreground_iou`` and
``class_accuracy`` (``cnnkit.detection.metrics.foreground_and_class``: outline vs class
errors), ``map_50`` / ``map`` (boxes, COCO), ``mask_map_50`` / ``mask_map`` (instance masks).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

import cnnkit
import cnnkit.nn.functional as F
from cnnkit import nn, optim
from cnnkit.data.scenes import OBJECTS, SCENE_CLASSES, Scenes, scene_classes
from cnnkit.detection.centernet import centernet_loss, centernet_targets, decode_detections
from cnnkit.detection.instances import group_instances, semantic_from_instances
from cnnkit.detection.metrics import (
    average_precision,
    confusion_matrix,
    foreground_and_class,
    mean_iou,
)
from cnnkit.models.detector import CenterNet
from cnnkit.models.unet import UNet
from cnnkit.tensor import Tensor
from cnnkit.training.checkpoint import atomic_write_bytes, save_checkpoint, save_weights
from cnnkit.training.curves import plot_curves
from cnnkit.training.trainer import CHECKPOINT_FILE, CURVES_FILE, RUN_FILE, WEIGHTS_FILE

__all__ = [
    "TASKS",
    "TaskConfig",
    "train_task",
    "predict_task",
    "add_task_arguments",
    "task_kwargs",
    "TASK_RECIPES",
    "describe_recipes",
    "build_model",
    "evaluate_task",
    "semantic_metrics",
    "load_task_run",
    "task_scenes",
]

TASKS = ("segment", "detect", "instance")
SEMANTIC_CLASSES = 1 + len(SCENE_CLASSES)
IGNORE_INDEX = -100
PRIMARY_METRIC = {"segment": "miou", "detect": "map_50", "instance": "mask_map_50"}
# What an unset command-line flag means per task: the settings of the runs whose numbers the
# README and docs/predictions report, so that ``cnnkit train --task segment --data scenes``
# alone trains the documented model. The Python API keeps TaskConfig's plain defaults.
TASK_RECIPES: dict[str, dict[str, Any]] = {
    "segment": {
        "epochs": 37,
        "batch_size": 16,
        "lr": 3e-3,
        "base_channels": 16,
        "train_max_objects": 12,
    },
    "detect": {"epochs": 28, "batch_size": 16, "lr": 1e-2, "base_channels": 8},
    "instance": {"epochs": 10, "batch_size": 16, "lr": 1e-2, "base_channels": 8},
}
# Instance masks are only as good as the foreground mask they are cut from: weigh it up.
FOREGROUND_LOSS_WEIGHT = 2.0


@dataclasses.dataclass
class TaskConfig:
    """Everything that defines a scene-task run (saved in ``run.json``)."""

    task: str
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-2
    seed: int = 0
    scenes: int = 2000
    val_scenes: int = 300
    test_scenes: int = 1000
    size: int = 64
    max_objects: int = 3
    # Training scenes may hold more objects than the val/test scenes (None: max_objects): a
    # segmenter names isolated digits almost always right and overlapping ones often wrong,
    # and crowded scenes give it more overlaps to learn from per epoch.
    train_max_objects: int | None = None
    scale_min: int = 22
    scale_max: int = 36
    fresh_scenes: bool = True
    base_channels: int = 8
    depth: int = 3
    context: bool = False
    stride: int = 4
    weight_decay: float = 1e-4
    objects: str = "mnist"
    multiscale: bool = True


def build_model(config: TaskConfig) -> nn.Module:
    """The network of ``config.task`` (see the module docstring)."""
    if config.task == "segment":
        return UNet(
            1,
            SEMANTIC_CLASSES,
            config.base_channels,
            config.depth,
            config.context,
            config.multiscale,
        )
    # Instances take their class from the detector: the mask head only separates objects
    # from the background.
    semantic = 2 if config.task == "instance" else 0
    return CenterNet(
        len(SCENE_CLASSES), 1, config.base_channels, config.depth, config.stride, semantic
    )


def _task_loss(
    config: TaskConfig, model: nn.Module, images: np.ndarray, scenes: Scenes, batch: np.ndarray
) -> Tensor:
    out = model(Tensor(images))
    if config.task == "segment":
        semantic = scenes.semantic[batch]
        # Digits cover ~5% of the pixels, so in the plain per-pixel loss the background
        # drowns out which digit a pixel belongs to; a second cross-entropy over the digit
        # logits of the digit pixels only gives that question its own weight.
        digit = np.where(semantic > 0, semantic - 1, IGNORE_INDEX)
        return F.cross_entropy(out, semantic) + F.cross_entropy(
            out[:, 1:], digit, ignore_index=IGNORE_INDEX
        )
    heatmap = out["heatmap"]
    targets = centernet_targets(
        [scenes.boxes[i, : scenes.counts[i]] for i in batch],
        [scenes.labels[i, : scenes.counts[i]] for i in batch],
        len(SCENE_CLASSES),
        heatmap.shape[2:],
        config.stride,
    )
    loss, _ = centernet_loss(heatmap, out["box"], targets)
    if config.task == "instance":
        loss = loss + FOREGROUND_LOSS_WEIGHT * F.cross_entropy(
            out["semantic"], (scenes.semantic[batch] > 0).astype(np.int64)
        )
    return loss


def predict_arrays(
    config: TaskConfig, model: nn.Module, images: np.ndarray, batch_size: int = 64
) -> list[dict[str, np.ndarray]]:
    """Predictions for float32 images ``(N, 1, H, W)`` in [0, 1].

    Returns:
        Per image: ``semantic`` ``(H, W)`` labels (segment; instance: painted from the
        instance masks), ``boxes``, ``scores``, ``labels`` (detect, instance), ``foreground``
        ``(H, W)`` and ``masks`` ``(D, H, W)`` (instance).
    """
    model.eval()
    results: list[dict[str, np.ndarray]] = []
    with cnnkit.no_grad():
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            out = model(Tensor(chunk))
            if config.task == "segment":
                results += [{"semantic": s} for s in out.data.argmax(1)]
                continue
            detections = decode_detections(
                out["heatmap"].data, out["box"].data, config.stride, chunk.shape[2:]
            )
            if config.task == "instance":
                for detection, semantic in zip(
                    detections, out["semantic"].data.argmax(1), strict=True
                ):
                    detection["foreground"] = semantic > 0
                    detection["masks"] = group_instances(semantic, detection)
                    detection["semantic"] = semantic_from_instances(detection["masks"], detection)
            results += detections
    return results


def semantic_metrics(
    predicted: Sequence[np.ndarray], truth: Sequence[np.ndarray]
) -> dict[str, float]:
    """``miou``, ``pixel_accuracy``, ``foreground_iou`` and ``class_accuracy`` of label maps.

    Shape:
        - predicted, truth: per image an ``(H, W)`` map of labels in ``[0, SEMANTIC_CLASSES)``
    """
    confusion = sum(
        confusion_matrix(p, t, SEMANTIC_CLASSES) for p, t in zip(predicted, truth, strict=True)
    )
    miou, _ = mean_iou(confusion)
    foreground, classes = foreground_and_class(confusion)
    return {
        "miou": miou,
        "pixel_accuracy": float(np.trace(confusion) / confusion.sum()),
        "foreground_iou": foreground,
        "class_accuracy": classes,
    }


def evaluate_task(config: TaskConfig, model: nn.Module, scenes: Scenes) -> dict[str, float]:
    """The task's metrics on ``scenes`` (see the module docstring for the names)."""
    predictions = predict_arrays(config, model, scenes.images)
    metrics: dict[str, float] = {}
    if "semantic" in predictions[0]:
        metrics.update(semantic_metrics([p["semantic"] for p in predictions], scenes.semantic))
    if "boxes" in predictions[0]:
        targets = [scenes.target(i) for i in range(len(scenes))]
        boxes = average_precision(predictions, targets, len(SCENE_CLASSES), "bbox")
        metrics["map_50"], metrics["map"] = boxes["map_50"], boxes["map"]
        if "masks" in predictions[0]:
            masks = average_precision(predictions, targets, len(SCENE_CLASSES), "segm")
            metrics["mask_map_50"], metrics["mask_map"] = masks["map_50"], masks["map"]
    return metrics


def task_scenes(config: TaskConfig, split: str, count: int, seed: int) -> Scenes:
    """The ``split`` scenes a run of ``config`` uses (its test set: ``"test"``,
    ``config.test_scenes``, ``config.seed``); training scenes hold up to ``train_max_objects``."""
    max_objects = config.max_objects
    if split == "train" and config.train_max_objects is not None:
        max_objects = config.train_max_objects
    return Scenes(
        split,
        count,
        config.size,
        max_objects,
        (config.scale_min, config.scale_max),
        seed=seed,
        objects=config.objects,
    )


def _write_run(run_dir: Path, config: TaskConfig, history: list, result: dict | None) -> None:
    record = {
        "cnnkit_version": cnnkit.__version__,
        "status": "finished" if result is not None else "running",
        "config": dataclasses.asdict(config),
        "classes": scene_classes(config.objects),
        "num_threads": cnnkit.get_num_threads(),
        "result": result,
        "history": history,
    }
    atomic_write_bytes(run_dir / RUN_FILE, json.dumps(record, indent=1).encode())
    # The shared curve plot draws "loss" and "accuracy" panels: the task's main metric goes
    # into the second one.
    primary = PRIMARY_METRIC[config.task]
    plot_curves(
        [
            {"epoch": row["epoch"], "train_loss": row["train_loss"], "test_accuracy": row[primary]}
            for row in history
        ],
        run_dir / CURVES_FILE,
    )


# The TaskConfig fields a user sets, with the command-line flag that sets each (for messages).
_POSITIVE_FIELDS = {
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "scenes": "--scenes",
    "val_scenes": None,
    "test_scenes": "--test-scenes",
    "base_channels": "--base-channels",
    "depth": "--depth",
    "max_objects": None,
    "train_max_objects": "--train-objects",
}


def _check_config(config: TaskConfig) -> None:
    """Refuse settings that would otherwise fail deep inside training, naming field and flag."""
    for field, flag in _POSITIVE_FIELDS.items():
        value = getattr(config, field)
        if field == "train_max_objects" and value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            name = f"{field} ({flag})" if flag else field
            allowed = "a positive int or None" if field == "train_max_objects" else "a positive int"
            raise ValueError(f"{name} must be {allowed}, got {value!r}")
    if config.size % 2**config.depth:
        raise ValueError(
            f"depth (--depth) must halve the {config.size}-pixel scenes evenly at every pooling "
            f"(size divisible by 2**depth), got depth {config.depth}"
        )


def train_task(
    task: str,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    output_dir: str | os.PathLike[str],
    limit: int | None = None,
    threads: int | None = None,
    progress: bool = True,
    **options: Any,
) -> dict[str, float]:
    """Train ``task`` on scenes, save the run to ``output_dir``, return the test metrics.

    Args:
        task: ``"segment"``, ``"detect"`` or ``"instance"``.
        epochs, batch_size, lr, seed: as for classification (Adam, cosine decay per step).
        output_dir: the run directory (created).
        limit: at most this many training scenes per epoch (and 1/4 of it for val/test).
        threads: ``cnnkit.set_num_threads`` for the run.
        progress: tqdm progress bars.
        **options: other ``TaskConfig`` fields (``scenes``, ``base_channels``, ``context``...).

    Returns:
        The test-split metrics, plus ``train_seconds``.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    config = TaskConfig(task, epochs, batch_size, lr, seed, **options)
    _check_config(config)
    if limit is not None:
        config.scenes = min(config.scenes, limit)
        config.val_scenes = min(config.val_scenes, max(1, limit // 4))
        config.test_scenes = min(config.test_scenes, max(1, limit // 4))
    if threads is not None:
        cnnkit.set_num_threads(threads)
    run_dir = Path(output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cnnkit.manual_seed(seed)
    model = build_model(config)
    optimizer = optim.AdamW(model.parameters(), lr=lr, weight_decay=config.weight_decay)
    steps_per_epoch = -(-config.scenes // batch_size)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * steps_per_epoch)
    val = task_scenes(config, "val", config.val_scenes, seed)
    history: list[dict[str, float]] = []
    shuffle = np.random.default_rng(seed)
    started = time.perf_counter()
    for epoch in range(1, epochs + 1):
        # By default a fresh set of training scenes every epoch: the generator is an endless
        # data source, so the model never sees a scene twice.
        if config.fresh_scenes or epoch == 1:
            train = task_scenes(config, "train", config.scenes, seed * 100_003 + epoch)
        order = shuffle.permutation(len(train))
        model.train()
        losses = []
        bar = tqdm(
            range(0, len(order), batch_size),
            desc=f"{task} epoch {epoch}/{epochs}",
            leave=False,
            disable=not progress,
        )
        for start in bar:
            batch = order[start : start + batch_size]
            loss = _task_loss(config, model, train.images[batch], train, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        row = {"epoch": epoch, "train_loss": float(np.mean(losses))}
        row.update(evaluate_task(config, model, val))
        row["seconds"] = time.perf_counter() - started
        history.append(row)
        if progress:
            tqdm.write(json.dumps({k: round(v, 4) for k, v in row.items()}))
        save_weights(run_dir / WEIGHTS_FILE, model.state_dict(), {"task": task})
        save_checkpoint(
            run_dir / CHECKPOINT_FILE,
            {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch},
        )
        _write_run(run_dir, config, history, None)
    train_seconds = time.perf_counter() - started
    result = evaluate_task(config, model, task_scenes(config, "test", config.test_scenes, seed))
    result["train_seconds"] = train_seconds
    _write_run(run_dir, config, history, result)
    return result


def load_task_run(run_dir: str | os.PathLike[str]) -> tuple[TaskConfig, nn.Module]:
    """The config and trained model of a run written by ``train_task``."""
    from cnnkit.training.checkpoint import load_weights

    run_dir = Path(run_dir)
    record = json.loads((run_dir / RUN_FILE).read_text())
    config = TaskConfig(**record["config"])
    model = build_model(config)
    state, _ = load_weights(run_dir / WEIGHTS_FILE)
    # safetensors gives 0-d buffers (BatchNorm's num_batches_tracked) back as shape (1,).
    shapes = {name: tuple(value.shape) for name, value in model.state_dict().items()}
    model.load_state_dict(
        {
            name: value.reshape(shapes[name]) if value.size == 1 and name in shapes else value
            for name, value in state.items()
        }
    )
    model.eval()
    return config, model


# Ten distinct colours, one per digit class (and instance, cycling).
PALETTE = [
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
]  # fmt: skip
DRAW_SCALE = 4
MIN_DRAWN_SCORE = 0.3


def _read_image(path: str | os.PathLike[str], multiple: int) -> np.ndarray:
    """A grey image, float32 ``(1, H, W)`` in [0, 1], zero-padded to a multiple of ``multiple``."""
    with Image.open(path) as image:
        grey = np.asarray(image.convert("L"), dtype=np.float32) / 255
    height, width = grey.shape
    padded = np.zeros(
        (1, -(-height // multiple) * multiple, -(-width // multiple) * multiple), dtype=np.float32
    )
    padded[0, :height, :width] = grey
    return padded


def draw_prediction(
    image: np.ndarray,
    prediction: dict[str, np.ndarray],
    classes: Sequence[str] = SCENE_CLASSES,
) -> Image.Image:
    """Draw coloured masks, boxes, labels and scores onto a grey ``(H, W)`` image in [0, 1].

    The drawing is ``DRAW_SCALE`` times the image size, so labels stay legible on small scenes.
    Detections below ``MIN_DRAWN_SCORE`` are not drawn.
    """
    rgb = np.repeat((np.clip(image, 0, 1) * 255)[..., None], 3, axis=2)
    confident = np.asarray(prediction.get("scores", []), dtype=np.float64) >= MIN_DRAWN_SCORE
    colours = np.asarray(PALETTE, dtype=np.float64)
    if "masks" in prediction:
        for k in np.flatnonzero(confident):
            rgb[prediction["masks"][k]] = (
                0.4 * rgb[prediction["masks"][k]] + 0.6 * colours[k % len(PALETTE)]
            )
    elif "semantic" in prediction:
        foreground = prediction["semantic"] > 0
        rgb[foreground] = (
            0.4 * rgb[foreground] + 0.6 * colours[prediction["semantic"][foreground] - 1]
        )
    picture = Image.fromarray(rgb.astype(np.uint8)).resize(
        (image.shape[1] * DRAW_SCALE, image.shape[0] * DRAW_SCALE), Image.NEAREST
    )
    draw = ImageDraw.Draw(picture)
    for k in np.flatnonzero(confident):
        colour = PALETTE[(k if "masks" in prediction else prediction["labels"][k]) % len(PALETTE)]
        x1, y1, x2, y2 = (float(v) * DRAW_SCALE for v in prediction["boxes"][k])
        draw.rectangle([x1, y1, x2, y2], outline=colour, width=2)
        text = f"{classes[prediction['labels'][k]]} {prediction['scores'][k]:.2f}"
        left, top, right, bottom = draw.textbbox((x1, y1), text)
        ty = max(0.0, y1 - (bottom - top) - 2)
        draw.rectangle([x1, ty, x1 + right - left + 2, ty + bottom - top + 2], fill=colour)
        draw.text((x1 + 1, ty), text, fill=(0, 0, 0))
    return picture


def predict_task(
    run_dir: str | os.PathLike[str],
    image_paths: Sequence[str | os.PathLike[str]],
    output_path: str | os.PathLike[str],
) -> list[dict[str, np.ndarray]]:
    """Run a trained scene-task model on image files and draw its predictions.

    Args:
        run_dir: a run directory written by ``train_task``.
        image_paths: image files (any mode Pillow reads; converted to grey, white on dark).
        output_path: the PNG to write for one image; for several, a directory that receives
            ``<image name>.png`` for each.

    Returns:
        The prediction of each image (see ``predict_arrays``).
    """
    config, model = load_task_run(run_dir)
    output_path = Path(output_path)
    if len(image_paths) > 1:
        output_path.mkdir(parents=True, exist_ok=True)
    predictions = []
    for path in image_paths:
        image = _read_image(path, 2**config.depth)
        prediction = predict_arrays(config, model, image[None])[0]
        target = output_path / f"{Path(path).stem}.png" if len(image_paths) > 1 else output_path
        picture = draw_prediction(image[0], prediction, scene_classes(config.objects))
        picture.save(target, format="PNG")
        predictions.append(prediction)
    return predictions


def add_task_arguments(parser: argparse.ArgumentParser) -> None:
    """The scene-task flags: ``--scenes``, ``--base-channels``, ``--depth``, ``--context``..."""
    parser.add_argument(
        "--scenes", type=int, default=TaskConfig.scenes, help="training scenes generated per epoch"
    )
    parser.add_argument(
        "--base-channels",
        type=int,
        help="width of the network's first stage (default: the task's recipe)",
    )
    parser.add_argument("--depth", type=int, default=TaskConfig.depth, help="U-Net poolings")
    parser.add_argument(
        "--train-objects",
        type=int,
        help="objects per training scene at most (default: the task's recipe, else as in "
        "the test scenes, 3)",
    )
    parser.add_argument(
        "--context",
        action="store_true",
        help="dilated-convolution context block at the U-Net bottleneck",
    )
    parser.add_argument(
        "--multiscale",
        action=argparse.BooleanOptionalAction,
        default=TaskConfig.multiscale,
        help="segment: add class scores from every coarser U-Net decoder stage (FCN skip scores)",
    )
    parser.add_argument(
        "--test-scenes",
        type=int,
        default=TaskConfig.test_scenes,
        help="held-out scenes for the final metrics",
    )
    parser.add_argument(
        "--objects",
        choices=OBJECTS,
        default=TaskConfig.objects,
        help="what the scenes show: MNIST digits (bundled) or Fashion-MNIST items "
        "(apt-get install dataset-fashion-mnist)",
    )


def describe_recipes() -> str:
    """``TASK_RECIPES`` in words, for ``--help``."""
    flags = {"train_max_objects": "train-objects"}
    recipes = [
        f"{task} "
        + ", ".join(f"--{flags.get(k, k).replace('_', '-')} {v:g}" for k, v in recipe.items())
        for task, recipe in TASK_RECIPES.items()
    ]
    intro = "Unset flags take the task's recipe (the settings of the documented runs)"
    return f"{intro}: {'; '.join(recipes)}."


def task_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """``train_task`` keywords from the parsed flags of ``add_task_arguments`` and ``args.task``.

    ``epochs``, ``batch_size`` and ``lr`` come from ``args`` too where the command line has
    them; those unset (None or absent) and the unset scene flags come from ``TASK_RECIPES``.
    """
    recipe = TASK_RECIPES[args.task]
    flags = vars(args)

    def chosen(name: str, value: Any) -> Any:
        if value is not None:
            return value
        return recipe.get(name, getattr(TaskConfig, name))

    return {
        "epochs": chosen("epochs", flags.get("epochs")),
        "batch_size": chosen("batch_size", flags.get("batch_size")),
        "lr": chosen("lr", flags.get("lr")),
        "scenes": args.scenes,
        "base_channels": chosen("base_channels", args.base_channels),
        "depth": args.depth,
        "train_max_objects": chosen("train_max_objects", args.train_objects),
        "context": args.context,
        "multiscale": args.multiscale,
        "test_scenes": args.test_scenes,
        "objects": args.objects,
    }


def _main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnkit.detection.tasks")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train a scene task", description=describe_recipes())
    train.add_argument("--task", choices=TASKS, required=True, help="what to train")
    add_task_arguments(train)
    train.add_argument("--epochs", type=int, help="default: the task's recipe")
    train.add_argument("--batch-size", type=int, help="default: the task's recipe")
    train.add_argument("--lr", type=float, help="default: the task's recipe")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--limit", type=int, default=None)
    train.add_argument("--threads", type=int, default=None)
    train.add_argument("-o", "--output-dir", required=True)
    predict = commands.add_parser("predict", help="draw predictions of a trained run")
    predict.add_argument("run_dir")
    predict.add_argument("images", nargs="+")
    predict.add_argument("-o", "--output", required=True)
    args = parser.parse_args(argv)
    if args.command == "train":
        result = train_task(
            args.task,
            seed=args.seed,
            output_dir=args.output_dir,
            limit=args.limit,
            threads=args.threads,
            **task_kwargs(args),
        )
        print(json.dumps(result, indent=1))
    else:
        predict_task(args.run_dir, args.images, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
