"""Instance masks by centre-based grouping: a foreground mask split at the detected centres.

Each foreground pixel goes to a confident detection whose box contains it; among several, the
one whose centre is nearest in box-normalised distance. The class comes from the detector, so
the segmentation only has to say "object or not" (a semantic map works too: any label > 0 is
foreground). A detection below ``min_score`` does not compete for pixels: its mask is the
foreground inside its box (it only matters at the low-score end of the precision curve).
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["group_instances"]


def group_instances(
    foreground: Any, detections: dict[str, np.ndarray], min_score: float = 0.3
) -> np.ndarray:
    """Per-detection masks from a foreground (or semantic label) map.

    Args:
        foreground: ``(H, W)``, nonzero on objects (bool, or semantic labels with 0 =
            background).
        detections: ``boxes`` ``(D, 4)`` xyxy, ``scores`` ``(D,)``, ``labels`` ``(D,)``.
        min_score: detections at least this confident share out their class's pixels.

    Returns:
        bool ``(D, H, W)``, in the order of the detections.
    """
    foreground = np.asarray(foreground) > 0
    height, width = foreground.shape
    boxes = np.asarray(detections["boxes"], dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(detections["scores"])
    masks = np.zeros((len(boxes), height, width), dtype=bool)
    # Pixel centres, so a pixel is inside a box when its centre is.
    ys = np.arange(height)[None, :, None] + 0.5
    xs = np.arange(width)[None, None, :] + 0.5
    inside = (
        (xs >= boxes[:, 0, None, None])
        & (xs < boxes[:, 2, None, None])
        & (ys >= boxes[:, 1, None, None])
        & (ys < boxes[:, 3, None, None])
    )
    candidates = inside & foreground[None]
    confident = scores >= min_score
    masks[~confident] = candidates[~confident]
    if confident.any():
        chosen = np.flatnonzero(confident)
        b = boxes[chosen]
        half_w = np.maximum((b[:, 2] - b[:, 0]) / 2, 1e-6)[:, None, None]
        half_h = np.maximum((b[:, 3] - b[:, 1]) / 2, 1e-6)[:, None, None]
        distance = ((xs - (b[:, 0, None, None] + half_w)) / half_w) ** 2 + (
            (ys - (b[:, 1, None, None] + half_h)) / half_h
        ) ** 2
        distance = np.where(candidates[chosen], distance, np.inf)
        nearest = distance.argmin(axis=0)
        claimed = np.isfinite(distance.min(axis=0))
        for slot, index in enumerate(chosen):
            masks[index] = claimed & (nearest == slot)
    return masks
