"""Reading and writing image files through Pillow, as float arrays in [0, 1]."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from cnnkit.tensor import Tensor

__all__ = ["read", "write"]

# Pillow modes whose pixels are single grayscale samples, and the value that means "white".
_GRAY_MODES = {"1": 1, "L": 255, "I;16": 65535, "I;16B": 65535, "I;16L": 65535, "I": 65535}


def read(path: str | os.PathLike, gray: bool = False) -> np.ndarray:
    """Read an image file as float32 in [0, 1].

    Args:
        path: any format Pillow reads (PNG, JPEG, BMP, TIFF, ...).
        gray: convert to one luminance channel (Pillow's ITU-R 601-2 weights).

    Shape:
        output (H, W) for grayscale files or ``gray=True``, else (H, W, 3) RGB (alpha dropped).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not an image Pillow can read.
    """
    try:
        with PILImage.open(path) as opened:
            opened.load()
            picture = opened
    except FileNotFoundError:
        raise FileNotFoundError(f"no such image file: {os.fspath(path)}") from None
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"cannot read {os.fspath(path)} as an image: {error}") from None

    if picture.mode in _GRAY_MODES:
        white = _GRAY_MODES[picture.mode]
        pixels = np.asarray(picture).astype(np.float32) / white
        return np.clip(pixels, 0.0, 1.0)
    if picture.mode == "F":
        return np.asarray(picture, dtype=np.float32)
    if gray:
        return np.asarray(picture.convert("L"), dtype=np.float32) / 255
    return np.asarray(picture.convert("RGB"), dtype=np.float32) / 255


def write(path: str | os.PathLike, image: Any) -> None:
    """Write an image file; floats are clipped to [0, 1] and stored as 8-bit.

    Args:
        path: the format follows the extension (.png, .jpg, ...).
        image: (H, W) grayscale, (H, W, 3) RGB or (H, W, 4) RGBA; float in [0, 1], bool, or
            uint8 (written as is). A Tensor (1, C, H, W) or (C, H, W) is accepted too.

    Raises:
        ValueError: an unsupported shape, or a path Pillow cannot write.
    """
    array = image.data if isinstance(image, Tensor) else np.asarray(image)
    if isinstance(image, Tensor):
        array = array[0] if array.ndim == 4 and array.shape[0] == 1 else array
        if array.ndim == 3:
            array = array.transpose(1, 2, 0)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))):
        raise ValueError(
            f"image to write must be (H, W), (H, W, 3) or (H, W, 4), got shape {array.shape}"
        )
    if 0 in array.shape:
        raise ValueError(f"image to write is empty (shape {array.shape})")
    if array.dtype != np.uint8:
        array = np.round(np.clip(np.asarray(array, dtype=np.float64), 0.0, 1.0) * 255)
        array = array.astype(np.uint8)
    try:
        PILImage.fromarray(array).save(path)
    except (KeyError, ValueError, OSError) as error:
        raise ValueError(f"cannot write {os.fspath(path)}: {error}") from None
