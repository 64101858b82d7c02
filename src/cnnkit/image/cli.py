"""Subcommands of the ``cnnkit`` command line for this package: ``filter`` and ``corners``.

cnnkit filter IN.png --gaussian 2 -o OUT.png
cnnkit filter IN.png --gaussian 1 --sobel --normalize -o edges.png   (steps run in order)
cnnkit corners IN.png -o OUT.png --min-distance 5 --threshold-rel 0.02
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

# Each filter step: (flag, help, takes a value, needs a grayscale image).
_STEPS = {
    "gaussian": ("Gaussian blur with this sigma (pixels)", float, False),
    "sobel": ("Sobel edge magnitude", None, False),
    "scharr": ("Scharr edge magnitude", None, False),
    "prewitt": ("Prewitt edge magnitude", None, False),
    "laplace": ("discrete Laplacian", None, False),
    "gradient-magnitude": ("Gaussian gradient magnitude with this sigma", float, False),
    "canny": ("Canny edges with this sigma (default 1)", float, True),
}


class _AppendStep(argparse.Action):
    """Collect the filter flags in command-line order into ``namespace.steps``."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        steps = list(getattr(namespace, "steps", None) or [])
        steps.append((self.dest, values))
        namespace.steps = steps


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register this package's subcommands; each sets ``func(args) -> int``."""
    filter_parser = subparsers.add_parser(
        "filter",
        help="apply image filters (Gaussian, Sobel, Canny, ...) to an image file",
        description="Apply filters to an image, in the order given, and save the result.",
    )
    filter_parser.add_argument("input", help="input image (PNG, JPEG, ...)")
    filter_parser.add_argument("-o", "--output", required=True, help="output image path")
    for name, (text, value_type, _) in _STEPS.items():
        if name == "canny":
            filter_parser.add_argument(
                f"--{name}", dest=name, nargs="?", const=1.0, type=float, metavar="SIGMA",
                action=_AppendStep, help=text,
            )  # fmt: skip
        elif value_type is None:
            filter_parser.add_argument(
                f"--{name}", dest=name, nargs=0, action=_AppendStep, help=text
            )
        else:
            filter_parser.add_argument(
                f"--{name}", dest=name, type=value_type, metavar="SIGMA",
                action=_AppendStep, help=text,
            )  # fmt: skip
    filter_parser.add_argument(
        "--mode", default="reflect", choices=("reflect", "constant", "nearest", "mirror", "wrap"),
        help="boundary handling (scipy.ndimage names; default reflect)",
    )  # fmt: skip
    filter_parser.add_argument("--gray", action="store_true", help="convert to grayscale first")
    filter_parser.add_argument(
        "--normalize", action="store_true",
        help="stretch the result to [0, 1] before saving (useful for signed outputs)",
    )  # fmt: skip
    filter_parser.set_defaults(func=run_filter, steps=None)

    corners_parser = subparsers.add_parser(
        "corners",
        help="detect Harris corners and draw them in red",
        description="Detect Harris corners, print how many, save the image with red markers.",
    )
    corners_parser.add_argument("input", help="input image (PNG, JPEG, ...)")
    corners_parser.add_argument("-o", "--output", required=True, help="output image path")
    corners_parser.add_argument("--sigma", type=float, default=1.0, help="structure tensor sigma")
    corners_parser.add_argument("--k", type=float, default=0.05, help="Harris sensitivity k")
    corners_parser.add_argument("--min-distance", type=int, default=5, help="peak separation")
    corners_parser.add_argument(
        "--threshold-rel", type=float, default=0.02, help="threshold relative to the maximum"
    )
    corners_parser.add_argument("--num-peaks", type=int, default=None, help="at most this many")
    corners_parser.add_argument("--radius", type=int, default=3, help="marker radius in pixels")
    corners_parser.set_defaults(func=run_corners)


def _fail(command: str, error: Exception) -> int:
    print(f"cnnkit {command}: error: {error}", file=sys.stderr)
    return 1


def _apply(image: np.ndarray, step: str, value: Any, mode: str) -> np.ndarray:
    from cnnkit import image as ci

    if step == "gaussian":
        return ci.gaussian_filter(image, value, mode=mode)
    if step == "gradient-magnitude":
        return ci.gradient_magnitude(image, value, mode=mode)
    if step == "laplace":
        return ci.laplace(image, mode=mode)
    if step == "canny":
        return ci.canny(image, sigma=value).astype(np.float32)
    return getattr(ci, step)(image, mode=mode)


def run_filter(args: argparse.Namespace) -> int:
    from cnnkit.image.io import read, write

    steps = args.steps or []
    if not steps:
        return _fail("filter", ValueError("give at least one filter, e.g. --gaussian 2"))
    try:
        gray = args.gray or any(_STEPS[name][2] for name, _ in steps)
        image = read(args.input, gray=gray)
        for name, value in steps:
            image = _apply(image, name, value, args.mode)
        if args.normalize:
            low, high = float(image.min()), float(image.max())
            image = (image - low) / (high - low) if high > low else np.zeros_like(image)
        write(args.output, image)
    except (OSError, ValueError) as error:
        return _fail("filter", error)
    print(f"wrote {args.output} ({' -> '.join(name for name, _ in steps)})")
    return 0


def draw_markers(image: np.ndarray, points: np.ndarray, radius: int) -> np.ndarray:
    """An RGB copy of ``image`` with a red square outline around each (row, col) point."""
    canvas = np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3].copy()
    height, width = canvas.shape[:2]
    red = np.array([1.0, 0.0, 0.0], dtype=canvas.dtype)
    for row, col in points:
        top, bottom = max(row - radius, 0), min(row + radius, height - 1)
        left, right = max(col - radius, 0), min(col + radius, width - 1)
        canvas[top : bottom + 1, [left, right]] = red
        canvas[[top, bottom], left : right + 1] = red
    return canvas


def run_corners(args: argparse.Namespace) -> int:
    from cnnkit.image.features import harris_corners
    from cnnkit.image.io import read, write

    try:
        colour = read(args.input)
        gray = colour if colour.ndim == 2 else read(args.input, gray=True)
        corners = harris_corners(
            gray.astype(np.float64),
            k=args.k,
            sigma=args.sigma,
            min_distance=args.min_distance,
            threshold_rel=args.threshold_rel,
            num_peaks=np.inf if args.num_peaks is None else args.num_peaks,
        )
        write(args.output, draw_markers(colour, corners, args.radius))
    except (OSError, ValueError, TypeError) as error:
        return _fail("corners", error)
    print(f"{len(corners)} corners; wrote {args.output}")
    return 0
