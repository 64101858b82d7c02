"""CenterNet training targets, loss and decoding (Zhou et al., "Objects as Points", 2019).

Each object is its box centre on the output grid (stride ``s``): a Gaussian peak on its class's
heatmap, and at the peak cell its sub-cell offset and its size, both in cells. The loss is the
penalty-reduced focal loss on the heatmap plus L1 on offset and (weighted) size at the object
cells, each normalised by the number of objects. Decoding keeps heatmap cells that are the
maximum of their 3x3 neighbourhood (a cheap NMS), takes the top scores, and builds boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnkit.detection.boxes import batched_nms
from cnnkit.tensor import Tensor

__all__ = ["gaussian_radius", "centernet_targets", "centernet_loss", "decode_detections"]

FOCAL_ALPHA = 2
FOCAL_BETA = 4
PROBABILITY_CLAMP = 1e-4


def gaussian_radius(height: float, width: float, min_overlap: float = 0.7) -> float:
    """CenterNet's radius: the largest centre shift keeping IoU >= ``min_overlap`` with the box.

    The smallest root of the three quadratic cases of the original implementation.
    """
    b1 = height + width
    c1 = width * height * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + np.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (height + width)
    c2 = (1 - min_overlap) * width * height
    r2 = (b2 + np.sqrt(b2**2 - 16 * c2)) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (height + width)
    c3 = (min_overlap - 1) * width * height
    r3 = (b3 + np.sqrt(b3**2 - 4 * a3 * c3)) / 2
    return float(min(r1, r2, r3))


def centernet_targets(
    boxes: Sequence[np.ndarray],
    labels: Sequence[np.ndarray],
    num_classes: int,
    output_size: tuple[int, int],
    stride: int,
) -> dict[str, np.ndarray]:
    """Heatmap and box-regression targets for a batch.

    Args:
        boxes: per image ``(K, 4)`` xyxy in input pixels.
        labels: per image ``(K,)`` class indices.
        num_classes: heatmap channels.
        output_size: ``(h, w)`` of the output grid.
        stride: input pixels per output cell.

    Returns:
        ``heatmap`` float32 ``(N, C, h, w)`` (Gaussian peaks, exactly 1 at object cells),
        ``box`` float32 ``(N, 4, h, w)`` (offset x, y, width, height in cells at object cells),
        ``box_weight`` float32 ``(N, 1, h, w)`` (1 at object cells), ``num_objects``.
    """
    height, width = output_size
    batch = len(boxes)
    heatmap = np.zeros((batch, num_classes, height, width), dtype=np.float32)
    box = np.zeros((batch, 4, height, width), dtype=np.float32)
    box_weight = np.zeros((batch, 1, height, width), dtype=np.float32)
    rows, cols = np.arange(height)[:, None], np.arange(width)[None, :]
    for n, (image_boxes, image_labels) in enumerate(zip(boxes, labels, strict=True)):
        for (x1, y1, x2, y2), label in zip(
            np.asarray(image_boxes) / stride, image_labels, strict=True
        ):
            centre_x, centre_y = (x1 + x2) / 2, (y1 + y2) / 2
            cell_x = min(int(centre_x), width - 1)
            cell_y = min(int(centre_y), height - 1)
            radius = max(0, int(gaussian_radius(y2 - y1, x2 - x1)))
            sigma = (2 * radius + 1) / 6
            peak = np.exp(-((cols - cell_x) ** 2 + (rows - cell_y) ** 2) / (2 * sigma**2))
            peak[(np.abs(cols - cell_x) > radius) | (np.abs(rows - cell_y) > radius)] = 0
            np.maximum(heatmap[n, label], peak, out=heatmap[n, label])
            box[n, :, cell_y, cell_x] = (centre_x - cell_x, centre_y - cell_y, x2 - x1, y2 - y1)
            box_weight[n, 0, cell_y, cell_x] = 1
    return {
        "heatmap": heatmap,
        "box": box,
        "box_weight": box_weight,
        "num_objects": int(box_weight.sum()),
    }


def centernet_loss(
    heatmap_logits: Tensor,
    box: Tensor,
    targets: dict[str, Any],
    size_weight: float = 0.1,
) -> tuple[Tensor, dict[str, float]]:
    """Focal heatmap loss + L1 offset loss + ``size_weight`` * L1 size loss.

    Args:
        heatmap_logits: ``(N, C, h, w)`` logits.
        box: ``(N, 4, h, w)`` predicted offset x, y and size w, h in cells.
        targets: from ``centernet_targets``.
        size_weight: weight of the size term (0.1 in CenterNet).

    Returns:
        ``(total loss, {"heatmap": ..., "offset": ..., "size": ...})``.
    """
    target = targets["heatmap"]
    positive = (target == 1).astype(np.float32)
    # (1 - y)^beta lowers the penalty near a peak, where the target is nearly 1.
    negative_weight = ((1 - target) ** FOCAL_BETA * (1 - positive)).astype(np.float32)
    probability = heatmap_logits.sigmoid().clamp(PROBABILITY_CLAMP, 1 - PROBABILITY_CLAMP)
    positive_loss = (1 - probability) ** FOCAL_ALPHA * probability.log() * positive
    negative_loss = probability**FOCAL_ALPHA * (1 - probability).log() * negative_weight
    normaliser = max(targets["num_objects"], 1)
    heatmap_loss = -(positive_loss.sum() + negative_loss.sum()) / normaliser
    error = (box - Tensor(targets["box"])).abs() * Tensor(targets["box_weight"])
    offset_loss = error[:, :2].sum() / normaliser
    size_loss = error[:, 2:].sum() / normaliser
    total = heatmap_loss + offset_loss + size_weight * size_loss
    return total, {
        "heatmap": float(heatmap_loss.item()),
        "offset": float(offset_loss.item()),
        "size": float(size_loss.item()),
    }


def _local_maxima(heat: np.ndarray) -> np.ndarray:
    """``heat`` where it equals the maximum of its 3x3 neighbourhood, else 0."""
    padded = np.pad(heat, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    return np.where(heat == windows.max(axis=(-2, -1)), heat, 0)


def decode_detections(
    heatmap_logits: np.ndarray,
    box: np.ndarray,
    stride: int,
    image_size: tuple[int, int],
    max_detections: int = 50,
    score_threshold: float = 0.01,
    nms_threshold: float | None = 0.7,
) -> list[dict[str, np.ndarray]]:
    """Detections from the network maps.

    Args:
        heatmap_logits: ``(N, C, h, w)``.
        box: ``(N, 4, h, w)``.
        stride: input pixels per cell.
        image_size: ``(H, W)``; boxes are clipped to it.
        max_detections: top peaks kept per image.
        score_threshold: peaks below this score are dropped.
        nms_threshold: class-aware NMS IoU threshold after decoding (``None``: none).

    Returns:
        Per image a dict of ``boxes`` float32 ``(D, 4)`` xyxy in input pixels, ``scores``
        ``(D,)`` and ``labels`` int64 ``(D,)``, in descending score order.
    """
    heatmap_logits, box = np.asarray(heatmap_logits), np.asarray(box)
    heat = _local_maxima(1 / (1 + np.exp(-heatmap_logits.astype(np.float64))))
    batch, classes, height, width = heat.shape
    results = []
    for n in range(batch):
        flat = heat[n].ravel()
        top = np.argsort(-flat, kind="stable")[:max_detections]
        top = top[flat[top] >= score_threshold]
        labels, cells = np.divmod(top, height * width)
        rows, cols = np.divmod(cells, width)
        offset_x, offset_y, box_w, box_h = box[n][:, rows, cols]
        centre_x, centre_y = (cols + offset_x) * stride, (rows + offset_y) * stride
        half_w, half_h = np.abs(box_w) * stride / 2, np.abs(box_h) * stride / 2
        boxes = np.stack(
            [
                np.clip(centre_x - half_w, 0, image_size[1]),
                np.clip(centre_y - half_h, 0, image_size[0]),
                np.clip(centre_x + half_w, 0, image_size[1]),
                np.clip(centre_y + half_h, 0, image_size[0]),
            ],
            axis=1,
        ).astype(np.float32)
        scores = flat[top]
        if nms_threshold is not None:
            keep = batched_nms(boxes, scores, labels, nms_threshold)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        results.append({"boxes": boxes, "scores": scores, "labels": labels.astype(np.int64)})
    return results
