"""The image layouts the package accepts, and the one it computes in.

Every filter computes on a Tensor of shape (N, C, H, W), so that it runs on the engine's
convolution and stays differentiable. Callers may hand in either

* a NumPy array, scikit-image style: (H, W) grayscale or (H, W, C) channels-last colour. The
  result is a NumPy array of the same shape. Integer and bool arrays are converted to floating
  point as ``skimage.img_as_float`` converts them: multiplied by 1 / (the dtype's maximum)
  (uint8 -> [0, 1]; signed types -> [-1, 1]), giving float64. float32 stays float32, float64
  stays float64.
* a Tensor, PyTorch style: (N, C, H, W), floating point. The result is a Tensor of the same
  shape, recorded on the autograd tape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from cnnkit.tensor import Tensor

Image = np.ndarray | Tensor


def as_float_array(image: Any, name: str = "image") -> np.ndarray:
    """A floating-point NumPy copy-or-view of ``image`` (integers scaled to [0, 1])."""
    array = np.asarray(image)
    if array.dtype == bool:
        return array.astype(np.float64)
    if np.issubdtype(array.dtype, np.integer):
        # The same arithmetic as skimage.img_as_float, so results match it bit for bit.
        scaled = np.multiply(array, 1.0 / np.iinfo(array.dtype).max, dtype=np.float64)
        return np.maximum(scaled, -1.0) if np.issubdtype(array.dtype, np.signedinteger) else scaled
    if array.dtype == np.float16:
        return array.astype(np.float32)
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"{name} must hold real numbers, got dtype={array.dtype}")
    return array


def to_batch(image: Image, name: str = "image") -> tuple[Tensor, Callable[[Tensor], Image]]:
    """``image`` as an (N, C, H, W) Tensor, and the function that restores the caller's layout.

    Raises:
        ValueError: wrong number of dimensions, or an empty image.
        TypeError: a non-floating Tensor or a non-numeric array.
    """
    if isinstance(image, Tensor):
        if image.ndim != 4:
            raise ValueError(
                f"{name} as a Tensor must be (N, C, H, W), got shape {tuple(image.shape)}"
            )
        if not np.issubdtype(image.dtype, np.floating):
            raise TypeError(f"{name} Tensor must be floating point, got dtype={image.dtype}")
        check_not_empty(image.shape, name)
        return image, lambda out: out

    array = as_float_array(image, name)
    if array.ndim not in (2, 3):
        raise ValueError(f"{name} as an array must be (H, W) or (H, W, C), got shape {array.shape}")
    check_not_empty(array.shape, name)
    if array.ndim == 2:
        return Tensor(array[None, None]), lambda out: out.data[0, 0]
    return (
        Tensor(np.ascontiguousarray(array.transpose(2, 0, 1)[None])),
        lambda out: np.ascontiguousarray(out.data[0].transpose(1, 2, 0)),
    )


def check_not_empty(shape: tuple[int, ...], name: str) -> None:
    if 0 in shape:
        raise ValueError(f"{name} is empty (shape {tuple(shape)})")


def grayscale_array(image: Any, name: str = "image") -> np.ndarray:
    """A 2-D floating array, for the detectors that are defined on grayscale images only."""
    if isinstance(image, Tensor):
        raise TypeError(f"{name} must be a NumPy array (H, W) here, not a Tensor")
    array = as_float_array(image, name)
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D grayscale array (H, W), got shape {array.shape}; "
            "convert colour images first, e.g. with cnnkit.image.read(path, gray=True)"
        )
    check_not_empty(array.shape, name)
    return array
