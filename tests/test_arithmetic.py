"""The convolution arithmetic of Dumoulin & Visin, checked against the real operations.

Every relationship (1-15) of "A guide to convolution arithmetic for deep learning" is written
here in the paper's own form and checked on the paper's examples (and a few more sizes that
meet its conditions) against ``cnnkit.arithmetic`` and the output shapes of the real ops.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, event, given
from hypothesis import strategies as st
from tests.helpers import assert_close

import cnnkit
import cnnkit.nn.functional as F
from cnnkit.arithmetic import (
    conv_matrix,
    conv_output_size,
    conv_transpose_output_size,
    pool_output_size,
    receptive_field,
    transposed_as_convolution,
    transposed_output_padding,
)


def conv_output_shape(i: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Output size of the real conv2d (cnnkit's, and torch's: they must agree) on an (i, i + 1)
    input (the width checks a second axis)."""
    x, w = np.zeros((1, 1, i, i + 1), np.float32), np.zeros((1, 1, k, k), np.float32)
    ours = F.conv2d(cnnkit.Tensor(x), cnnkit.Tensor(w), stride=s, padding=p, dilation=d).shape
    theirs = TF.conv2d(torch.tensor(x), torch.tensor(w), stride=s, padding=p, dilation=d).shape
    assert ours == tuple(theirs)
    assert ours[3] == conv_output_size(i + 1, k, s, p, d)
    return ours[2]


def conv_transpose_output_shape(i: int, k: int, s: int, p: int, a: int, d: int = 1) -> int:
    x, w = np.zeros((1, 1, i, i), np.float32), np.zeros((1, 1, k, k), np.float32)
    options = {"stride": s, "padding": p, "output_padding": a, "dilation": d}
    ours = F.conv_transpose2d(cnnkit.Tensor(x), cnnkit.Tensor(w), **options).shape
    assert ours == tuple(TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), **options).shape)
    return ours[2]


# (relationship, its formula as the paper writes it, examples (i, k, s, p, d, paper's o or None))
DIRECT_RELATIONSHIPS = [
    (
        1,
        lambda i, k, s, p, d: (i - k) + 1,
        [(4, 3, 1, 0, 1, 2), (5, 3, 1, 0, 1, 3), (7, 2, 1, 0, 1, None)],
    ),
    (2, lambda i, k, s, p, d: (i - k) + 2 * p + 1, [(5, 4, 1, 2, 1, 6), (6, 3, 1, 1, 1, None)]),
    (
        3,
        lambda i, k, s, p, d: i,
        [(5, 3, 1, 1, 1, 5), (6, 5, 1, 2, 1, None), (4, 7, 1, 3, 1, None)],
    ),
    (4, lambda i, k, s, p, d: i + (k - 1), [(5, 3, 1, 2, 1, 7), (3, 4, 1, 3, 1, None)]),
    (
        5,
        lambda i, k, s, p, d: (i - k) // s + 1,
        [(5, 3, 2, 0, 1, 2), (6, 3, 2, 0, 1, None), (9, 2, 3, 0, 1, None)],
    ),
    (
        6,
        lambda i, k, s, p, d: (i + 2 * p - k) // s + 1,
        [(5, 3, 2, 1, 1, 3), (6, 3, 2, 1, 1, 3), (7, 4, 3, 2, 1, None)],
    ),
    (
        15,
        lambda i, k, s, p, d: (i + 2 * p - k - (k - 1) * (d - 1)) // s + 1,
        [(7, 3, 1, 0, 2, 3), (9, 3, 2, 1, 3, None), (8, 2, 1, 2, 4, None)],
    ),
]


@pytest.mark.parametrize(
    ("number", "formula", "example"),
    [(n, f, e) for n, f, examples in DIRECT_RELATIONSHIPS for e in examples],
    ids=[f"rel{n}-{e[:5]}" for n, _, examples in DIRECT_RELATIONSHIPS for e in examples],
)
def test_direct_relationship(number, formula, example):
    i, k, s, p, d, paper_output = example
    expected = formula(i, k, s, p, d)
    if paper_output is not None:
        assert expected == paper_output, f"relationship {number} disagrees with the paper figure"
    assert conv_output_size(i, k, s, p, d) == expected
    assert conv_output_shape(i, k, s, p, d) == expected


@pytest.mark.parametrize(
    ("i", "k", "s", "paper_output"), [(5, 3, 1, 3), (6, 2, 2, 3), (7, 3, 2, 3), (8, 3, 3, 2)]
)
def test_relationship_7_pooling(i, k, s, paper_output):
    expected = (i - k) // s + 1
    assert expected == paper_output
    assert pool_output_size(i, k, s) == expected
    x = np.zeros((1, 1, i, i), np.float32)
    assert F.max_pool2d(cnnkit.Tensor(x), k, s).shape[2] == expected
    assert F.avg_pool2d(cnnkit.Tensor(x), k, s).shape[2] == expected
    assert TF.max_pool2d(torch.tensor(x), k, s).shape[2] == expected
    assert TF.avg_pool2d(torch.tensor(x), k, s).shape[2] == expected


# Transposed relationships: the direct convolution (i, k, s, p) whose transpose is described,
# the paper's o', and the paper's equivalent-convolution padding p' and stretched size i~'.
TRANSPOSED_RELATIONSHIPS = [
    # number, o' = f(i', k, s, p, a), [(i, k, s, p)], p' = g(k, p)
    (8, lambda i_, k, s, p, a: i_ + (k - 1), [(4, 3, 1, 0), (6, 2, 1, 0)], lambda k, p: k - 1),
    (
        9,
        lambda i_, k, s, p, a: i_ + (k - 1) - 2 * p,
        [(5, 4, 1, 2), (6, 3, 1, 1)],
        lambda k, p: k - p - 1,
    ),
    (10, lambda i_, k, s, p, a: i_, [(5, 3, 1, 1), (7, 5, 1, 2)], lambda k, p: p),
    (11, lambda i_, k, s, p, a: i_ - (k - 1), [(5, 3, 1, 2), (4, 4, 1, 3)], lambda k, p: 0),
    (12, lambda i_, k, s, p, a: s * (i_ - 1) + k, [(5, 3, 2, 0), (7, 4, 3, 0)], lambda k, p: k - 1),
    (
        13,
        lambda i_, k, s, p, a: s * (i_ - 1) + k - 2 * p,
        [(5, 3, 2, 1), (8, 4, 2, 1)],
        lambda k, p: k - p - 1,
    ),
    (
        14,
        lambda i_, k, s, p, a: s * (i_ - 1) + a + k - 2 * p,
        [(6, 3, 2, 1), (8, 3, 3, 1), (7, 4, 2, 2)],
        lambda k, p: k - p - 1,
    ),
]


@pytest.mark.parametrize(
    ("number", "formula", "example", "equivalent_padding"),
    [(n, f, e, g) for n, f, examples, g in TRANSPOSED_RELATIONSHIPS for e in examples],
    ids=[f"rel{n}-{e}" for n, _, examples, _ in TRANSPOSED_RELATIONSHIPS for e in examples],
)
def test_transposed_relationship(number, formula, example, equivalent_padding):
    i, k, s, p = example
    i_transposed = conv_output_size(i, k, s, p)
    a = transposed_output_padding(i, k, s, p)
    assert a == (i + 2 * p - k) % s  # the paper's a
    if number < 14:
        assert a == 0, "relationships 8-13 assume s divides i + 2p - k"
    expected = formula(i_transposed, k, s, p, a)
    assert expected == i, "the transpose must recover the direct convolution's input size"
    assert conv_transpose_output_size(i_transposed, k, s, p, a) == expected
    assert conv_transpose_output_shape(i_transposed, k, s, p, a) == expected
    equivalent = transposed_as_convolution(i_transposed, k, s, p, a)
    assert equivalent.padding_before == equivalent_padding(k, p)
    assert equivalent.padding_after == equivalent_padding(k, p) + a  # a zeros bottom/right
    assert equivalent.stretched_size == i_transposed + (s - 1) * (i_transposed - 1)
    assert equivalent.output_size == expected


@pytest.mark.parametrize(
    ("name", "i", "k", "s", "p", "stretched", "equivalent_padding"),
    [
        # The figure captions' equivalent convolutions (i~' and p').
        ("no_padding_strides_transposed", 5, 3, 2, 0, 3, 2),
        ("padding_strides_transposed", 5, 3, 2, 1, 5, 1),
        ("padding_strides_odd_transposed", 6, 3, 2, 1, 5, 1),
        ("arbitrary_padding_no_strides_transposed", 5, 4, 1, 2, 6, 1),
        ("full_padding_no_strides_transposed", 5, 3, 1, 2, 7, 0),
    ],
)
def test_paper_figure_equivalent_convolutions(name, i, k, s, p, stretched, equivalent_padding):
    equivalent = transposed_as_convolution(
        conv_output_size(i, k, s, p), k, s, p, transposed_output_padding(i, k, s, p)
    )
    assert (equivalent.stretched_size, equivalent.padding_before) == (stretched, equivalent_padding)


def stretched_convolution(
    y: np.ndarray, weight: np.ndarray, stride, padding, output_padding, dilation
):
    """conv_transpose2d computed the paper's way: stretch, pad, direct conv with flipped kernel."""
    rows, cols = (
        transposed_as_convolution(size, k, s, p, a, d)
        for size, k, s, p, a, d in zip(
            y.shape[2:], weight.shape[2:], stride, padding, output_padding, dilation, strict=True
        )
    )
    canvas = np.zeros(y.shape[:2] + (rows.canvas_size, cols.canvas_size))
    row_at, col_at = rows.input_positions(), cols.input_positions()
    keep_rows = (row_at >= 0) & (row_at < rows.canvas_size)  # a negative padding crops
    keep_cols = (col_at >= 0) & (col_at < cols.canvas_size)
    canvas[:, :, row_at[keep_rows, None], col_at[None, keep_cols]] = y[:, :, keep_rows][
        ..., keep_cols
    ]
    flipped = np.flip(weight, (2, 3)).swapaxes(0, 1)  # (in, out) -> (out, in)
    return TF.conv2d(torch.tensor(canvas), torch.tensor(flipped.copy()), dilation=dilation).numpy()


@given(
    size=st.tuples(st.integers(1, 5), st.integers(1, 5)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    data=st.data(),
)
def test_transposed_convolution_is_the_papers_direct_convolution(
    size, kernel, stride, padding, dilation, data
):
    output_padding = tuple(
        data.draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True)
    )
    sizes = [
        conv_transpose_output_size(*args)
        for args in zip(size, kernel, stride, padding, output_padding, dilation, strict=True)
    ]
    assume(min(sizes) > 0)
    rng = np.random.default_rng(0)
    y = rng.standard_normal((1, 2, *size))
    weight = rng.standard_normal((2, 3, *kernel))
    expected = TF.conv_transpose2d(
        torch.tensor(y),
        torch.tensor(weight),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
    ).numpy()
    actual = stretched_convolution(y, weight, stride, padding, output_padding, dilation)
    assert_close(actual, expected, 1e-10)
    ours = F.conv_transpose2d(
        cnnkit.Tensor(y),
        cnnkit.Tensor(weight),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
    )
    assert_close(ours.numpy(), actual, 1e-10)


# ---- convolution as a matrix -------------------------------------------------------------------


def test_conv_matrix_is_the_papers_matrix():
    # Section 4.1: i = 4, k = 3, s = 1, p = 0; entry n stands for w_{n // 3, n % 3}, "-" for 0.
    paper = """
        0 1 2 - 3 4 5 - 6 7 8 - - - - -
        - 0 1 2 - 3 4 5 - 6 7 8 - - - -
        - - - - 0 1 2 - 3 4 5 - 6 7 8 -
        - - - - - 0 1 2 - 3 4 5 - 6 7 8
    """
    weight = np.arange(1.0, 10.0).reshape(3, 3)  # w_{a,b} = 3a + b + 1, so none is zero
    expected = np.array(
        [
            [0.0 if cell == "-" else int(cell) + 1.0 for cell in row.split()]
            for row in paper.split("\n")
            if row.strip()
        ]
    )
    assert np.array_equal(conv_matrix((4, 4), weight).toarray(), expected)


@given(
    channels=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    size=st.tuples(st.integers(1, 7), st.integers(1, 7)),
    kernel=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
)
def test_conv_matrix_multiplies_like_conv2d_and_its_transpose_like_conv_transpose2d(
    channels, size, kernel, stride, padding, dilation
):
    out_size = [
        conv_output_size(*a) for a in zip(size, kernel, stride, padding, dilation, strict=True)
    ]
    assume(min(out_size) > 0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((channels[0], *size))
    weight = rng.standard_normal((channels[1], channels[0], *kernel))
    C = conv_matrix(x.shape, weight, stride, padding, dilation)
    options = {"stride": stride, "padding": padding, "dilation": dilation}
    y = TF.conv2d(torch.tensor(x[None]), torch.tensor(weight), **options).numpy()[0]
    ours = F.conv2d(cnnkit.Tensor(x[None]), cnnkit.Tensor(weight), **options).numpy()[0]
    assert_close(C @ x.ravel(), ours.ravel(), 1e-12)
    assert C.shape == (y.size, x.size)
    assert_close(C @ x.ravel(), y.ravel(), 1e-12)
    assert_close(C.toarray() @ x.ravel(), y.ravel(), 1e-12)

    upstream = rng.standard_normal(y.shape)
    a = tuple(
        transposed_output_padding(*args)
        for args in zip(size, kernel, stride, padding, dilation, strict=True)
    )
    transposed = TF.conv_transpose2d(
        torch.tensor(upstream[None]), torch.tensor(weight), output_padding=a, **options
    )
    assert_close(C.T @ upstream.ravel(), transposed.numpy().ravel(), 1e-12)
    ours = F.conv_transpose2d(
        cnnkit.Tensor(upstream[None]), cnnkit.Tensor(weight), output_padding=a, **options
    )
    assert_close(C.T @ upstream.ravel(), ours.numpy().ravel(), 1e-12)
    # Several columns at once: C @ X for X of shape (C_in*H*W, n).
    columns = rng.standard_normal((x.size, 3))
    assert_close(C @ columns, C.toarray() @ columns, 1e-12)


def test_conv_matrix_accepts_a_tensor_weight_and_is_sparse():
    weight = cnnkit.Tensor(np.ones((4, 2, 3, 3), dtype=np.float32))
    C = conv_matrix((2, 10, 10), weight, padding=1)
    assert C.shape == (4 * 100, 2 * 100)
    # Interior outputs see all 18 weights; border ones lose the padded ones.
    assert C.nnz == 4 * 2 * (8 * 8 * 9 + 4 * 8 * 6 + 4 * 4)
    assert C.values.dtype == np.float32


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"stride": 0}, ValueError, "stride must be positive"),
        ({"dilation": (1, 0)}, ValueError, "dilation must be positive"),
        ({"padding": -1}, ValueError, "padding must be non-negative"),
        ({"stride": 1.5}, TypeError, "stride"),
        ({"padding": (1, 2, 3)}, TypeError, "padding"),
        ({"input_shape": (2, 5, 5)}, ValueError, "channels"),
        ({"input_shape": (1, 2, 2)}, ValueError, "output size"),
        ({"input_shape": (5, 5, 5, 5)}, ValueError, "input_shape"),
    ],
)
def test_conv_matrix_errors(kwargs, error, match):
    arguments = {"input_shape": (1, 5, 5), "weight": np.ones((1, 1, 3, 3))} | kwargs
    with pytest.raises(error, match=match):
        conv_matrix(**arguments)


def test_sparse_matrix_rejects_a_mismatched_operand():
    with pytest.raises(ValueError, match="does not match"):
        conv_matrix((4, 4), np.ones((3, 3))) @ np.ones(15)


# ---- receptive field -----------------------------------------------------------------------------


def positive_weights(model, framework: str):
    """Weights in [0.01, 0.1] and zero biases, in float64: no gradient path cancels, dies in a
    ReLU or vanishes in a saturated tanh."""
    rng = np.random.default_rng(0)
    for name, parameter in model.named_parameters():
        shape = tuple(parameter.shape)
        values = np.zeros(shape) if name.endswith("bias") else 0.01 + 0.09 * rng.random(shape)
        if framework == "torch":
            with torch.no_grad():
                parameter.copy_(torch.tensor(values))
        else:
            parameter.data[...] = values
    return model.double().eval()  # BatchNorm with its running statistics: a positive scaling


def measured_field(model, framework: str, input_shape, row: int, col: int, out_shape):
    """Rows and columns (first, last) of the input region that output (row, col) depends on.

    The gradient of a one-hot output is back-propagated through the real model; over a batch of
    random positive inputs, so that every element of a max-pooling window is the maximum for
    some sample.
    """
    x = 0.5 + np.random.default_rng(0).random((32, *input_shape[1:]))
    inputs = (torch.tensor if framework == "torch" else cnnkit.Tensor)(x, requires_grad=True)
    out = model(inputs)
    assert tuple(out.shape[2:]) == out_shape
    upstream = np.zeros(tuple(out.shape))
    upstream[:, 0, row, col] = 1.0
    out.backward(torch.tensor(upstream) if framework == "torch" else upstream)
    grad = inputs.grad.numpy() if framework == "torch" else inputs.grad
    touched = np.abs(grad).sum(axis=(0, 1)) > 0
    rows, cols = np.nonzero(touched.any(axis=1))[0], np.nonzero(touched.any(axis=0))[0]
    if rows.size == 0:  # every tap of the (dilated) window fell into padding
        return None
    return (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))


def build_models(nn):
    """Models (from ``torch.nn`` or ``cnnkit.nn``) and input sizes where no layer's floor
    division drops a bottom row or right column (those pixels lie in the arithmetic's receptive
    field but the network never reads them, so back-propagation cannot see them)."""
    return [
        (
            nn.Sequential(
                nn.Conv2d(2, 3, 3, padding=1),
                nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(3, 3, 3, stride=2),
                nn.BatchNorm2d(3),
                nn.ReLU(),
                nn.Conv2d(3, 2, 3, dilation=2, padding=2),
                nn.AvgPool2d(3, stride=2, padding=1),
            ),
            (1, 2, 38, 30),
        ),
        (
            nn.Sequential(
                nn.Conv2d(1, 2, (5, 3), stride=(2, 1), padding=(2, 0)),
                nn.LeakyReLU(),
                nn.Sequential(nn.Conv2d(2, 2, 2, padding="same"), nn.Tanh()),
                nn.MaxPool2d(3, stride=1, dilation=2, ceil_mode=True),
                nn.Dropout(),
                nn.Conv2d(2, 2, 4, stride=3),
            ),
            (1, 1, 27, 31),
        ),
        (nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), (1, 1, 9, 9)),
        (nn.AvgPool2d(2, stride=2, ceil_mode=True), (1, 1, 7, 7)),
    ]


FRAMEWORKS = {"torch": torch.nn, "cnnkit": cnnkit.nn}


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
@pytest.mark.parametrize("which", range(4))
def test_receptive_field_matches_back_propagation(framework, which):
    model, input_shape = build_models(FRAMEWORKS[framework])[which]
    model = positive_weights(model, framework)
    last = receptive_field(model, input_shape)[-1]
    height, width = last.output_size
    for row, col in {(0, 0), (height // 2, width // 2), (height - 1, width - 1), (0, width - 1)}:
        # The arithmetic's field, less what lies in the padding.
        expected = tuple(
            (max(0, int(first)), min(limit - 1, int(final)))
            for (first, final), limit in zip(last.field_of(row, col), input_shape[2:], strict=True)
        )
        measured = measured_field(model, framework, input_shape, row, col, last.output_size)
        assert measured == expected, (row, col)


@st.composite
def exactly_fitting_chains(draw):
    """A random stack of Conv2d/AvgPool2d/ReLU layers and an input size that every layer
    divides exactly (built backwards from the output), so no pixel goes unread."""
    layers, size = [], draw(st.integers(1, 3))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["conv", "avg"]))
        kernel, stride = draw(st.integers(1, 4)), draw(st.integers(1, 3))
        dilation = draw(st.integers(1, 3)) if kind == "conv" else 1
        reach = dilation * (kernel - 1)
        padding = draw(st.integers(0, reach if kind == "conv" else kernel // 2))
        size = (size - 1) * stride + reach + 1 - 2 * padding
        if size < 1:
            break
        layers.append((kind, kernel, stride, padding, dilation))
    layers.reverse()
    assume(layers and size >= 1)
    return layers, size


@given(exactly_fitting_chains())
def test_receptive_field_of_random_stacks_matches_back_propagation(chain):
    layers, size = chain
    nn = torch.nn
    modules = []
    for kind, kernel, stride, padding, dilation in layers:
        if kind == "conv":
            modules += [nn.Conv2d(1, 1, kernel, stride, padding, dilation), nn.ReLU()]
        else:
            modules.append(nn.AvgPool2d(kernel, stride, padding))
    model = positive_weights(nn.Sequential(*modules), "torch")
    input_shape = (1, 1, size, size + 1)
    last = receptive_field(model, input_shape)[-1]
    inside = 0
    for row, col in np.ndindex(*last.output_size):
        field = last.field_of(row, col)
        measured = measured_field(model, "torch", input_shape, row, col, last.output_size)
        if all(
            first >= 0 and final <= limit - 1
            for (first, final), limit in zip(field, input_shape[2:], strict=True)
        ):
            # Inside the image the field is exact: its extreme taps are real pixels.
            assert measured == tuple((int(a), int(b)) for a, b in field), (row, col)
            inside += 1
        elif measured is not None:
            # At the border part of it is padding (and, dilated, may skip the edge pixels).
            for (first, final), (a, b) in zip(measured, field, strict=True):
                assert a <= first <= final <= b, (row, col)
    event(f"outputs with the field inside the image: {'some' if inside else 'none'}")


def test_receptive_field_records_every_layer():
    nn = torch.nn
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 4, 3), nn.MaxPool2d(2))
    fields = receptive_field(model, (1, 1, 28, 28))
    assert [f.name for f in fields] == ["0", "1", "2", "3"]
    assert [f.layer for f in fields] == ["Conv2d", "ReLU", "Conv2d", "MaxPool2d"]
    # Two stacked 3x3 convolutions see a 5x5 patch, as one 5x5 would (Simonyan & Zisserman).
    assert fields[2].size == (5, 5)
    assert fields[2].output_size == (24, 24)
    assert fields[3].jump == (2, 2)
    assert fields[3].output_size == (12, 12)
    table = str(fields)
    assert table.splitlines()[0].split() == [
        "layer",
        "type",
        "kernel",
        "stride",
        "pad",
        "dil",
        "output",
        "rf",
        "jump",
        "start",
    ]
    assert "MaxPool2d" in table.splitlines()[-1]


@pytest.mark.parametrize(
    ("layer", "match"),
    [
        (torch.nn.Linear(4, 4), "unsupported layer 1 \\(Linear\\)"),
        (torch.nn.Flatten(), "Flatten"),
        (torch.nn.ConvTranspose2d(1, 1, 3), "ConvTranspose2d"),
        (torch.nn.AdaptiveAvgPool2d(1), "AdaptiveAvgPool2d"),
    ],
)
def test_receptive_field_rejects_unsupported_layers(layer, match):
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3), layer)
    with pytest.raises(TypeError, match=match):
        receptive_field(model, (1, 1, 8, 8))


def test_receptive_field_errors_on_empty_output_and_bad_input_shape():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 1, 3), torch.nn.MaxPool2d(4))
    with pytest.raises(ValueError, match="layer 1 \\(MaxPool2d\\) would output size \\(0, 0\\)"):
        receptive_field(model, (1, 1, 5, 5))
    with pytest.raises(ValueError, match="input_shape"):
        receptive_field(model, (1, 1, 0, 5))
    with pytest.raises(ValueError, match="input_shape"):
        receptive_field(model, (5,))
