"""Which digits a trained segmentation run names wrongly: isolated ones or overlapping ones.

Usage::

    python scripts/segment_errors.py RUN_DIR [--threads 2]

``RUN_DIR`` is a run of ``cnnkit train --task segment --data scenes``. The script predicts the
run's own held-out test scenes (the same ones as its reported mIoU) and, for every digit, takes
the majority class of the predicted digit labels on its visible pixels. It prints how often that
is the right digit, split by how much of the digit's box other digits' boxes cover, by how much
of the digit is visible, and by how many digits its scene holds.
"""

from __future__ import annotations

import argparse

import numpy as np

import cnnkit
from cnnkit.detection.boxes import box_area, box_intersection
from cnnkit.detection.tasks import load_task_run, predict_arrays, task_scenes


def _box_cover(boxes: np.ndarray, k: int) -> float:
    """The largest fraction of box ``k``'s area that one of the other boxes covers."""
    others = np.delete(boxes, k, axis=0)
    if not len(others):
        return 0.0
    return float(box_intersection(boxes[k : k + 1], others).max() / box_area(boxes[k : k + 1])[0])


def digit_table(run_dir: str) -> dict[str, np.ndarray]:
    """Per test digit: ``right`` (majority class correct), ``cover``, ``visible``, ``crowd``."""
    config, model = load_task_run(run_dir)
    scenes = task_scenes(config, "test", config.test_scenes, config.seed)
    predictions = predict_arrays(config, model, scenes.images)
    columns: dict[str, list[float]] = {"right": [], "cover": [], "visible": [], "crowd": []}
    for index, prediction in enumerate(predictions):
        count = int(scenes.counts[index])
        boxes = scenes.boxes[index, :count]
        for k in range(count):
            visible = scenes.instances[index] == k + 1
            labels = prediction["semantic"][visible]
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
    args = parser.parse_args()
    cnnkit.set_num_threads(args.threads)
    table = digit_table(args.run_dir)
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


if __name__ == "__main__":
    main()
