"""Boxes and masks: areas, pairwise IoU, non-maximum suppression (``torchvision.ops`` rules).

Boxes are ``(x1, y1, x2, y2)`` with ``x1 <= x2``, ``y1 <= y2``, in pixel-edge coordinates: a
box's width is ``x2 - x1`` (no ``+ 1``), as in torchvision and COCO.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "box_area",
    "box_intersection",
    "box_iou",
    "mask_iou",
    "nms",
    "batched_nms",
    "mask_boxes",
]


def _boxes(boxes: Any, name: str) -> np.ndarray:
    array = np.asarray(boxes, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {array.shape}")
    return array


def box_area(boxes: Any) -> np.ndarray:
    """Areas of boxes.

    Shape:
        - boxes: ``(N, 4)`` xyxy; Output: ``(N,)`` float64
    """
    boxes = _boxes(boxes, "boxes")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_intersection(boxes1: Any, boxes2: Any) -> np.ndarray:
    """Pairwise areas of intersection.

    Shape:
        - boxes1: ``(N, 4)``, boxes2: ``(M, 4)`` xyxy; Output: ``(N, M)`` float64

    Example:
        >>> box_intersection([[0, 0, 2, 2]], [[1, 0, 3, 2]])
        array([[2.]])
    """
    boxes1, boxes2 = _boxes(boxes1, "boxes1"), _boxes(boxes2, "boxes2")
    width = np.minimum(boxes1[:, None, 2], boxes2[None, :, 2]) - np.maximum(
        boxes1[:, None, 0], boxes2[None, :, 0]
    )
    height = np.minimum(boxes1[:, None, 3], boxes2[None, :, 3]) - np.maximum(
        boxes1[:, None, 1], boxes2[None, :, 1]
    )
    return np.clip(width, 0, None) * np.clip(height, 0, None)


def box_iou(boxes1: Any, boxes2: Any) -> np.ndarray:
    """Pairwise intersection over union.

    Shape:
        - boxes1: ``(N, 4)``, boxes2: ``(M, 4)`` xyxy; Output: ``(N, M)`` float64

    Example:
        >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2]])
        array([[0.33333333]])
    """
    boxes1, boxes2 = _boxes(boxes1, "boxes1"), _boxes(boxes2, "boxes2")
    intersection = box_intersection(boxes1, boxes2)
    union = box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / union, 0.0)


def mask_iou(masks1: Any, masks2: Any) -> np.ndarray:
    """Pairwise intersection over union of binary masks (0 where both are empty).

    Shape:
        - masks1: ``(N, H, W)``, masks2: ``(M, H, W)`` bool; Output: ``(N, M)`` float64
    """
    masks1 = np.asarray(masks1, dtype=bool).reshape(len(masks1), -1).astype(np.float64)
    masks2 = np.asarray(masks2, dtype=bool).reshape(len(masks2), -1).astype(np.float64)
    intersection = masks1 @ masks2.T
    union = masks1.sum(1)[:, None] + masks2.sum(1)[None, :] - intersection
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, intersection / union, 0.0)


def nms(boxes: Any, scores: Any, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression, as ``torchvision.ops.nms``.

    Boxes are visited in descending score order (ties: lower index first); a box is kept
    unless its IoU with an already kept box is greater than ``iou_threshold``.

    Args:
        boxes: ``(N, 4)`` xyxy.
        scores: ``(N,)``.
        iou_threshold: suppress overlaps strictly above this IoU.

    Returns:
        int64 indices of the kept boxes, in descending score order.
    """
    boxes = _boxes(boxes, "boxes")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(boxes),):
        raise ValueError(f"scores must have shape ({len(boxes)},), got {scores.shape}")
    order = np.argsort(-scores, kind="stable")
    ious = box_iou(boxes[order], boxes[order])
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(order[i])
        suppressed |= ious[i] > iou_threshold
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: Any, scores: Any, labels: Any, iou_threshold: float) -> np.ndarray:
    """Class-aware NMS, as ``torchvision.ops.batched_nms``: boxes of different labels never
    suppress each other.

    Returns:
        int64 indices of the kept boxes, in descending score order.
    """
    boxes = _boxes(boxes, "boxes")
    labels = np.asarray(labels)
    if labels.shape != (len(boxes),):
        raise ValueError(f"labels must have shape ({len(boxes)},), got {labels.shape}")
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    # Shifting each label's boxes into its own disjoint region is torchvision's trick too.
    offsets = labels.astype(np.float64) * (boxes.max() - boxes.min() + 1)
    return nms(boxes + offsets[:, None], scores, iou_threshold)


def mask_boxes(masks: Any) -> np.ndarray:
    """The xyxy extent of each mask (pixel edges: ``x2`` = last column + 1); zeros if empty.

    Shape:
        - masks: ``(N, H, W)`` bool; Output: ``(N, 4)`` float32
    """
    masks = np.asarray(masks, dtype=bool)
    boxes = np.zeros((len(masks), 4), dtype=np.float32)
    for i, mask in enumerate(masks):
        rows, cols = np.nonzero(mask)
        if len(rows):
            boxes[i] = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
    return boxes
