"""Classify image files with a trained run: ``cnnkit predict RUN_DIR image.png ...``.

Any picture is turned into what the model was trained on, the way MNIST itself was made:

1. decode with Pillow; transparent pixels are laid over white; convert to grey levels;
2. MNIST and Fashion-MNIST show a light object on a black background. If the picture's border
   is mostly light (a dark object on light paper, the usual photo or drawing), invert it;
3. crop to the object (pixels brighter than 1/8 of the maximum) and scale it, keeping its
   aspect ratio, to fit a box of ``spec.digit_box`` pixels (MNIST: 20; Fashion-MNIST: 28);
4. paste it into a 28x28 black frame, its centre of mass at pixel (14, 14) (MNIST) or its box
   in the middle (Fashion-MNIST); then normalise like the training data.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from cnnkit import nn
from cnnkit.nn import functional as F
from cnnkit.tensor import Tensor, no_grad
from cnnkit.training.datasets import DataSpec

__all__ = ["ImageFileError", "load_picture", "prepare_picture", "predict_files"]

# A pixel belongs to the object when brighter than this fraction of the brightest one.
OBJECT_THRESHOLD = 1 / 8


class ImageFileError(ValueError):
    """An image file that cannot be read (missing, not an image, or broken)."""


def load_picture(path: str | os.PathLike[str]) -> np.ndarray:
    """Grey levels (uint8, ``(H, W)``) of an image file of any format and mode Pillow reads.

    Raises:
        ImageFileError: the file is missing or not a readable image.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageFileError(f"{path}: no such file")
    try:
        with Image.open(path) as picture:
            picture.load()
            if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info:
                rgba = picture.convert("RGBA")
                white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                picture = Image.alpha_composite(white, rgba)
            return np.asarray(picture.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise ImageFileError(f"{path}: not a readable image ({error})") from None


def prepare_picture(grey: np.ndarray, spec: DataSpec) -> np.ndarray:
    """A uint8 ``(1, S, S)`` image laid out like ``spec``'s training images (see module doc)."""
    size = spec.image_size
    image = grey.astype(np.float64)
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    background = float(np.median(border))
    if background > 127:
        image, background = 255.0 - image, 255.0 - background
    image = np.clip(image - background, 0, None)
    peak = image.max()
    if peak <= 0:
        return np.zeros((1, size, size), dtype=np.uint8)
    image *= 255.0 / peak
    rows = np.flatnonzero((image > OBJECT_THRESHOLD * 255).any(axis=1))
    cols = np.flatnonzero((image > OBJECT_THRESHOLD * 255).any(axis=0))
    crop = image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    scale = spec.digit_box / max(crop.shape)
    height = max(1, round(crop.shape[0] * scale))
    width = max(1, round(crop.shape[1] * scale))
    resized = Image.fromarray(crop.astype(np.float32), mode="F").resize(
        (width, height), Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BILINEAR
    )
    obj = np.clip(np.asarray(resized), 0, 255)
    if spec.center_of_mass and obj.sum() > 0:
        # MNIST's digits have their centre of mass at pixel (14, 14) of the 28x28 frame.
        ys, xs = np.indices(obj.shape)
        center = ((ys * obj).sum() / obj.sum(), (xs * obj).sum() / obj.sum())
        target = size / 2
    else:
        center = ((height - 1) / 2, (width - 1) / 2)
        target = (size - 1) / 2
    top = int(round(target - center[0]))
    left = int(round(target - center[1]))
    frame = np.zeros((size, size))
    # Paste with clipping: centring by mass may push part of the box past the frame.
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + height, size), min(left + width, size)
    frame[y0:y1, x0:x1] = obj[y0 - top : y1 - top, x0 - left : x1 - left]
    return np.round(frame).astype(np.uint8)[None]


def predict_files(
    model: nn.Module, spec: DataSpec, paths: Sequence[str | os.PathLike[str]], top_k: int = 3
) -> list[list[tuple[str, float]]]:
    """Top-``top_k`` ``(class name, probability)`` pairs for each image file.

    Raises:
        ImageFileError: a file is missing or not a readable image.
        ValueError: ``top_k`` is not between 1 and the number of classes.
    """
    classes = spec.classes
    if not 1 <= top_k <= len(classes):
        raise ValueError(f"top_k must be between 1 and {len(classes)}, got {top_k}")
    normalize = spec.normalization()
    batch = np.stack([prepare_picture(load_picture(path), spec) for path in paths])
    for transform in normalize:
        batch = transform(batch)
    model.eval()
    with no_grad():
        probabilities = F.softmax(model(Tensor(batch)), dim=1).data
    results = []
    for row in probabilities:
        best = np.argsort(-row, kind="stable")[:top_k]
        results.append([(classes[i], float(row[i])) for i in best])
    return results
