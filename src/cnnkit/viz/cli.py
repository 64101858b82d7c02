"""Subcommands of the ``cnnkit`` command line for this package: animate, arithmetic, features."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cnnkit.viz.animation import ConvolutionPlan


def size_pair(text: str) -> int | tuple[int, int]:
    """``"5"`` -> 5, ``"5x7"`` or ``"5,7"`` -> (5, 7)."""
    parts = text.replace("x", ",").split(",")
    try:
        values = [int(part) for part in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or HxW, got {text!r}") from None
    if len(values) == 1:
        return values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise argparse.ArgumentTypeError(f"expected N or HxW, got {text!r}")


def _add_geometry(parser: argparse.ArgumentParser, input_required: bool) -> None:
    parser.add_argument(
        "--input",
        type=size_pair,
        required=input_required,
        metavar="N|HxW",
        help="input size (of the transposed convolution itself with --transposed)",
    )
    parser.add_argument("--kernel", type=size_pair, default=3, metavar="K|KHxKW")
    parser.add_argument("--stride", type=size_pair, default=1, metavar="S|SHxSW")
    parser.add_argument("--padding", type=size_pair, default=0, metavar="P|PHxPW")
    parser.add_argument("--dilation", type=size_pair, default=1, metavar="D|DHxDW")
    parser.add_argument("--transposed", action="store_true", help="conv_transpose2d")
    parser.add_argument(
        "--output-padding",
        type=size_pair,
        default=0,
        metavar="A|AHxAW",
        help="conv_transpose2d's output_padding (the paper's a)",
    )


def run_animate(args: argparse.Namespace) -> int:
    from cnnkit.viz.animation import animate_convolution, write_gallery

    try:
        if args.gallery is not None:
            paths = write_gallery(args.gallery, cell_size=args.cell_size)
            print(f"wrote {len(paths)} animations to {args.gallery}")
            return 0
        path = animate_convolution(
            args.input,
            args.kernel,
            args.stride,
            args.padding,
            args.dilation,
            args.transposed,
            args.output_padding,
            path=args.output,
            cell_size=args.cell_size,
            duration_ms=args.duration,
        )
    except (TypeError, ValueError) as error:
        print(f"cnnkit animate: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


def run_arithmetic(args: argparse.Namespace) -> int:
    from cnnkit.viz.animation import plan_convolution

    if args.model is not None:
        return print_model_fields(args.model, args.input)
    try:
        plan = plan_convolution(
            args.input,
            args.kernel,
            args.stride,
            args.padding,
            args.dilation,
            args.transposed,
            args.output_padding,
        )
    except (TypeError, ValueError) as error:
        print(f"cnnkit arithmetic: error: {error}", file=sys.stderr)
        return 2
    print(describe(plan))
    return 0


def print_model_fields(name: str, input_size: int | tuple[int, int]) -> int:
    """Print the receptive-field table of a named model's convolutional part."""
    from cnnkit.arithmetic import receptive_field
    from cnnkit.models import get_model

    size = (input_size, input_size) if isinstance(input_size, int) else input_size
    try:
        model = get_model(name)
        front = getattr(model, "features", model)
        print(receptive_field(front, (1, 1, *size)))
    except (TypeError, ValueError) as error:
        print(f"cnnkit arithmetic: error: {error}", file=sys.stderr)
        return 2
    return 0


def describe(plan: ConvolutionPlan) -> str:
    """Lines of arithmetic about a :class:`~cnnkit.viz.animation.ConvolutionPlan`."""
    from cnnkit.arithmetic import (
        effective_kernel_size,
        transposed_as_convolution,
        transposed_output_padding,
    )

    def show(pair: tuple[int, ...]) -> str:
        return "x".join(str(v) for v in pair)

    name = "conv_transpose2d" if plan.transposed else "conv2d"
    effective = tuple(
        effective_kernel_size(k, d) for k, d in zip(plan.kernel_size, plan.dilation, strict=True)
    )
    lines = [
        f"{name}: input {show(plan.input_shape)} -> output {show(plan.output_shape)}",
        f"  kernel {show(plan.kernel_size)} (effective {show(effective)} with dilation "
        f"{show(plan.dilation)}), stride {show(plan.stride)}, padding {show(plan.padding)}",
    ]
    if plan.transposed:
        axes = [
            transposed_as_convolution(*axis)
            for axis in zip(
                plan.input_shape,
                plan.kernel_size,
                plan.stride,
                plan.padding,
                plan.output_padding,
                plan.dilation,
                strict=True,
            )
        ]
        lines.append(
            "  = conv2d, stride 1, flipped kernel, over the input stretched to "
            f"{show(tuple(a.stretched_size for a in axes))} ({show(plan.stride)} - 1 zeros "
            f"between elements), padded {show(tuple(a.padding_before for a in axes))} before "
            f"and {show(tuple(a.padding_after for a in axes))} after"
        )
    else:
        a = tuple(
            transposed_output_padding(*axis)
            for axis in zip(
                plan.input_shape,
                plan.kernel_size,
                plan.stride,
                plan.padding,
                plan.dilation,
                strict=True,
            )
        )
        lines += [
            f"  each output sees a {show(effective)} input patch; neighbours are "
            f"{show(plan.stride)} apart",
            f"  its transpose maps {show(plan.output_shape)} back to {show(plan.input_shape)} "
            f"with output_padding {show(a)}",
        ]
    return "\n".join(lines)


def run_features(args: argparse.Namespace) -> int:
    from cnnkit.training.checkpoint import CheckpointError
    from cnnkit.training.predict import ImageFileError, load_picture, prepare_picture
    from cnnkit.training.trainer import RunError, load_run
    from cnnkit.viz.plots import plot_feature_maps, plot_kernels

    try:
        _, model, spec = load_run(args.run_dir)
        # The picture goes through prediction's own preprocessing: framed like the data set's
        # images, then normalised as in training.
        batch = prepare_picture(load_picture(args.image), spec)[None]
        for transform in spec.normalization():
            batch = transform(batch)
        kernels = plot_kernels(model, args.output / "kernels.png")
        maps = plot_feature_maps(
            model,
            batch[0],
            args.output / "feature_maps.png",
            max_stages=args.stages,
            max_channels=args.channels,
        )
    except (RunError, CheckpointError, ImageFileError, TypeError, ValueError) as error:
        print(f"cnnkit features: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {kernels} and {maps}")
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Register this package's subcommands; each sets ``func(args) -> int``."""
    animate = subparsers.add_parser(
        "animate",
        help="animated GIF of a convolution (or the paper's gallery)",
        description="Draw a convolution as Dumoulin & Visin do: blue input, white padding, "
        "shaded kernel, cyan output. --gallery DIR writes the paper's 16 animations.",
    )
    _add_geometry(animate, input_required=False)
    animate.add_argument("-o", "--output", type=Path, default=Path("convolution.gif"))
    animate.add_argument("--gallery", type=Path, metavar="DIR", help="write the 16 paper cases")
    animate.add_argument("--cell-size", type=int, default=24, help="pixels per cell")
    animate.add_argument("--duration", type=int, default=600, help="milliseconds per frame")
    animate.set_defaults(func=_animate_or_usage(animate))

    arithmetic = subparsers.add_parser(
        "arithmetic",
        help="output size and receptive field of a convolution or a model",
        description="Print the convolution arithmetic of one (transposed) convolution, or with "
        "--model the receptive field of every layer of a model's convolutional part.",
    )
    _add_geometry(arithmetic, input_required=True)
    arithmetic.add_argument("--model", help="a model name (lenet5, vgg-small, ...)")

    features = subparsers.add_parser(
        "features",
        help="what a trained CNN's first layers detect: kernels and feature maps (PNG)",
        description="Draw the first convolution's kernels and the feature maps of the first "
        "stages for one image, from a run directory written by 'cnnkit train'.",
    )
    features.add_argument("run_dir", type=Path, help="run directory of 'cnnkit train'")
    features.add_argument("image", type=Path, help="an image file (any format Pillow reads)")
    features.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path("features"),
        help="directory for kernels.png and feature_maps.png",
    )
    features.add_argument("--stages", type=int, default=3, help="convolution stages to draw")
    features.add_argument("--channels", type=int, default=16, help="channels per stage")
    features.set_defaults(func=run_features)
    arithmetic.set_defaults(func=run_arithmetic)


def _animate_or_usage(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if args.gallery is None and args.input is None:
            parser.error("one of --input or --gallery is required")
        return run_animate(args)

    return run
