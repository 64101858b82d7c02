"""Synthetic scenes of real MNIST digits, with exact boxes, instance masks and semantic masks.

Each scene is a ``size x size`` grey canvas with a smooth random texture and pixel noise, onto
which 1 to ``max_objects`` real MNIST digits are pasted at random scales and positions. Since
the generator placed every digit, the ground truth is exact, not annotated.

Rules of the ground truth:

- A digit's *footprint* is its resized patch thresholded at half intensity (``alpha > 0.5``).
- Pasting is alpha blending, in order: later digits are on top. A pixel belongs to the **last**
  digit whose footprint covers it (later pastes occlude earlier ones).
- An object's instance mask is its **visible** footprint (its footprint minus the footprints of
  the digits pasted after it); its box is the extent of that visible mask, in pixel-edge
  coordinates ``(x1, y1, x2, y2)`` with ``x2 = last column + 1`` (so a one-pixel mask has a
  box of width 1, as COCO counts it).
- Overlap is bounded: a digit is only pasted where every earlier digit keeps at least
  ``min_visible`` of its footprint visible; after 20 failed placements the digit is dropped
  (never the first one, which always fits).
- The semantic mask is ``0`` for background and ``1 + digit`` on each object's visible mask
  (11 classes); the instance map is ``0`` for background and ``k + 1`` for the ``k``-th object.

Splits draw from disjoint digits: ``"train"`` pastes digits from the bundled MNIST training part
(8,000 digits), ``"val"`` and ``"test"`` from the two halves of its test part (1,000 each).
Everything is a function of ``(seed, split)``: the same arguments give the same scenes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from cnnkit.data.dataset import Dataset
from cnnkit.data.datasets import MNIST

__all__ = ["Scenes", "collate_scenes", "SCENE_CLASSES"]

SCENE_CLASSES = [str(digit) for digit in range(10)]
SPLITS = ("train", "val", "test")
_PLACEMENT_TRIES = 20
_FOOTPRINT_THRESHOLD = 0.5


def _resize_matrix(source: int, target: int) -> np.ndarray:
    """The ``(target, source)`` matrix of 1-D bilinear resampling (half-pixel centres)."""
    centres = (np.arange(target) + 0.5) * source / target - 0.5
    centres = np.clip(centres, 0, source - 1)
    low = np.floor(centres).astype(np.int64)
    high = np.minimum(low + 1, source - 1)
    frac = centres - low
    matrix = np.zeros((target, source), dtype=np.float32)
    matrix[np.arange(target), low] += 1 - frac
    matrix[np.arange(target), high] += frac
    return matrix


def _split_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    if split == "train":
        digits = MNIST(train=True)
        return digits.data[:, 0], np.asarray(digits.targets)
    digits = MNIST(train=False)
    half = len(digits.targets) // 2
    part = slice(0, half) if split == "val" else slice(half, None)
    return digits.data[part, 0], np.asarray(digits.targets)[part]


class Scenes(Dataset):
    """Scenes of pasted MNIST digits for detection and segmentation (see the module docstring).

    Args:
        split: ``"train"``, ``"val"`` or ``"test"`` (disjoint source digits).
        num_scenes: how many scenes.
        size: canvas side in pixels.
        max_objects: at most this many digits per scene (at least one).
        scale_range: ``(low, high)`` side of a pasted digit in pixels, drawn uniformly
            (inclusive).
        min_visible: the fraction of its footprint every digit keeps visible.
        seed: the seed; with ``split`` it determines every scene.
        transform: applied to each image, float32 ``(1, size, size)`` in [0, 1].

    Attributes:
        images: float32 ``(num_scenes, 1, size, size)``.
        semantic: int64 ``(num_scenes, size, size)``, 0 = background, ``1 + digit``.
        instances: int64 ``(num_scenes, size, size)``, 0 = background, ``k + 1``.
        boxes: float32 ``(num_scenes, max_objects, 4)`` xyxy, rows past ``counts`` are zero.
        labels: int64 ``(num_scenes, max_objects)``, ``-1`` past ``counts``.
        counts: int64 ``(num_scenes,)``, objects per scene.
        footprint_areas: int64 ``(num_scenes, max_objects)``, pixels of each whole footprint
            (before occlusion; the visible area is at least ``min_visible`` of it).

    Example:
        >>> scenes = Scenes("val", num_scenes=4, seed=1)
        >>> image, target = scenes[0]
        >>> image.shape, target["masks"].shape[1:]
        ((1, 64, 64), (64, 64))
    """

    classes = SCENE_CLASSES

    def __init__(
        self,
        split: str = "train",
        num_scenes: int = 1000,
        size: int = 64,
        max_objects: int = 3,
        scale_range: tuple[int, int] = (22, 36),
        min_visible: float = 0.7,
        seed: int = 0,
        transform: Callable[[Any], Any] | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if not isinstance(num_scenes, int) or num_scenes < 0:
            raise ValueError(f"num_scenes must be a non-negative int, got {num_scenes!r}")
        if not isinstance(max_objects, int) or max_objects < 1:
            raise ValueError(f"max_objects must be a positive int, got {max_objects!r}")
        low, high = scale_range
        if not 4 <= low <= high <= size:
            raise ValueError(
                f"scale_range must satisfy 4 <= low <= high <= size={size}, got {scale_range}"
            )
        if not 0.0 <= min_visible <= 1.0:
            raise ValueError(f"min_visible must be in [0, 1], got {min_visible}")
        self.split, self.size, self.max_objects = split, size, max_objects
        self.transform = transform
        digits, digit_labels = _split_digits(split)
        rng = np.random.default_rng([seed, SPLITS.index(split)])
        self.images = np.empty((num_scenes, 1, size, size), dtype=np.float32)
        self.instances = np.zeros((num_scenes, size, size), dtype=np.int64)
        self.boxes = np.zeros((num_scenes, max_objects, 4), dtype=np.float32)
        self.labels = np.full((num_scenes, max_objects), -1, dtype=np.int64)
        self.counts = np.zeros(num_scenes, dtype=np.int64)
        self.footprint_areas = np.zeros((num_scenes, max_objects), dtype=np.int64)
        self.images[:, 0] = _backgrounds(rng, num_scenes, size)
        resize = {side: _resize_matrix(28, side) for side in range(low, high + 1)}
        for index in range(num_scenes):
            wanted = int(rng.integers(1, max_objects + 1))
            choice = rng.integers(len(digits), size=wanted)
            sides = rng.integers(low, high + 1, size=wanted)
            inks = rng.uniform(0.75, 1.0, size=wanted)
            owner = self.instances[index]
            footprints: list[int] = []
            visible = np.zeros(0, dtype=np.int64)
            for digit, side, ink in zip(choice, sides, inks, strict=True):
                matrix = resize[int(side)]
                # Bilinear weights are convex, so alpha stays in [0, 1].
                alpha = matrix @ (digits[digit] / np.float32(255.0)) @ matrix.T
                footprint = alpha > _FOOTPRINT_THRESHOLD
                for _ in range(_PLACEMENT_TRIES):
                    y, x = rng.integers(0, size - side + 1, size=2)
                    window = owner[y : y + side, x : x + side]
                    hidden = np.bincount(window[footprint], minlength=len(footprints) + 1)[1:]
                    if np.all(visible - hidden >= min_visible * np.asarray(footprints)):
                        visible -= hidden
                        break
                else:
                    continue
                k = len(footprints)
                footprints.append(int(footprint.sum()))
                visible = np.append(visible, footprints[-1])
                canvas = self.images[index, 0, y : y + side, x : x + side]
                canvas *= 1 - alpha
                canvas += alpha * ink
                window[footprint] = k + 1
                self.labels[index, k] = digit_labels[digit]
            count = len(footprints)
            self.counts[index] = count
            self.footprint_areas[index, :count] = footprints
            for k in range(count):
                rows, cols = np.nonzero(owner == k + 1)
                self.boxes[index, k] = (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)
        np.clip(self.images, 0.0, 1.0, out=self.images)
        labels_of_pixels = np.concatenate(
            [np.zeros((num_scenes, 1), np.int64), self.labels + 1], axis=1
        )
        self.semantic = np.take_along_axis(
            labels_of_pixels, self.instances.reshape(num_scenes, -1), axis=1
        ).reshape(self.instances.shape)

    def __len__(self) -> int:
        return len(self.images)

    def target(self, index: int) -> dict[str, np.ndarray]:
        """The ground truth of scene ``index``.

        Returns:
            ``boxes`` float32 ``(K, 4)`` xyxy, ``labels`` int64 ``(K,)`` (digits 0-9),
            ``masks`` bool ``(K, size, size)`` (visible parts), ``semantic`` int64
            ``(size, size)``.
        """
        count = int(self.counts[index])
        instance_ids = np.arange(1, count + 1)[:, None, None]
        return {
            "boxes": self.boxes[index, :count].copy(),
            "labels": self.labels[index, :count].copy(),
            "masks": self.instances[index][None] == instance_ids,
            "semantic": self.semantic[index].copy(),
        }

    def __getitem__(self, index: int) -> tuple[Any, dict[str, np.ndarray]]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} scenes")
        index %= len(self)
        image = self.images[index].copy()
        if self.transform is not None:
            image = self.transform(image)
        return image, self.target(index)


def _backgrounds(rng: np.random.Generator, count: int, size: int) -> np.ndarray:
    """Smooth random textures (bilinear upsampled 5x5 noise) plus pixel noise, in [0, 0.35]."""
    coarse = rng.random(size=(count, 5, 5), dtype=np.float32)
    matrix = _resize_matrix(5, size).astype(np.float32)
    texture = matrix @ coarse @ matrix.T
    texture *= rng.uniform(0.05, 0.25, size=(count, 1, 1)).astype(np.float32)
    texture += rng.standard_normal(size=(count, size, size), dtype=np.float32) * np.float32(0.03)
    texture += np.float32(0.05)
    return np.clip(texture, 0.0, 0.35, out=texture)


def collate_scenes(batch: Sequence[tuple[Any, dict[str, np.ndarray]]]) -> tuple[Any, list]:
    """Batch scenes for a ``DataLoader``: images stacked, targets kept as a list of dicts.

    Shape:
        Returns images ``(N, 1, size, size)`` and ``N`` target dicts (objects per scene vary).
    """
    images = np.stack([np.asarray(image) for image, _ in batch])
    return images, [target for _, target in batch]
