"""Datasets: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split`` and ``ImageDataset``.

As in ``torch.utils.data``, a dataset is anything with ``__getitem__`` and ``__len__``. A
dataset may also define ``__getitems__(indices)`` to fetch a whole batch at once (PyTorch 2
does the same); ``DataLoader`` uses it when present, which lets ``ImageDataset`` apply its
transforms to a batch in one vectorised call instead of image by image.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cnnkit.data._random import numpy_generator
from cnnkit.tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ImageDataset", "random_split"]


class Dataset:
    """Base class: subclasses define ``__getitem__(index)`` and ``__len__()``."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """The samples at ``indices``, as a list (subclasses may vectorise this)."""
        return [self[int(i)] for i in indices]


def _as_array(value: Any) -> np.ndarray:
    return value.data if isinstance(value, Tensor) else np.asarray(value)


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays or tensors.

    Args:
        *tensors: arrays or ``Tensor`` s with the same first dimension.

    Example:
        >>> ds = TensorDataset(np.zeros((4, 3)), np.arange(4))
        >>> x, y = ds[1]
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(_as_array(t) for t in tensors)
        sizes = [len(t) for t in self.tensors]
        if any(size != sizes[0] for size in sizes):
            raise ValueError(f"all tensors must have the same first dimension, got {sizes}")

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        if self.indices.ndim != 1:
            raise ValueError(f"indices must be one-dimensional, got shape {self.indices.shape}")

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        chosen = self.indices[np.asarray(indices, dtype=np.int64)]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(chosen)
        return [self.dataset[int(i)] for i in chosen]

    def __len__(self) -> int:
        return len(self.indices)


def _split_lengths(total: int, lengths: Sequence[float]) -> list[int]:
    """Integer lengths; fractions are turned into counts the way PyTorch does it."""
    if all(isinstance(n, int | np.integer) for n in lengths):
        counts = [int(n) for n in lengths]
        if any(n < 0 for n in counts) or sum(counts) != total:
            raise ValueError(
                f"lengths must be non-negative and sum to the dataset size {total}, got {lengths}"
            )
        return counts
    if any(not 0 <= f <= 1 for f in lengths) or not math.isclose(sum(lengths), 1.0):
        raise ValueError(f"fractions in lengths must lie in [0, 1] and sum to 1, got {lengths}")
    counts = [math.floor(total * f) for f in lengths]
    # PyTorch hands the remainder out one at a time, round-robin from the first split.
    for i in range(total - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def random_split(dataset: Any, lengths: Sequence[float], generator: Any = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random subsets.

    Args:
        dataset: the dataset to split.
        lengths: sizes (ints summing to ``len(dataset)``) or fractions (summing to 1).
        generator: random source; ``None`` for the library-wide generator.

    Returns:
        One ``Subset`` per entry of ``lengths``.

    Example:
        >>> train, val = random_split(ds, [0.8, 0.2], generator=np.random.default_rng(0))
    """
    counts = _split_lengths(len(dataset), lengths)
    order = numpy_generator(generator).permutation(len(dataset))
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[lo:hi]) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


class ImageDataset(Dataset):
    """Images held in memory as one uint8 array, with torchvision-style transforms.

    ``dataset[i]`` returns ``(transform(image), target_transform(target))``. Fetching a batch
    (``__getitems__``) applies ``transform`` to the whole ``(N, C, H, W)`` stack at once; every
    transform in ``cnnkit.data.transforms`` accepts both a single image and a batch, and draws
    independent random parameters for each image of a batch.

    Args:
        data: uint8 images, shape ``(N, C, H, W)``.
        targets: integer class labels, shape ``(N,)``.
        transform: applied to images.
        target_transform: applied to labels.
        classes: class names, indexed by label.

    Shape:
        - ``data``: :math:`(N, C, H, W)`; ``targets``: :math:`(N,)` int64.
    """

    def __init__(
        self,
        data: np.ndarray,
        targets: np.ndarray,
        transform: Callable[[np.ndarray], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        if data.ndim != 4:
            raise ValueError(f"data must have shape (N, C, H, W), got {data.shape}")
        if len(targets) != len(data):
            raise ValueError(f"{len(data)} images but {len(targets)} targets")
        self.data = data
        self.targets = np.asarray(targets, dtype=np.int64)
        self.transform = transform
        self.target_transform = target_transform
        self.classes = list(classes) if classes is not None else []

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Any, Any]]:
        indices = np.asarray(indices, dtype=np.int64)
        images = self.data[indices]
        if self.transform is not None:
            images = self.transform(images)
        targets: list[Any] = self.targets[indices].tolist()
        if self.target_transform is not None:
            targets = [self.target_transform(t) for t in targets]
        return list(zip(images, targets, strict=True))

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        shape = "x".join(str(n) for n in self.data.shape[1:])
        return f"{type(self).__name__}({len(self)} images of {shape}, {len(self.classes)} classes)"
