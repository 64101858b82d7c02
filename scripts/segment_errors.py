"""Which digits a trained segmentation run names wrongly: isolated ones or overlapping ones.

Usage::

    python scripts/segment_errors.py RUN_DIR [--threads 2]

``RUN_DIR`` is a run of ``cnnkit train --task segment --data scenes``. The script predicts the
run's own held-out test scenes (the same ones as its reported mIoU) and, for every digit, takes
the majority class of the predicted digit labels on its visible pixels. It prints how often that
is the right digit, split by how much of the digit's box other digits' boxes cover, by how much
of the digit is visible, and by how many digits its scene holds.

``--vote`` also prints the run's mIoU and class accuracy after each true digit's predicted digit
pixels take their majority label: the gain an exact grouping of pixels into digits would bring
to a per-digit vote (an oracle: the grouping comes from the ground truth).
"""

from __future__ import annotations

import argparse

import numpy as np

import cnnkit
from cnnkit.data.scenes import Scenes
from cnnkit.detection.boxes import box_area, box_intersection
from cnnkit.detection.tasks import load_task_run, predict_arrays, semantic_metrics, task_scenes


def _box_cover(boxes: np.ndarray, k: int) -> float:
    """The largest fraction of box ``k``'s area that one of the other boxes covers."""
    others = np.delete(boxes, k, axis=0)
    if not len(others):
        return 0.0
    return float(box_intersection(boxes[k : k + 1], others).max() / box_area(boxes[k : k + 1])[0])


def held_out_predictions(run_dir: str) -> tuple[Scenes, list[np.ndarray]]:
    """The run's test scenes and its predicted label map ``(H, W)`` for each."""
    config, model = load_task_run(run_dir)
    scenes = task_scenes(config, "test", config.test_scenes, config.seed)
    return scenes, [p["semantic"] for p in predict_arrays(config, model, scenes.images)]


def vote_by_true_digits(semantic: np.ndarray, instances: np.ndarray) -> np.ndarray:
    """``semantic`` with each true digit's predicted digit pixels set to their majority label.

    Shape:
        - semantic: ``(H, W)`` predicted labels (0 = background); instances: ``(H, W)`` true
          instance map (0 = background, ``k + 1`` for the k-th digit); Output: like semantic
    """
    voted = semantic.copy()
    for instance in np.unique(instances[instances > 0]):
        pixels = (instances == instance) & (semantic > 0)
        if pixels.any():
            voted[pixels] = np.bincount(semantic[pixels]).argmax()
    return voted


def digit_table(scenes: Scenes, predicted: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per test digit: ``right`` (majority class correct), ``cover``, ``visible``, ``crowd``."""
    columns: dict[str, list[float]] = {"right": [], "cover": [], "visible": [], "crowd": []}
    for index, semantic in enumerate(predicted):
        count = int(scenes.counts[index])
        boxes = scenes.boxes[index, :count]
        for k in range(count):
            visible = scenes.instances[index] == k + 1
            labels = semantic[visible]
            labels = labels[labels > 0]
            majority = np.bincount(labels, minlength=2).argmax() if labels.size else 0
            columns["right"].append(majority == scenes.labels[index, k] + 1)
            columns["cover"].append(_box_cover(boxes, k))
            columns["visible"].append(visible.sum() / scenes.footprint_areas[index, k])
            columns["crowd"].append(count)
    return {name: np.asarray(values, dtype=float) for name, values in columns.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--threads", type=int, default=cnnkit.get_num_threads())
    parser.add_argument("--vote", action="store_true", help="also the oracle per-digit vote")
    args = parser.parse_args()
    cnnkit.set_num_threads(args.threads)
    scenes, predicted = held_out_predictions(args.run_dir)
    table = digit_table(scenes, predicted)
    right, cover, visible, crowd = (table[k] for k in ("right", "cover", "visible", "crowd"))
    print(f"{'digits':34s} {len(right):5d}  100 %  named right {right.mean():6.1%}")
    groups = [
        ("box not overlapped", cover == 0),
        ("box overlapped up to 20 %", (cover > 0) & (cover <= 0.2)),
        ("box overlapped more than 20 %", cover > 0.2),
        ("visible >= 99 %", visible >= 0.99),
        ("visible < 90 %", visible < 0.9),
        *[(f"in a scene of {n} digit(s)", crowd == n) for n in np.unique(crowd).astype(int)],
    ]
    for name, chosen in groups:
        if chosen.any():
            share, accuracy = chosen.mean(), right[chosen].mean()
            print(f"{name:34s} {chosen.sum():5d} {share:5.0%}  named right {accuracy:6.1%}")
    if args.vote:
        pairs = zip(predicted, scenes.instances, strict=True)
        voted = [vote_by_true_digits(semantic, instances) for semantic, instances in pairs]
        for name, maps in (("as predicted", predicted), ("voted per true digit", voted)):
            metrics = semantic_metrics(maps, scenes.semantic)
            print(
                f"{name:34s} mIoU {metrics['miou']:.4f}  class accuracy "
                f"{metrics['class_accuracy']:.4f}"
            )


if __name__ == "__main__":
    main()
