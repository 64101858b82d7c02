"""The pictures: convolution animations checked against the real operations' index arithmetic."""

from __future__ import annotations

import shlex

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import event, given
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from tests.helpers import assert_close

import cnnkit
import cnnkit.nn.functional as F
from cnnkit.cli import main
from cnnkit.viz.animation import (
    BLUE,
    CYAN,
    GALLERY,
    INPUT,
    INSERTED_ZERO,
    PADDING,
    WHITE,
    ConvolutionAnimation,
    animate_convolution,
    plan_convolution,
    shaded,
)
from cnnkit.viz.plots import (
    GAP,
    GRID_LINE,
    diverging,
    feature_maps,
    plot_feature_maps,
    plot_kernels,
)

pairs = st.tuples


def index_coded(shape: tuple[int, int]) -> torch.Tensor:
    """An input whose element at flat index n holds n + 1 (so no element is zero)."""
    return torch.arange(1, shape[0] * shape[1] + 1, dtype=torch.float64).reshape(1, 1, *shape)


def unfold_columns(x: torch.Tensor, **options) -> list[set[int]]:
    """For each column (output element) of F.unfold, the flat indices of the non-zero inputs.

    cnnkit's unfold and torch's must give the same columns.
    """
    columns = F.unfold(cnnkit.Tensor(x.numpy()), **options).numpy()[0]
    np.testing.assert_array_equal(columns, TF.unfold(x, **options)[0].numpy())
    return [{int(v) - 1 for v in column if v != 0} for column in columns.T]


@given(
    size=pairs(st.integers(1, 8), st.integers(1, 8)),
    kernel=pairs(st.integers(1, 4), st.integers(1, 4)),
    stride=pairs(st.integers(1, 3), st.integers(1, 3)),
    padding=pairs(st.integers(0, 3), st.integers(0, 3)),
    dilation=pairs(st.integers(1, 2), st.integers(1, 3)),
)
def test_direct_footprint_matches_unfold(size, kernel, stride, padding, dilation):
    try:
        plan = plan_convolution(size, kernel, stride, padding, dilation)
    except ValueError:
        event("empty output")
        # The operations agree that the output would be empty.
        with pytest.raises(ValueError, match="input too small"):
            F.unfold(cnnkit.Tensor(index_coded(size).numpy()), kernel, dilation, padding, stride)
        with pytest.raises(RuntimeError):
            TF.unfold(index_coded(size), kernel, dilation, padding, stride)
        return
    columns = unfold_columns(
        index_coded(size), kernel_size=kernel, dilation=dilation, padding=padding, stride=stride
    )
    assert plan.num_frames == len(columns)
    for frame, expected in enumerate(columns):
        assert plan.inputs_under_footprint(frame) == expected, frame
    assert plan.cells.shape == (size[0] + 2 * padding[0], size[1] + 2 * padding[1])
    assert np.count_nonzero(plan.cells == INPUT) == size[0] * size[1]


@given(
    size=pairs(st.integers(1, 5), st.integers(1, 5)),
    kernel=pairs(st.integers(1, 4), st.integers(1, 4)),
    stride=pairs(st.integers(1, 3), st.integers(1, 3)),
    dilation=pairs(st.integers(1, 2), st.integers(1, 2)),
    data=st.data(),
)
def test_transposed_footprint_matches_conv_transpose2d(size, kernel, stride, dilation, data):
    output_padding = tuple(
        data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True)
    )
    # Any padding that leaves a non-empty output (too much is tested in test_bad_arguments).
    padding = tuple(
        data.draw(st.integers(0, ((i - 1) * s + d * (k - 1) + a) // 2))
        for i, k, s, d, a in zip(size, kernel, stride, dilation, output_padding, strict=True)
    )
    options = {"stride": stride, "padding": padding, "dilation": dilation}
    plan = plan_convolution(size, kernel, transposed=True, output_padding=output_padding, **options)
    if any(p > d * (k - 1) for p, d, k in zip(padding, dilation, kernel, strict=True)):
        event("padding crops the stretched input")
    # Column j of the operation's Jacobian: which outputs input element j reaches.
    one_hot = torch.eye(size[0] * size[1], dtype=torch.float64).reshape(-1, 1, *size)
    reached = TF.conv_transpose2d(
        one_hot,
        torch.ones(1, 1, *kernel, dtype=torch.float64),
        output_padding=output_padding,
        **options,
    )
    assert tuple(reached.shape[2:]) == plan.output_shape
    ours = F.conv_transpose2d(
        cnnkit.Tensor(one_hot.numpy()),
        cnnkit.Tensor(np.ones((1, 1, *kernel))),
        output_padding=output_padding,
        **options,
    )
    np.testing.assert_allclose(ours.numpy(), reached.numpy(), atol=1e-12)
    jacobian = reached.reshape(len(one_hot), -1) != 0  # (input element, output element)
    for frame in range(plan.num_frames):
        expected = set(np.nonzero(jacobian[:, frame].numpy())[0].tolist())
        assert plan.inputs_under_footprint(frame) == expected, frame
    # The grid is the paper's direct convolution (stride 1): unfold over it gives the frames.
    grid = torch.tensor(plan.input_index + 1, dtype=torch.float64)[None, None]
    columns = unfold_columns(grid, kernel_size=kernel, dilation=dilation)
    assert [plan.inputs_under_footprint(frame) for frame in range(plan.num_frames)] == columns


def test_transposed_grid_is_the_stretched_padded_input():
    # padding_strides_odd transposed: i' = 3, k = 3, s = 2, p = 1, a = 1.
    plan = plan_convolution(3, 3, stride=2, padding=1, transposed=True, output_padding=1)
    kinds = {PADDING: ".", INPUT: "X", INSERTED_ZERO: "o"}
    drawn = ["".join(kinds[kind] for kind in row) for row in plan.cells]
    assert drawn == [
        "........",
        ".XoXoX..",
        ".ooooo..",
        ".XoXoX..",
        ".ooooo..",
        ".XoXoX..",
        "........",
        "........",
    ]
    assert plan.output_shape == (6, 6)


def test_a_padding_larger_than_the_kernel_crops_the_stretched_input():
    plan = plan_convolution(4, 2, stride=2, padding=2, transposed=True)
    assert plan.output_shape == (4, 4)
    # 7 stretched elements, 1 cropped on each side: input rows/columns 0 and 3 never reach
    # the output (their taps land in the cropped border), only 1 and 2 are drawn.
    assert plan.cells.shape == (5, 5)
    assert sorted(set(plan.input_index[plan.input_index >= 0].tolist())) == [5, 6, 9, 10]
    assert plan.inputs_under_footprint(0) == {5}


def pixel(image: Image.Image, frame: int, xy: tuple[int, int]) -> tuple[int, int, int]:
    image.seek(frame)
    return image.convert("RGB").getpixel(xy)


def test_gif_frames_sizes_and_colours(tmp_path):
    path = animate_convolution(5, 3, stride=2, padding=1, path=tmp_path / "padding_strides.gif")
    animation = ConvolutionAnimation(plan_convolution(5, 3, stride=2, padding=1))
    with Image.open(path) as gif:
        assert gif.n_frames == 9
        assert gif.size == animation.size
        grid = lambda row, col: animation.cell_center("input", row, col)  # noqa: E731
        out = lambda row, col: animation.cell_center("output", row, col)  # noqa: E731
        # Frame 0: the kernel covers the top-left padded 3x3 corner.
        assert pixel(gif, 0, grid(0, 0)) == shaded(WHITE)
        assert pixel(gif, 0, grid(1, 1)) == shaded(BLUE)
        assert pixel(gif, 0, grid(2, 3)) == BLUE
        assert pixel(gif, 0, grid(0, 4)) == WHITE
        assert pixel(gif, 0, out(0, 0)) == shaded(CYAN)
        assert pixel(gif, 0, out(0, 1)) == WHITE
        # Frame 5 = output (1, 2): kernel rows 2-4, columns 4-6 of the padded grid.
        assert pixel(gif, 5, grid(2, 4)) == shaded(BLUE)
        assert pixel(gif, 5, grid(4, 6)) == shaded(WHITE)
        assert pixel(gif, 5, grid(1, 4)) == BLUE
        assert pixel(gif, 5, out(1, 1)) == CYAN
        assert pixel(gif, 5, out(1, 2)) == shaded(CYAN)
        assert pixel(gif, 5, out(2, 0)) == WHITE
        # Last frame: everything before it is filled in.
        assert pixel(gif, 8, out(0, 0)) == CYAN
        assert pixel(gif, 8, out(2, 2)) == shaded(CYAN)
        assert pixel(gif, 8, grid(6, 6)) == shaded(WHITE)
        assert pixel(gif, 8, grid(0, 0)) == WHITE


def test_transposed_gif_colours(tmp_path):
    path = tmp_path / "t.gif"
    animate_convolution(3, 3, stride=2, padding=1, transposed=True, output_padding=1, path=path)
    animation = ConvolutionAnimation(
        plan_convolution(3, 3, stride=2, padding=1, transposed=True, output_padding=1)
    )
    grid = lambda row, col: animation.cell_center("input", row, col)  # noqa: E731
    with Image.open(path) as gif:
        assert gif.n_frames == 36  # the paper: transposed frames = direct input size squared
        assert pixel(gif, 0, grid(1, 1)) == shaded(BLUE)  # input element (0, 0)
        assert pixel(gif, 0, grid(1, 2)) == shaded(WHITE)  # an inserted zero
        assert pixel(gif, 0, grid(3, 3)) == BLUE
        assert pixel(gif, 0, grid(2, 2)) == shaded(WHITE)
        assert pixel(gif, 0, grid(4, 4)) == WHITE
        assert pixel(gif, 35, grid(7, 7)) == shaded(WHITE)  # the a row and column


@pytest.mark.parametrize(
    "arguments",
    [
        {"input_size": 6, "kernel_size": 3, "stride": 2, "padding": 1},
        {
            "input_size": (2, 3),
            "kernel_size": 2,
            "stride": 2,
            "transposed": True,
            "output_padding": 1,
            "dilation": (1, 2),
        },
    ],
)
def test_incremental_frames_equal_frames_drawn_from_scratch(arguments):
    animation = ConvolutionAnimation(plan_convolution(**arguments))
    drawn = list(animation.frames())
    assert len(drawn) == animation.plan.num_frames
    for index, image in enumerate(drawn):
        assert np.array_equal(np.asarray(image), np.asarray(animation.frame(index))), index


def test_dilated_footprint_shades_only_the_taps(tmp_path):
    plan = plan_convolution(7, 3, dilation=2)
    animation = ConvolutionAnimation(plan)
    frame = animation.frame(0).convert("RGB")
    assert frame.getpixel(animation.cell_center("input", 0, 0)) == shaded(BLUE)
    assert frame.getpixel(animation.cell_center("input", 0, 1)) == BLUE
    assert frame.getpixel(animation.cell_center("input", 4, 2)) == shaded(BLUE)


def test_non_square_grids(tmp_path):
    plan = plan_convolution((4, 9), (3, 2), stride=(1, 3), padding=(0, 1))
    assert plan.output_shape == (2, 4)
    animation = ConvolutionAnimation(plan, cell_size=10)
    width, height = animation.size
    assert width > height
    path = animate_convolution(
        (4, 9), (3, 2), (1, 3), (0, 1), cell_size=10, path=tmp_path / "n.gif"
    )
    with Image.open(path) as gif:
        assert gif.n_frames == 8
        assert gif.size == animation.size


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kernel_size": 0}, ValueError, "kernel_size must be positive"),
        ({"stride": (1, 0)}, ValueError, "stride must be positive"),
        ({"dilation": -1}, ValueError, "dilation must be positive"),
        ({"padding": -1}, ValueError, "padding must be non-negative"),
        ({"input_size": 0}, ValueError, "input_size must be positive"),
        ({"input_size": 2}, ValueError, "output size \\(0, 0\\) is not positive"),
        ({"input_size": 2.5}, TypeError, "input_size must be an int"),
        ({"stride": (1, 2, 3)}, TypeError, "stride must be an int or a pair"),
        ({"padding": True}, TypeError, "padding"),
        ({"output_padding": 1}, ValueError, "needs transposed=True"),
        (
            {"transposed": True, "stride": 2, "output_padding": 2},
            ValueError,
            "output_padding must be smaller than either stride or dilation",
        ),
        (
            {"transposed": True, "input_size": 1, "padding": 2},
            ValueError,
            "output size \\(-1, -1\\) is not positive",
        ),
    ],
)
def test_bad_arguments(kwargs, error, match, tmp_path):
    arguments = {"input_size": 5, "kernel_size": 3} | kwargs
    with pytest.raises(error, match=match):
        animate_convolution(**arguments, path=tmp_path / "x.gif")
    assert not (tmp_path / "x.gif").exists()


def test_animation_helpers_reject_bad_arguments():
    plan = plan_convolution(4, 3)
    with pytest.raises(ValueError, match="frame must be in \\[0, 4\\), got 4"):
        plan.footprint(4)
    with pytest.raises(ValueError, match="grid must be 'input' or 'output'"):
        ConvolutionAnimation(plan).cell_box("kernel", 0, 0)
    with pytest.raises(ValueError, match="cell_size must be at least 8"):
        ConvolutionAnimation(plan, cell_size=4)


def test_gallery_has_the_papers_sixteen_animations(tmp_path):
    assert run_cli(f"animate --gallery {tmp_path} --cell-size 8") == 0
    assert sorted(p.name for p in tmp_path.glob("*.gif")) == sorted(
        [f"{name}.gif" for name in GALLERY] + [f"{name}_transposed.gif" for name in GALLERY]
    )
    # The paper's frame counts: output size squared, and for a transpose the direct input's.
    paper_output_sizes = {
        "no_padding_no_strides": 2,
        "arbitrary_padding_no_strides": 6,
        "same_padding_no_strides": 5,
        "full_padding_no_strides": 7,
        "no_padding_strides": 2,
        "padding_strides": 3,
        "padding_strides_odd": 3,
        "dilation": 3,
    }
    for name, settings in GALLERY.items():
        with Image.open(tmp_path / f"{name}.gif") as gif:
            assert gif.n_frames == paper_output_sizes[name] ** 2, name
        with Image.open(tmp_path / f"{name}_transposed.gif") as gif:
            assert gif.n_frames == settings["input_size"] ** 2, name


def run_cli(command: str) -> int:
    return main(shlex.split(command))


def test_cli_animate_and_arithmetic(tmp_path, capsys):
    out = tmp_path / "conv.gif"
    assert run_cli(f"animate --input 5 --kernel 3 --stride 2 --padding 1 -o {out}") == 0
    with Image.open(out) as gif:
        assert gif.n_frames == 9
    transposed = "--input 3x2 --kernel 2 --stride 2 --dilation 2 --transposed --output-padding 1"
    assert run_cli(f"animate {transposed} -o {out}") == 0
    with Image.open(out) as gif:
        assert gif.n_frames == 8 * 6  # (i'-1)s + d(k-1) + a + 1 per axis
    assert run_cli(f"animate --input 2 --kernel 3 -o {tmp_path / 'bad.gif'}") == 2
    assert "output size" in capsys.readouterr().err
    assert run_cli("arithmetic --input 6 --kernel 3 --stride 2 --padding 1") == 0
    printed = capsys.readouterr().out
    assert "input 6x6 -> output 3x3" in printed
    assert "output_padding 1x1" in printed
    assert (
        run_cli("arithmetic --input 3 --stride 2 --padding 1 --transposed --output-padding 1") == 0
    )
    assert "stretched to 5x5" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        run_cli("animate --input 5x")
    with pytest.raises(SystemExit):
        run_cli("animate")


# ---- kernels and feature maps --------------------------------------------------------------------


def grids(path) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """The page's pixels and the (left, top, right, bottom) box of each tile grid on it."""
    pixels = np.asarray(Image.open(path).convert("RGB"))
    is_line = np.all(pixels == GRID_LINE, axis=-1)
    rows = np.nonzero(is_line.any(axis=1))[0]
    boxes = []
    for run in np.split(rows, np.nonzero(np.diff(rows) > 1)[0] + 1):
        cols = np.nonzero(is_line[run[0] : run[-1] + 1].any(axis=0))[0]
        boxes.append((int(cols[0]), int(run[0]), int(cols[-1]) + 1, int(run[-1]) + 1))
    return pixels, boxes


def tile_pixel(pixels, box, tile_shape, row, col, y, x, scale):
    """Colour of element (y, x) of tile (row, col) in a grid drawn ``scale`` times enlarged."""
    height, width = tile_shape[0] * scale, tile_shape[1] * scale
    left = box[0] + GAP + col * (width + GAP) + x * scale + scale // 2
    top = box[1] + GAP + row * (height + GAP) + y * scale + scale // 2
    return tuple(int(v) for v in pixels[top, left])


def test_plot_kernels_draws_each_kernel_scaled_to_its_own_maximum(tmp_path):
    layer = torch.nn.Conv2d(2, 3, 2)
    weight = np.zeros((3, 2, 2, 2))
    weight[0, 0] = [[1.0, -1.0], [0.5, 0.0]]
    weight[2, 1] = [[0.0, 0.0], [0.0, -0.01]]  # tiny, still full blue in its own tile
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight))
    path = plot_kernels(torch.nn.Sequential(torch.nn.ReLU(), layer), tmp_path / "k.png", scale=6)
    pixels, boxes = grids(path)
    assert len(boxes) == 1
    box = boxes[0]
    assert (box[2] - box[0], box[3] - box[1]) == (2 * (12 + GAP) + GAP, 3 * (12 + GAP) + GAP)
    at = lambda *index: tile_pixel(pixels, box, (2, 2), *index, scale=6)  # noqa: E731
    assert at(0, 0, 0, 0) == tuple(diverging(np.array(1.0)))
    assert at(0, 0, 0, 0) == (220, 50, 47)
    assert at(0, 0, 0, 1) == (38, 139, 210)
    assert at(0, 0, 1, 1) == (255, 255, 255)
    assert at(0, 0, 1, 0) == tuple(diverging(np.array(0.5)))
    assert at(2, 1, 1, 1) == (38, 139, 210)
    assert at(1, 0, 0, 0) == (255, 255, 255)  # an all-zero kernel stays white


def test_plot_kernels_rgb_filters(tmp_path):
    layer = torch.nn.Conv2d(3, 5, 3)
    path = plot_kernels(layer, tmp_path / "rgb.png", scale=4)
    pixels, (box,) = grids(path)
    weight = layer.weight.detach().numpy()
    kernel = weight[4].transpose(1, 2, 0)  # tile 4: row 0, column 4
    expected = np.round(255 * (kernel - kernel.min()) / (kernel.max() - kernel.min()))
    for y, x in [(0, 0), (1, 2), (2, 1)]:
        assert tile_pixel(pixels, box, (3, 3), 0, 4, y, x, 4) == tuple(expected[y, x])


def test_plot_kernels_errors(tmp_path):
    with pytest.raises(TypeError, match="Linear is not a Conv2d and contains none"):
        plot_kernels(torch.nn.Linear(2, 2), tmp_path / "x.png")
    with pytest.raises(ValueError, match="scale"):
        plot_kernels(torch.nn.Conv2d(1, 1, 3), tmp_path / "x.png", scale=0)


def twin_of(model: cnnkit.nn.Sequential) -> torch.nn.Sequential:
    """The same layers in PyTorch, with the same weights."""
    layers = []
    for layer in model:
        kind = type(layer).__name__
        if kind == "Conv2d":
            twin = torch.nn.Conv2d(
                layer.in_channels,
                layer.out_channels,
                layer.kernel_size,
                layer.stride,
                layer.padding,
            )
            twin.load_state_dict(
                {k: torch.tensor(np.asarray(v)) for k, v in layer.state_dict().items()}
            )
        elif kind == "MaxPool2d":
            twin = torch.nn.MaxPool2d(layer.kernel_size)
        else:
            twin = getattr(torch.nn, kind)()
        layers.append(twin)
    return torch.nn.Sequential(*layers)


def test_feature_maps_are_the_outputs_of_the_first_stages():
    nn = cnnkit.nn
    model = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 3),
        nn.Tanh(),
        nn.Conv2d(4, 2, 3),
        nn.Flatten(),
    )
    image = np.random.default_rng(0).standard_normal((1, 12, 12)).astype(np.float32)
    stages = feature_maps(model, image, max_stages=5)
    assert [name for name, _ in stages] == [
        "0 Conv2d > 1 ReLU",
        "2 MaxPool2d",
        "3 Conv2d > 4 Tanh",
        "5 Conv2d",
    ]
    twin = twin_of(model)
    with torch.no_grad():
        reference = [twin[:2](torch.tensor(image[None])), twin[:3](torch.tensor(image[None]))]
        reference += [twin[:5](torch.tensor(image[None])), twin[:6](torch.tensor(image[None]))]
    for (_, maps), expected in zip(stages, reference, strict=True):
        assert_close(maps, expected[0].numpy(), 1e-5)
    assert len(feature_maps(model, image[None], max_stages=2)) == 2
    assert model.training  # the model's mode is restored


def test_feature_maps_of_a_model_class_and_errors():
    from cnnkit.models import LeNet5

    stages = feature_maps(LeNet5(), np.zeros((1, 28, 28), np.float32))
    assert [maps.shape for _, maps in stages] == [(6, 28, 28), (6, 14, 14), (16, 10, 10)]
    assert stages[0][0] == "features.0 Conv2d > features.1 ReLU"
    with pytest.raises(ValueError, match="image must be"):
        feature_maps(LeNet5(), np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(TypeError, match="does not start with a Conv2d"):
        feature_maps(cnnkit.nn.Sequential(cnnkit.nn.Flatten()), np.zeros((1, 4, 4)))


def test_plot_feature_maps_scales_each_tile_from_black_to_white(tmp_path):
    nn = cnnkit.nn
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.MaxPool2d(2))
    image = np.random.default_rng(1).standard_normal((1, 14, 14)).astype(np.float32)
    path = plot_feature_maps(model, image, tmp_path / "maps.png", max_channels=2)
    pixels, boxes = grids(path)
    assert len(boxes) == 2  # two stages
    maps = feature_maps(model, image)[0][1]
    box = boxes[0]
    enlarge = ((box[2] - box[0] - GAP) // 2 - GAP) // 12  # two 12x12 tiles in a row
    for channel in range(2):
        low = np.unravel_index(np.argmin(maps[channel]), maps[channel].shape)
        high = np.unravel_index(np.argmax(maps[channel]), maps[channel].shape)
        assert tile_pixel(pixels, box, (12, 12), 0, channel, *low, enlarge) == (0, 0, 0)
        assert tile_pixel(pixels, box, (12, 12), 0, channel, *high, enlarge) == (255, 255, 255)


def test_cli_features_and_model_arithmetic(tmp_path, capsys):
    run_dir = tmp_path / "run"
    tiny = (
        f"train --limit 32 --limit-test 16 --batch-size 32 --epochs 1 --no-progress --out {run_dir}"
    )
    assert run_cli(tiny) == 0
    picture = Image.new("L", (40, 40), 255)
    ImageDraw.Draw(picture).line([(10, 8), (30, 8), (18, 34)], fill=0, width=4)
    picture.save(tmp_path / "seven.png")
    out = tmp_path / "features"
    assert run_cli(f"features {run_dir} {tmp_path / 'seven.png'} -o {out} --stages 2") == 0
    with Image.open(out / "kernels.png") as kernels, Image.open(out / "feature_maps.png") as maps:
        assert kernels.size[0] > 0 and maps.size[0] > 0
    assert len(grids(out / "feature_maps.png")[1]) == 2
    assert run_cli(f"features {tmp_path} {tmp_path / 'seven.png'} -o {out}") == 2
    assert "not a cnnkit run directory" in capsys.readouterr().err
    assert run_cli(f"features {run_dir} {tmp_path / 'missing.png'} -o {out}") == 2
    assert "no such file" in capsys.readouterr().err

    assert run_cli("arithmetic --model lenet5 --input 28") == 0
    table = capsys.readouterr().out.splitlines()
    assert table[-1].split()[:2] == ["5", "MaxPool2d"]
    assert table[-1].split()[6:9] == ["5", "16", "4"]  # output 5x5, field 16, jump 4
    assert run_cli("arithmetic --model resnet20 --input 32") == 2
    assert "unsupported layer" in capsys.readouterr().err


def test_plot_kernels_single_channel_filters_fill_rows_of_eight(tmp_path):
    path = plot_kernels(cnnkit.nn.Conv2d(1, 10, 5), tmp_path / "k.png", scale=3)
    _, (box,) = grids(path)
    assert (box[2] - box[0], box[3] - box[1]) == (8 * (15 + GAP) + GAP, 2 * (15 + GAP) + GAP)
