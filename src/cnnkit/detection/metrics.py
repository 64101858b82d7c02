"""Segmentation and detection metrics: mean IoU, COCO-style box and mask average precision.

``average_precision`` reproduces ``pycocotools.cocoeval.COCOeval`` (area range "all", at most
100 detections per image, no crowd regions) to the last bit of its arithmetic, and is tested
against it: same greedy matching, same 101-point interpolated precision, same averaging.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnkit.detection.boxes import box_iou, mask_iou

__all__ = [
    "confusion_matrix",
    "mean_iou",
    "foreground_and_class",
    "average_precision",
    "COCO_IOU_THRESHOLDS",
]

# Exactly the arrays pycocotools builds (np.linspace, not a hand-written list of decimals).
COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1)
COCO_RECALL_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1)
COCO_MAX_DETECTIONS = 100


def confusion_matrix(prediction: Any, target: Any, num_classes: int) -> np.ndarray:
    """Counts ``[true class, predicted class]`` over all pixels.

    Shape:
        - prediction, target: integer arrays of the same shape, values in ``[0, num_classes)``
        - Output: int64 ``(num_classes, num_classes)``
    """
    prediction, target = np.asarray(prediction), np.asarray(target)
    if prediction.shape != target.shape:
        raise ValueError(
            f"prediction shape {prediction.shape} differs from target shape {target.shape}"
        )
    flat = target.astype(np.int64).ravel() * num_classes + prediction.astype(np.int64).ravel()
    return np.bincount(flat, minlength=num_classes**2).reshape(num_classes, num_classes)


def mean_iou(confusion: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over classes of ``TP / (TP + FP + FN)``, from a confusion matrix.

    Classes absent from both prediction and target (union 0) are left out of the mean and
    get ``nan`` in the per-class array.

    Returns:
        ``(mean IoU, per-class IoU)``.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    true_positive = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - true_positive
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(union > 0, true_positive / union, np.nan)
    return float(np.nanmean(per_class)) if np.any(union > 0) else float("nan"), per_class


def foreground_and_class(confusion: np.ndarray) -> tuple[float, float]:
    """Split a segmentation's errors into *where* the objects are and *which* class they are.

    Class 0 is the background. Foreground IoU: IoU of "any object" against the background,
    whatever the class. Class accuracy: of the pixels that are an object in both prediction and
    target, the fraction given the right class. With foreground IoU ``f`` and class error
    ``e = 1 - accuracy`` spread evenly over the classes, each object class has an IoU of about
    ``(1 - e) / (e + 1 / f)``: a wrong class counts twice (a miss for one class, a false alarm
    for another), so class errors cost mean IoU about twice as much as outline errors.

    Returns:
        ``(foreground IoU, class accuracy)``; ``nan`` where there is nothing to measure.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    objects = confusion[1:, 1:]
    found = objects.sum()
    union = confusion.sum() - confusion[0, 0]
    foreground_iou = found / union if union > 0 else float("nan")
    class_accuracy = np.trace(objects) / found if found > 0 else float("nan")
    return float(foreground_iou), float(class_accuracy)


def _match_image(ious: np.ndarray, num_gt: int) -> np.ndarray:
    """Greedy COCO matching of one image and class: ``matched[t, d]`` for each IoU threshold.

    Detections come in descending score order; each takes the still-free ground truth of
    highest IoU at least the threshold (ties go to the later ground truth, as in COCOeval).
    """
    matched = np.zeros((len(COCO_IOU_THRESHOLDS), ious.shape[0]), dtype=bool)
    for t, threshold in enumerate(COCO_IOU_THRESHOLDS):
        taken = np.zeros(num_gt, dtype=bool)
        for d in range(ious.shape[0]):
            best_iou, best = min(threshold, 1 - 1e-10), -1
            for g in range(num_gt):
                if taken[g] or ious[d, g] < best_iou:
                    continue
                best_iou, best = ious[d, g], g
            if best >= 0:
                taken[best] = True
                matched[t, d] = True
    return matched


def _interpolated_precision(true_positive: np.ndarray, num_gt: int) -> np.ndarray:
    """COCO's 101-point precision per IoU threshold: ``(T, 101)``.

    ``true_positive`` is ``(T, D)``, detections of all images in descending score order.
    """
    precision = np.zeros((true_positive.shape[0], len(COCO_RECALL_THRESHOLDS)))
    tps = np.cumsum(true_positive, axis=1, dtype=np.float64)
    fps = np.cumsum(~true_positive, axis=1, dtype=np.float64)
    for t in range(true_positive.shape[0]):
        recall = tps[t] / num_gt
        envelope = tps[t] / (fps[t] + tps[t] + np.spacing(1))
        # Precision made non-increasing from the right (the "interpolated" precision).
        envelope = np.maximum.accumulate(envelope[::-1])[::-1]
        found = np.searchsorted(recall, COCO_RECALL_THRESHOLDS, side="left")
        valid = found < len(envelope)
        precision[t, : int(valid.sum())] = envelope[found[valid]]
    return precision


def average_precision(
    predictions: Sequence[dict[str, Any]],
    targets: Sequence[dict[str, Any]],
    num_classes: int,
    iou_type: str = "bbox",
) -> dict[str, Any]:
    """COCO average precision over IoU thresholds 0.50:0.05:0.95, per class then mean.

    Args:
        predictions: per image a dict with ``boxes`` ``(D, 4)`` xyxy, ``scores`` ``(D,)``,
            ``labels`` ``(D,)`` and, for ``iou_type="segm"``, ``masks`` bool ``(D, H, W)``.
        targets: per image a dict with ``boxes``, ``labels`` (and ``masks``) likewise.
        num_classes: labels are in ``[0, num_classes)``.
        iou_type: ``"bbox"`` (box IoU) or ``"segm"`` (mask IoU).

    Returns:
        ``map`` (mean over thresholds and classes), ``map_50``, ``map_75`` and
        ``per_class`` ``(num_classes, T)`` AP (``nan`` for classes without ground truth,
        which are left out of the means, as in COCOeval).
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', got {iou_type!r}")
    if len(predictions) != len(targets):
        raise ValueError(f"got {len(predictions)} prediction sets for {len(targets)} target images")
    key = "boxes" if iou_type == "bbox" else "masks"
    per_class = np.full((num_classes, len(COCO_IOU_THRESHOLDS)), np.nan)
    for label in range(num_classes):
        scores, matches, num_gt = [], [], 0
        for prediction, target in zip(predictions, targets, strict=True):
            gt = np.asarray(target[key])[np.asarray(target["labels"]) == label]
            chosen = np.flatnonzero(np.asarray(prediction["labels"]) == label)
            image_scores = np.asarray(prediction["scores"], dtype=np.float64)[chosen]
            order = np.argsort(-image_scores, kind="mergesort")[:COCO_MAX_DETECTIONS]
            dt = np.asarray(prediction[key])[chosen[order]]
            num_gt += len(gt)
            if len(dt) == 0:
                continue
            iou = box_iou if iou_type == "bbox" else mask_iou
            ious = iou(dt, gt) if len(gt) else np.zeros((len(dt), 0))
            scores.append(image_scores[order])
            matches.append(_match_image(ious, len(gt)))
        if num_gt == 0:
            continue
        if scores:
            all_scores = np.concatenate(scores)
            ranked = np.argsort(-all_scores, kind="mergesort")
            true_positive = np.concatenate(matches, axis=1)[:, ranked]
        else:
            true_positive = np.zeros((len(COCO_IOU_THRESHOLDS), 0), dtype=bool)
        per_class[label] = _interpolated_precision(true_positive, num_gt).mean(axis=1)
    valid = ~np.isnan(per_class[:, 0])
    nan = float("nan")
    return {
        "map": float(per_class[valid].mean()) if valid.any() else nan,
        "map_50": float(per_class[valid, 0].mean()) if valid.any() else nan,
        "map_75": float(per_class[valid, 5].mean()) if valid.any() else nan,
        "per_class": per_class,
    }
