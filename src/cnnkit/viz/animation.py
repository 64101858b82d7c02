"""Animated GIFs of (transposed) convolutions, drawn as in Dumoulin & Visin's guide.

Blue cells are the input, white dashed cells zero padding (and, for a transposed convolution,
the zeros inserted between input elements), the dark shade is the kernel footprint, moving one
output element per frame, and the cyan grid is the output filling in. A transposed convolution
is drawn the way the paper explains it: as the stride-1 direct convolution over the stretched,
padded input (:func:`cnnkit.arithmetic.transposed_as_convolution`).

Where everything is drawn comes from :func:`plan_convolution`, which uses the same index
arithmetic as the real operation (tested against ``F.unfold`` and ``F.conv_transpose2d``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from cnnkit.arithmetic.shapes import conv_output_size, conv_transpose_output_size
from cnnkit.arithmetic.transposed import transposed_as_convolution, transposed_output_padding

__all__ = [
    "GALLERY",
    "ConvolutionAnimation",
    "ConvolutionPlan",
    "animate_convolution",
    "plan_convolution",
    "write_gallery",
]

# Kinds of cell in the grid the kernel slides over.
PADDING, INPUT, INSERTED_ZERO = 0, 1, 2

# The paper's eight direct convolutions (bin/generate_makefile of vdumoulin/conv_arithmetic);
# each also has a "<name>_transposed" counterpart, the transpose of the same convolution.
GALLERY: dict[str, dict[str, int]] = {
    "no_padding_no_strides": {"input_size": 4, "kernel_size": 3},
    "arbitrary_padding_no_strides": {"input_size": 5, "kernel_size": 4, "padding": 2},
    "same_padding_no_strides": {"input_size": 5, "kernel_size": 3, "padding": 1},
    "full_padding_no_strides": {"input_size": 5, "kernel_size": 3, "padding": 2},
    "no_padding_strides": {"input_size": 5, "kernel_size": 3, "stride": 2},
    "padding_strides": {"input_size": 5, "kernel_size": 3, "stride": 2, "padding": 1},
    "padding_strides_odd": {"input_size": 6, "kernel_size": 3, "stride": 2, "padding": 1},
    "dilation": {"input_size": 7, "kernel_size": 3, "dilation": 2},
}


def _pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, bool) or not isinstance(value, int | np.integer | tuple | list):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    pair = (value, value) if isinstance(value, int | np.integer) else tuple(value)
    if len(pair) != 2 or any(
        isinstance(v, bool) or not isinstance(v, int | np.integer) for v in pair
    ):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if any(v < minimum for v in pair):
        raise ValueError(
            f"{name} must be {'positive' if minimum else 'non-negative'}, got {value!r}"
        )
    return int(pair[0]), int(pair[1])


@dataclass(frozen=True)
class ConvolutionPlan:
    """What an animation shows, computed with the operation's own index arithmetic.

    Attributes:
        input_shape, output_shape, kernel_size, stride, padding, dilation, output_padding:
            ``(h, w)`` of the convolution (``transposed``: of ``conv_transpose2d``).
        cells: ``(H, W)`` kinds of the grid the kernel slides over: ``PADDING``, ``INPUT`` or
            ``INSERTED_ZERO`` (the padded input; for ``transposed``, stretched and padded).
        input_index: ``(H, W)`` flat index ``row * input_w + col`` of the input element at each
            grid cell, -1 where the cell is a zero.
        step: grid cells the footprint moves between neighbouring outputs (the stride; 1 for
            ``transposed``, whose equivalent direct convolution has stride 1).
    """

    transposed: bool
    input_shape: tuple[int, int]
    output_shape: tuple[int, int]
    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    output_padding: tuple[int, int]
    cells: np.ndarray
    input_index: np.ndarray
    step: tuple[int, int]

    @property
    def num_frames(self) -> int:
        """One frame per output element."""
        return self.output_shape[0] * self.output_shape[1]

    def output_position(self, frame: int) -> tuple[int, int]:
        """The (row, col) of the output element computed at ``frame`` (row-major order)."""
        if not 0 <= frame < self.num_frames:
            raise ValueError(f"frame must be in [0, {self.num_frames}), got {frame}")
        return divmod(frame, self.output_shape[1])

    def footprint(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Grid rows ``(kh,)`` and columns ``(kw,)`` of the kernel taps at ``frame``."""
        row, col = self.output_position(frame)
        rows = row * self.step[0] + self.dilation[0] * np.arange(self.kernel_size[0])
        cols = col * self.step[1] + self.dilation[1] * np.arange(self.kernel_size[1])
        return rows, cols

    def inputs_under_footprint(self, frame: int) -> set[int]:
        """Flat indices of the input elements the kernel multiplies at ``frame``."""
        rows, cols = self.footprint(frame)
        covered = self.input_index[np.ix_(rows, cols)]
        return {int(index) for index in covered.ravel() if index >= 0}


def _axis_layout(
    size: int,
    kernel: int,
    stride: int,
    padding: int,
    dilation: int,
    output_padding: int,
    transposed: bool,
) -> tuple[int, np.ndarray, tuple[int, int], int]:
    """(grid size, grid position of each input element, stretched range, footprint step)."""
    if not transposed:
        return size + 2 * padding, padding + np.arange(size), (padding, padding + size), stride
    geometry = transposed_as_convolution(size, kernel, stride, padding, output_padding, dilation)
    begin = geometry.padding_before
    return (
        geometry.canvas_size,
        geometry.input_positions(),
        (begin, begin + geometry.stretched_size),
        1,
    )


def plan_convolution(
    input_size: int | tuple[int, int],
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    transposed: bool = False,
    output_padding: int | tuple[int, int] = 0,
) -> ConvolutionPlan:
    """Lay out the animation of ``conv2d`` (or ``conv_transpose2d`` with ``transposed``).

    Arguments are those of the operation, per axis an int or an ``(h, w)`` pair; for
    ``transposed``, ``input_size`` is the transposed convolution's own input.

    Raises:
        TypeError, ValueError: for non-integer or out-of-range arguments, an ``output_padding``
            not smaller than the stride or dilation (or given without ``transposed``), and an
            empty output; messages name the argument.
    """
    sizes = _pair(input_size, "input_size", 1)
    kernel = _pair(kernel_size, "kernel_size", 1)
    strides = _pair(stride, "stride", 1)
    paddings = _pair(padding, "padding", 0)
    dilations = _pair(dilation, "dilation", 1)
    extra = _pair(output_padding, "output_padding", 0)
    if not transposed and extra != (0, 0):
        raise ValueError(f"output_padding={output_padding!r} needs transposed=True")
    if any(a >= s and a >= d for a, s, d in zip(extra, strides, dilations, strict=True)):
        raise ValueError(
            f"output_padding must be smaller than either stride or dilation, got "
            f"output_padding={output_padding!r}, stride={stride!r}, dilation={dilation!r}"
        )
    axes = zip(sizes, kernel, strides, paddings, dilations, extra, strict=True)
    if transposed:
        output = tuple(conv_transpose_output_size(i, k, s, p, a, d) for i, k, s, p, d, a in axes)
    else:
        output = tuple(conv_output_size(i, k, s, p, d) for i, k, s, p, d, _ in axes)
    if min(output) <= 0:
        raise ValueError(
            f"output size {output} is not positive for input_size={input_size!r}, "
            f"kernel_size={kernel_size!r}, stride={stride!r}, padding={padding!r}, "
            f"dilation={dilation!r}"
        )

    layouts = [
        _axis_layout(*axis, transposed)
        for axis in zip(sizes, kernel, strides, paddings, dilations, extra, strict=True)
    ]
    (height, row_of, row_span, row_step), (width, col_of, col_span, col_step) = layouts
    cells = np.full((height, width), PADDING, dtype=np.int8)
    cells[max(row_span[0], 0) : row_span[1], max(col_span[0], 0) : col_span[1]] = INSERTED_ZERO
    input_index = np.full((height, width), -1, dtype=np.int64)
    visible_rows = np.nonzero((row_of >= 0) & (row_of < height))[0]
    visible_cols = np.nonzero((col_of >= 0) & (col_of < width))[0]
    grid = np.ix_(row_of[visible_rows], col_of[visible_cols])
    cells[grid] = INPUT
    input_index[grid] = visible_rows[:, None] * sizes[1] + visible_cols[None, :]
    return ConvolutionPlan(
        transposed=transposed,
        input_shape=sizes,
        output_shape=output,  # type: ignore[arg-type]
        kernel_size=kernel,
        stride=strides,
        padding=paddings,
        dilation=dilations,
        output_padding=extra,
        cells=cells,
        input_index=input_index,
        step=(row_step, col_step),
    )


# Colours of the paper's figures (Solarized): base03 lines, blue input, cyan output, and the
# kernel's shade, base02 at 40% opacity over whatever it covers.
WHITE = (255, 255, 255)
LINE = (0, 43, 54)
FAINT = (147, 161, 161)
BLUE = (38, 139, 210)
CYAN = (42, 161, 152)
SHADE_COLOUR, SHADE_OPACITY = (7, 54, 66), 0.4


def shaded(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """``colour`` under the kernel's shade."""
    return tuple(  # type: ignore[return-value]
        round((1 - SHADE_OPACITY) * c + SHADE_OPACITY * s)
        for c, s in zip(colour, SHADE_COLOUR, strict=True)
    )


PALETTE = [WHITE, LINE, FAINT, BLUE, CYAN, shaded(WHITE), shaded(BLUE), shaded(CYAN)]


class ConvolutionAnimation:
    """Renders the frames of a :class:`ConvolutionPlan`: the grid left, the output right.

    Args:
        plan: from :func:`plan_convolution`.
        cell_size: side of one cell in pixels.
    """

    def __init__(self, plan: ConvolutionPlan, cell_size: int = 24) -> None:
        if cell_size < 8:
            raise ValueError(f"cell_size must be at least 8 pixels, got {cell_size}")
        self.plan = plan
        self.cell = cell_size
        self.font = ImageFont.load_default(size=max(10, cell_size // 2))
        self.title, self.grid_label, self.output_label = self._labels()
        text_height = self.cell
        grid_h, grid_w = plan.cells.shape
        out_h, out_w = plan.output_shape
        self.grid_origin = (self.cell, self.cell + text_height)
        grids_height = max(grid_h, out_h) * self.cell
        self.output_origin = (
            self.grid_origin[0] + (grid_w + 2) * self.cell,
            self.grid_origin[1] + (grid_h - out_h) * self.cell // 2,
        )
        width = max(
            self.output_origin[0] + max(out_w * self.cell, self._text_width(self.output_label)),
            self.grid_origin[0] + self._text_width(self.grid_label) + self.cell,
            self.cell + self._text_width(self.title),
        )
        self.size = (width + self.cell, self.grid_origin[1] + grids_height + 2 * text_height)

    def _labels(self) -> tuple[str, str, str]:
        plan = self.plan

        def show(pair: tuple[int, int]) -> str:
            return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"

        settings = (
            f"kernel {show(plan.kernel_size)}, stride {show(plan.stride)}, "
            f"padding {show(plan.padding)}"
        )
        if plan.dilation != (1, 1):
            settings += f", dilation {show(plan.dilation)}"
        if plan.output_padding != (0, 0):
            settings += f", output_padding {show(plan.output_padding)}"
        input_text = f"input {plan.input_shape[0]}x{plan.input_shape[1]}"
        output_text = f"output {plan.output_shape[0]}x{plan.output_shape[1]}"
        if plan.transposed:
            inserted = " with zeros inserted" if plan.stride != (1, 1) else ""
            grid_text = f"{input_text}{inserted}, padded"
            return f"conv_transpose2d: {settings}", grid_text, output_text
        return f"conv2d: {settings}", input_text, output_text

    def _text_width(self, text: str) -> int:
        return int(self.font.getbbox(text)[2])

    def cell_box(self, grid: str, row: int, col: int) -> tuple[int, int, int, int]:
        """Pixel box ``(left, top, right, bottom)`` of a cell of the ``"input"`` grid (the
        padded input the kernel slides over) or the ``"output"`` grid."""
        if grid not in ("input", "output"):
            raise ValueError(f"grid must be 'input' or 'output', got {grid!r}")
        x0, y0 = self.grid_origin if grid == "input" else self.output_origin
        left, top = x0 + col * self.cell, y0 + row * self.cell
        return left, top, left + self.cell, top + self.cell

    def cell_center(self, grid: str, row: int, col: int) -> tuple[int, int]:
        """Pixel at the centre of a cell (see :meth:`cell_box`)."""
        left, top, right, bottom = self.cell_box(grid, row, col)
        return (left + right) // 2, (top + bottom) // 2

    def _dashed_square(self, draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
        left, top, right, bottom = box
        dash = max(2, self.cell // 8)
        for start in range(0, self.cell, 2 * dash):
            end = min(start + dash, self.cell)
            draw.line([(left + start, top), (left + end, top)], fill=PALETTE.index(FAINT))
            draw.line([(left + start, bottom), (left + end, bottom)], fill=PALETTE.index(FAINT))
            draw.line([(left, top + start), (left, top + end)], fill=PALETTE.index(FAINT))
            draw.line([(right, top + start), (right, top + end)], fill=PALETTE.index(FAINT))

    def _grid_cell(self, draw: ImageDraw.ImageDraw, row: int, col: int, under: bool) -> None:
        """One cell of the input grid, shaded when the kernel is on it."""
        is_input = self.plan.cells[row, col] == INPUT
        colour = BLUE if is_input else WHITE
        box = self.cell_box("input", row, col)
        draw.rectangle(box, fill=PALETTE.index(shaded(colour) if under else colour))
        if is_input:
            draw.rectangle(box, outline=PALETTE.index(LINE))
        else:
            self._dashed_square(draw, box)

    def _output_cell(
        self, draw: ImageDraw.ImageDraw, order: int, colour: tuple[int, int, int]
    ) -> None:
        """Output element ``order`` (row-major): white (to come), cyan (done) or shaded (now)."""
        box = self.cell_box("output", *divmod(order, self.plan.output_shape[1]))
        outline = FAINT if colour == WHITE else LINE
        draw.rectangle(box, fill=PALETTE.index(colour), outline=PALETTE.index(outline))

    def _background(self) -> Image.Image:
        """Everything that no frame changes: the grid, an empty output, the labels."""
        plan = self.plan
        image = Image.new("P", self.size, PALETTE.index(WHITE))
        image.putpalette([channel for colour in PALETTE for channel in colour])
        draw = ImageDraw.Draw(image)
        for row, col in np.ndindex(*plan.cells.shape):
            self._grid_cell(draw, row, col, under=False)
        for order in range(plan.num_frames):
            self._output_cell(draw, order, WHITE)
        ink = PALETTE.index(LINE)
        draw.text((self.cell, self.cell // 4), self.title, fill=ink, font=self.font)
        label_y = self.grid_origin[1] + plan.cells.shape[0] * self.cell + self.cell // 3
        draw.text((self.grid_origin[0], label_y), self.grid_label, fill=ink, font=self.font)
        out_label_y = self.output_origin[1] + plan.output_shape[0] * self.cell + self.cell // 3
        draw.text((self.output_origin[0], out_label_y), self.output_label, fill=ink, font=self.font)
        return image

    def _draw_step(self, image: Image.Image, index: int) -> Image.Image:
        """Add what frame ``index`` shows on top of the finished outputs: kernel and output."""
        draw = ImageDraw.Draw(image)
        rows, cols = self.plan.footprint(index)
        for row in rows:
            for col in cols:
                self._grid_cell(draw, row, col, under=True)
        for row in rows:  # outlined after all taps are shaded, so no neighbour covers them
            for col in cols:
                draw.rectangle(
                    self.cell_box("input", row, col), outline=PALETTE.index(LINE), width=2
                )
        self._output_cell(draw, index, shaded(CYAN))
        box = self.cell_box("output", *self.plan.output_position(index))
        draw.rectangle(box, outline=PALETTE.index(LINE), width=2)
        return image

    def frame(self, index: int) -> Image.Image:
        """Frame ``index`` (output element ``index`` in row-major order), a palette image."""
        self.plan.output_position(index)  # checks the range
        image = self._background()
        draw = ImageDraw.Draw(image)
        for order in range(index):
            self._output_cell(draw, order, CYAN)
        return self._draw_step(image, index)

    def frames(self, progress: bool = False) -> Iterator[Image.Image]:
        """All frames in order; each is drawn from the previous one's finished outputs."""
        finished = self._background()
        draw = ImageDraw.Draw(finished)
        for index in tqdm(
            range(self.plan.num_frames), desc="frames", disable=not progress, leave=False
        ):
            yield self._draw_step(finished.copy(), index)
            self._output_cell(draw, index, CYAN)

    def save(self, path: str | Path, duration_ms: int = 600, progress: bool | None = None) -> Path:
        """Write the animated GIF (looping forever) to ``path``.

        ``progress``: show a progress bar; by default only for more than 200 frames.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if progress is None:
            progress = self.plan.num_frames > 200
        first, *rest = self.frames(progress)
        first.save(
            path, save_all=True, append_images=rest, duration=duration_ms, loop=0, optimize=True
        )
        return path


def animate_convolution(
    input_size: int | tuple[int, int],
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    transposed: bool = False,
    output_padding: int | tuple[int, int] = 0,
    path: str | Path = "convolution.gif",
    cell_size: int = 24,
    duration_ms: int = 600,
) -> Path:
    """Write an animated GIF of ``conv2d`` (or ``conv_transpose2d``) with these arguments.

    Args:
        input_size: spatial size of the input, an int or ``(h, w)`` (for ``transposed``, the
            transposed convolution's own input).
        kernel_size, stride, padding, dilation, output_padding: as in ``F.conv2d`` /
            ``F.conv_transpose2d`` (``output_padding`` only with ``transposed``).
        transposed: draw ``conv_transpose2d`` as the paper does, as a direct convolution over
            the input with ``stride - 1`` zeros inserted between elements, padded.
        path: where to write the GIF. cell_size: pixels per cell. duration_ms: per frame.

    Returns:
        The path written. The GIF has one frame per output element.

    Example:
        >>> animate_convolution(5, 3, stride=2, padding=1, path="padding_strides.gif")
        PosixPath('padding_strides.gif')
    """
    plan = plan_convolution(
        input_size, kernel_size, stride, padding, dilation, transposed, output_padding
    )
    return ConvolutionAnimation(plan, cell_size).save(path, duration_ms)


def write_gallery(directory: str | Path, cell_size: int = 24) -> list[Path]:
    """Write the paper's 16 animations (:data:`GALLERY` and their transposes) to ``directory``.

    The transpose of a convolution from input size ``i`` takes its output size and uses
    ``output_padding = (i + 2p - d(k-1) - 1) mod s`` (the paper's ``a``) to give back ``i``.
    """
    written = []
    for name, settings in GALLERY.items():
        written.append(
            animate_convolution(
                **settings, path=Path(directory) / f"{name}.gif", cell_size=cell_size
            )
        )
        direct = {"stride": 1, "padding": 0, "dilation": 1} | settings
        arguments = [
            direct[key] for key in ("input_size", "kernel_size", "stride", "padding", "dilation")
        ]
        transposed = {
            **direct,
            "input_size": conv_output_size(*arguments),
            "output_padding": transposed_output_padding(*arguments),
        }
        written.append(
            animate_convolution(
                **transposed,
                transposed=True,
                cell_size=cell_size,
                path=Path(directory) / f"{name}_transposed.gif",
            )
        )
    return written
