"""Instance masks by centre-based grouping: a foreground mask split at the detected centres.

Each detection claims the foreground pixels inside its box (grown by ``margin``) that are not
nearer, in box-normalised distance, to the centre of a *competing* detection whose box also
contains them. Competitors are the confident detections (score ``>= min_score``) whose boxes
overlap this one by IoU below ``duplicate_iou``: two boxes on the same digit (say a "3" and an
"8" hypothesis) are alternatives for the same pixels, not rivals that should split them. The
class comes from the detector, so the segmentation only has to say "object or not" (a
semantic map works too: any label > 0 is foreground).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.detection.boxes import box_iou

__all__ = ["group_instances", "semantic_from_instances"]


def group_instances(
    foreground: Any,
    detections: dict[str, np.ndarray],
    min_score: float = 0.3,
    margin: float = 0.1,
    duplicate_iou: float = 0.5,
) -> np.ndarray:
    """Per-detection masks from a foreground (or semantic label) map.

    Args:
        foreground: ``(H, W)``, nonzero on objects (bool, or semantic labels with 0 =
            background).
        detections: ``boxes`` ``(D, 4)`` xyxy, ``scores`` ``(D,)``, ``labels`` ``(D,)``.
        min_score: only detections at least this confident compete for pixels.
        margin: each box is grown by this fraction of its width and height on every side
            before it claims pixels (predicted boxes tend to be a little short).
        duplicate_iou: boxes overlapping at least this much do not compete.

    Returns:
        bool ``(D, H, W)``, in the order of the detections (masks may overlap).
    """
    foreground = np.asarray(foreground) > 0
    height, width = foreground.shape
    boxes = np.asarray(detections["boxes"], dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(detections["scores"])
    if len(boxes) == 0:
        return np.zeros((0, height, width), dtype=bool)
    grow = margin * (boxes[:, 2:] - boxes[:, :2])
    grown = np.concatenate([boxes[:, :2] - grow, boxes[:, 2:] + grow], axis=1)
    # Pixel centres, so a pixel is inside a box when its centre is.
    ys = np.arange(height)[None, :, None] + 0.5
    xs = np.arange(width)[None, None, :] + 0.5
    inside = (
        (xs >= grown[:, 0, None, None])
        & (xs < grown[:, 2, None, None])
        & (ys >= grown[:, 1, None, None])
        & (ys < grown[:, 3, None, None])
    )
    half_w = np.maximum((boxes[:, 2] - boxes[:, 0]) / 2, 1e-6)[:, None, None]
    half_h = np.maximum((boxes[:, 3] - boxes[:, 1]) / 2, 1e-6)[:, None, None]
    distance = ((xs - (boxes[:, 0, None, None] + half_w)) / half_w) ** 2 + (
        (ys - (boxes[:, 1, None, None] + half_h)) / half_h
    ) ** 2
    distance = np.where(inside, distance, np.inf)
    competes = (scores[None, :] >= min_score) & (box_iou(boxes, boxes) < duplicate_iou)
    masks = inside & foreground[None]
    for i in range(len(boxes)):
        rivals = np.flatnonzero(competes[i])
        rivals = rivals[rivals != i]
        if len(rivals):
            masks[i] &= distance[i] <= distance[rivals].min(axis=0)
    return masks


def semantic_from_instances(
    masks: Any, detections: dict[str, np.ndarray], min_score: float = 0.3
) -> np.ndarray:
    """A semantic label map (0 = background, ``1 + class``) painted from instance masks.

    Masks of detections scoring at least ``min_score`` are painted in ascending score order,
    so where masks overlap the most confident detection's class wins.

    Shape:
        - masks: ``(D, H, W)`` bool; Output: int64 ``(H, W)``
    """
    masks = np.asarray(masks, dtype=bool)
    scores = np.asarray(detections["scores"])
    labels = np.asarray(detections["labels"])
    semantic = np.zeros(masks.shape[1:], dtype=np.int64)
    for k in np.argsort(scores, kind="stable"):
        if scores[k] >= min_score:
            semantic[masks[k]] = labels[k] + 1
    return semantic
