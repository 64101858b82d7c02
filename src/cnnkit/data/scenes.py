"""Synthetic scenes of real MNIST digits or Fashion-MNIST items, with exact boxes and masks.

Each scene is a ``size x size`` grey canvas with a smooth random texture and pixel noise, onto
which 1 to ``max_objects`` real objects are pasted at random scales and positions: MNIST digits
(``objects="mnist"``, the bundled set) or Fashion-MNIST clothes (``objects="fashion-mnist"``,
Zalando's files, see ``cnnkit.data.FashionMNIST``). Since the generator placed every object, the
ground truth is exact, not annotated.

How an object is drawn: its 28x28 source is resized bilinearly to the drawn side, giving an
*alpha* (opacity) and a *colour* per pixel, and blended onto the canvas:
``canvas = (1 - alpha) * canvas + alpha * colour``.

- MNIST digits are strokes: alpha is the digit's intensity, the colour one random ink level
  in [0.75, 1].
- Fashion-MNIST items are filled shapes whose inside is often dark (a black coat, the shadow
  of a fold): their intensity would punch holes into them. Alpha is the item's *silhouette*
  instead: source pixels of intensity at least ``13 / 255`` (0.05; the dark background is 0
  with a little noise below that) plus every hole they enclose (a bag's handle, dark patches),
  resized like the digit's intensity, so edges stay soft. The colour keeps the item's own
  shading, lifted off the dark canvas: ``ink * (0.5 + 0.5 * intensity)``.

Rules of the ground truth (the same for both kinds of object):

- An object's *footprint* is where its alpha exceeds one half (``alpha > 0.5``): for a digit its
  thick strokes, for a Fashion item its silhouette at the drawn size.
- Pasting is in order: later objects are on top. A pixel belongs to the **last**
  object whose footprint covers it (later pastes occlude earlier ones).
- An object's instance mask is its **visible** footprint (its footprint minus the footprints of
  the objects pasted after it); its box is the extent of that visible mask, in pixel-edge
  coordinates ``(x1, y1, x2, y2)`` with ``x2 = last column + 1`` (so a one-pixel mask has a
  box of width 1, as COCO counts it).
- Overlap is bounded: an object is only pasted where every earlier object keeps at least
  ``min_visible`` of its footprint visible; after 20 failed placements the object is dropped
  (never the first one, which always fits).
- The semantic mask is ``0`` for background and ``1 + class`` on each object's visible mask
  (11 classes); the instance map is ``0`` for background and ``k + 1`` for the ``k``-th object.
  Class names are ``scenes.classes`` (``scene_classes(objects)``): the digits ``"0"``-``"9"``
  or Fashion-MNIST's ten names, ``"T-shirt/top"`` to ``"Ankle boot"``.

Splits draw from disjoint source images: ``"train"`` pastes objects from the training part of
the source set, ``"val"`` and ``"test"`` from the first and second half of its test part. For
the bundled MNIST that is 8,000 / 1,000 / 1,000 digits, for Fashion-MNIST 60,000 / 5,000 /
5,000 items. Everything is a function of ``(seed, split, objects)``: the same arguments give the
same scenes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from cnnkit.data.dataset import Dataset
from cnnkit.data.datasets import MNIST, FashionMNIST

__all__ = ["Scenes", "collate_scenes", "scene_classes", "SCENE_CLASSES", "OBJECTS"]

# The classes of the default scenes (``objects="mnist"``): the digit names.
SCENE_CLASSES = list(MNIST.classes)
OBJECTS = ("mnist", "fashion-mnist")
SPLITS = ("train", "val", "test")
_SOURCE_SETS = {"mnist": MNIST, "fashion-mnist": FashionMNIST}
_PLACEMENT_TRIES = 20
_FOOTPRINT_THRESHOLD = 0.5
# A Fashion-MNIST pixel of at least this grey level (of 255) is part of the item. The
# background is 0 up to a little compression noise; 13 (0.05) keeps that out and every
# strap of a sandal in.
_SILHOUETTE_LEVEL = 13
# Fashion items keep their shading, lifted by this much so dark clothes stay visible.
_SHADE_LIFT = 0.5


def scene_classes(objects: str = "mnist") -> list[str]:
    """The class names of scenes of ``objects`` (``"mnist"`` or ``"fashion-mnist"``).

    Example:
        >>> scene_classes("fashion-mnist")[9]
        'Ankle boot'
    """
    _check_objects(objects)
    return list(_SOURCE_SETS[objects].classes)


def _check_objects(objects: str) -> None:
    if objects not in OBJECTS:
        raise ValueError(f"objects must be one of {OBJECTS}, got {objects!r}")


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


def _silhouettes(images: np.ndarray) -> np.ndarray:
    """Filled silhouettes of uint8 images ``(N, H, W)`` (``W <= 30``): bool ``(N, H, W)``.

    A pixel is in the silhouette unless it is dark (below ``_SILHOUETTE_LEVEL``) and joined to
    the image border by a 4-connected path of dark pixels: the bright pixels plus every hole
    they enclose (what ``scipy.ndimage.binary_fill_holes`` gives).
    """
    count, height, width = images.shape
    # Dark pixels with a dark frame around each image, from which the outside grows. Each
    # row is packed into one 32-bit integer (bit j = column j), so one growth step of all
    # images is a few shifts and ORs over (N, H + 2) integers, not (N, H + 2, W + 2) booleans.
    dark = np.pad(
        images < _SILHOUETTE_LEVEL, ((0, 0), (1, 1), (1, 31 - width)), constant_values=True
    )
    dark_rows = np.packbits(dark, axis=-1, bitorder="little").view("<u4")[..., 0]
    outside = dark_rows & np.uint32(1)
    outside[:, [0, -1]] = dark_rows[:, [0, -1]]
    while True:
        grown = outside | (outside << np.uint32(1)) | (outside >> np.uint32(1))
        grown[:, 1:] |= outside[:, :-1]
        grown[:, :-1] |= outside[:, 1:]
        grown &= dark_rows
        if np.array_equal(grown, outside):
            break
        outside = grown
    bits = np.unpackbits(outside[..., None].view(np.uint8), axis=-1, bitorder="little")
    return bits[:, 1:-1, 1 : width + 1] == 0


class _Sources(NamedTuple):
    """The object images of one split: uint8 ``(N, 28, 28)``, labels ``(N,)``, and for
    Fashion-MNIST the filled silhouettes, bool ``(N, 28, 28)`` (``None`` for MNIST)."""

    images: np.ndarray
    labels: np.ndarray
    silhouettes: np.ndarray | None


@functools.lru_cache(maxsize=8)
def _split_sources(
    objects: str, split: str, root: str | os.PathLike[str] | None = None
) -> _Sources:
    """The source objects of ``split`` (cached: a training run generates scenes every epoch)."""
    try:
        source_set = _SOURCE_SETS[objects](root, train=split == "train")
    except FileNotFoundError as error:
        raise FileNotFoundError(f"Scenes(objects={objects!r}) needs its files: {error}") from None
    images, labels = source_set.data[:, 0], np.asarray(source_set.targets)
    if split != "train":
        half = len(labels) // 2
        part = slice(0, half) if split == "val" else slice(half, None)
        images, labels = images[part], labels[part]
    silhouettes = _silhouettes(images) if objects == "fashion-mnist" else None
    for array in (images, labels, silhouettes):
        if array is not None:
            array.flags.writeable = False
    return _Sources(images, labels, silhouettes)


def _object_layers(
    sources: _Sources, index: int, matrix: np.ndarray, ink: float
) -> tuple[np.ndarray, np.ndarray | float]:
    """The alpha and colour of source ``index`` resized by ``matrix`` (module docstring)."""
    # Bilinear weights are convex, so the intensity stays in [0, 1].
    intensity = matrix @ (sources.images[index] / np.float32(255.0)) @ matrix.T
    if sources.silhouettes is None:
        return intensity, ink
    alpha = matrix @ sources.silhouettes[index].astype(np.float32) @ matrix.T
    # Inside the silhouette the float32 weights can sum to one ulp over 1.
    np.minimum(alpha, 1, out=alpha)
    return alpha, np.float32(ink) * (np.float32(_SHADE_LIFT) + (1 - _SHADE_LIFT) * intensity)


class Scenes(Dataset):
    """Scenes of pasted MNIST digits or Fashion-MNIST items for detection and segmentation.

    See the module docstring for how objects are drawn and the rules of the ground truth.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"`` (disjoint source images).
        num_scenes: how many scenes.
        size: canvas side in pixels.
        max_objects: at most this many objects per scene (at least one).
        scale_range: ``(low, high)`` side of a pasted object in pixels, drawn uniformly
            (inclusive).
        min_visible: the fraction of its footprint every object keeps visible.
        seed: the seed; with ``split`` and ``objects`` it determines every scene.
        transform: applied to each image, float32 ``(1, size, size)`` in [0, 1].
        objects: ``"mnist"`` (the bundled digits) or ``"fashion-mnist"`` (needs Zalando's
            files: ``apt-get install dataset-fashion-mnist``, see ``FashionMNIST``).
        root: directory of the source set's IDX files, as for ``MNIST`` / ``FashionMNIST``
            (``None``: the bundled MNIST digits, or Fashion-MNIST's usual places).

    Attributes:
        classes: the ``10`` class names (``scene_classes(objects)``).
        images: float32 ``(num_scenes, 1, size, size)``.
        semantic: int64 ``(num_scenes, size, size)``, 0 = background, ``1 + class``.
        instances: int64 ``(num_scenes, size, size)``, 0 = background, ``k + 1``.
        boxes: float32 ``(num_scenes, max_objects, 4)`` xyxy, rows past ``counts`` are zero.
        labels: int64 ``(num_scenes, max_objects)``, ``-1`` past ``counts``.
        counts: int64 ``(num_scenes,)``, objects per scene.
        footprint_areas: int64 ``(num_scenes, max_objects)``, pixels of each whole footprint
            (before occlusion; the visible area is at least ``min_visible`` of it).
        placements: int64 ``(num_scenes, max_objects, 4)``, for each object the index of its
            source image in the split's part of the source set, then ``y``, ``x`` (top left)
            and the drawn side; ``-1`` past ``counts``.

    Raises:
        ValueError: an argument is out of range (the message names it).
        FileNotFoundError: ``objects="fashion-mnist"`` and the files are nowhere to be found;
            the message says how to get them.

    Example:
        >>> scenes = Scenes("val", num_scenes=4, seed=1)
        >>> image, target = scenes[0]
        >>> image.shape, target["masks"].shape[1:]
        ((1, 64, 64), (64, 64))
        >>> Scenes("val", num_scenes=4, objects="fashion-mnist").classes[0]
        'T-shirt/top'
    """

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
        objects: str = "mnist",
        root: str | os.PathLike[str] | None = None,
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
        _check_objects(objects)
        self.split, self.size, self.max_objects = split, size, max_objects
        self.objects, self.classes = objects, scene_classes(objects)
        self.transform = transform
        sources = _split_sources(objects, split, root)
        # MNIST scenes keep the seed sequence they had before Fashion-MNIST came, so they
        # (and the models trained on them) stay the same; other objects get their own stream.
        streams = [seed, SPLITS.index(split)]
        if objects != "mnist":
            streams.append(OBJECTS.index(objects))
        rng = np.random.default_rng(streams)
        self.images = np.empty((num_scenes, 1, size, size), dtype=np.float32)
        self.instances = np.zeros((num_scenes, size, size), dtype=np.int64)
        self.boxes = np.zeros((num_scenes, max_objects, 4), dtype=np.float32)
        self.labels = np.full((num_scenes, max_objects), -1, dtype=np.int64)
        self.counts = np.zeros(num_scenes, dtype=np.int64)
        self.footprint_areas = np.zeros((num_scenes, max_objects), dtype=np.int64)
        self.placements = np.full((num_scenes, max_objects, 4), -1, dtype=np.int64)
        self.images[:, 0] = _backgrounds(rng, num_scenes, size)
        resize = {side: _resize_matrix(28, side) for side in range(low, high + 1)}
        for index in range(num_scenes):
            wanted = int(rng.integers(1, max_objects + 1))
            choice = rng.integers(len(sources.labels), size=wanted)
            sides = rng.integers(low, high + 1, size=wanted)
            inks = rng.uniform(0.75, 1.0, size=wanted)
            owner = self.instances[index]
            footprints: list[int] = []
            visible = np.zeros(0, dtype=np.int64)
            for source, side, ink in zip(choice, sides, inks, strict=True):
                alpha, colour = _object_layers(sources, source, resize[int(side)], ink)
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
                canvas += alpha * colour
                window[footprint] = k + 1
                self.labels[index, k] = sources.labels[source]
                self.placements[index, k] = (source, y, x, side)
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
            ``boxes`` float32 ``(K, 4)`` xyxy, ``labels`` int64 ``(K,)`` (class indices 0-9),
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
