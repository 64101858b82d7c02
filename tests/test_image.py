"""cnnkit.image against scipy.ndimage and scikit-image (values), torch and finite differences
(gradients), plus file I/O, the CLI and every error path.

Comparisons run in float64 at the engine's 1e-5 relative tolerance, except where noted: the
float32 checks use the same tolerance against scipy's float64 result.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage as ndi
import skimage.data
import skimage.feature
import skimage.filters
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image as PILImage
from tests.helpers import assert_close, check_against_torch, check_gradients

import cnnkit
import cnnkit.image as ci
from cnnkit.cli import main as cli_main
from cnnkit.image.filters import source_index

MODES = ("reflect", "constant", "nearest", "mirror", "wrap")
RTOL = 1e-5


@pytest.fixture(scope="module")
def camera() -> np.ndarray:
    return skimage.data.camera()


@pytest.fixture(scope="module")
def real_images() -> dict[str, np.ndarray]:
    """Real grayscale images as float64 in [0, 1] (cropped to keep the suite fast)."""
    gray = {
        "camera": skimage.data.camera()[100:356, 100:356],
        "coins": skimage.data.coins(),
        "astronaut": skimage.color.rgb2gray(skimage.data.astronaut())[:256, 128:384],
    }
    return {name: np.asarray(image, dtype=np.float64) / (255 if image.max() > 1 else 1)
            for name, image in gray.items()}  # fmt: skip


# --- boundary modes ---------------------------------------------------------------------------
@given(
    size=st.integers(1, 7),
    before=st.integers(0, 20),
    after=st.integers(0, 20),
    mode=st.sampled_from([m for m in MODES if m != "constant"]),
)
def test_extension_indices_match_scipy_even_far_past_the_image(size, before, after, mode):
    # A one-hot kernel picks out one sample of scipy's extended line per output position.
    line = np.arange(size, dtype=np.float64)
    reach = max(before, after)
    for shift in range(-reach, reach + 1):
        kernel = np.zeros(2 * reach + 1)
        kernel[reach + shift] = 1
        expected = ndi.correlate1d(line, kernel, mode=mode)
        assert np.array_equal(source_index(np.arange(size) + shift, size, mode), expected)


# --- correlate / convolve ---------------------------------------------------------------------
NUMPY_PAD_MODES = {"reflect": "symmetric", "mirror": "reflect", "nearest": "edge", "wrap": "wrap"}


def _padded_reference(image, kernel, mode, cval, origin):
    """np.pad + a direct sum: the reference where scipy's N-d correlate is unreliable."""
    pads = [(k // 2 + o, k - 1 - k // 2 - o) for k, o in zip(kernel.shape, origin, strict=True)]
    if mode == "constant":
        padded = np.pad(image, pads, mode="constant", constant_values=cval)
    else:
        padded = np.pad(image, pads, mode=NUMPY_PAD_MODES[mode])
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape)
    return np.einsum("ijab,ab->ij", windows, kernel)


def _scipy_reads_out_of_bounds(image_shape, kernel_shape, mode, origin) -> bool:
    # scipy.ndimage.correlate/convolve (N-d) in mode 'reflect' read outside their buffer when
    # the extension before the image reaches 4x the image's size (scipy 1.17; its 1-D
    # correlate1d and np.pad agree with each other and with us there).
    return mode == "reflect" and any(
        k // 2 + o >= 4 * n for n, k, o in zip(image_shape, kernel_shape, origin, strict=True)
    )


@given(
    height=st.integers(1, 9),
    width=st.integers(1, 9),
    kernel_height=st.integers(1, 12),
    kernel_width=st.integers(1, 12),
    mode=st.sampled_from(MODES),
    convolution=st.booleans(),
    origin_seed=st.integers(0, 2**16),
    seed=st.integers(0, 2**16),
)
def test_correlate_and_convolve_match_scipy(
    height, width, kernel_height, kernel_width, mode, convolution, origin_seed, seed
):
    rng = np.random.default_rng(seed)
    image = rng.random((height, width))
    kernel = rng.standard_normal((kernel_height, kernel_width))
    origin_rng = np.random.default_rng(origin_seed)
    origin = tuple(int(origin_rng.integers(-(k // 2), (k - 1) // 2 + 1)) for k in kernel.shape)
    ours = ci.convolve if convolution else ci.correlate
    actual = ours(image, kernel, mode=mode, cval=0.7, origin=origin)
    # convolve = correlate with the flipped kernel and the anchor moved as scipy moves it.
    flipped = kernel[::-1, ::-1] if convolution else kernel
    anchor = (
        tuple(-o - (1 - k % 2) for o, k in zip(origin, kernel.shape, strict=True))
        if convolution
        else origin
    )
    if _scipy_reads_out_of_bounds(image.shape, kernel.shape, mode, anchor):
        expected = _padded_reference(image, flipped, mode, 0.7, anchor)
    else:
        theirs = ndi.convolve if convolution else ndi.correlate
        expected = theirs(image, kernel, mode=mode, cval=0.7, origin=origin)
        assert_close(_padded_reference(image, flipped, mode, 0.7, anchor), expected, RTOL)
    assert_close(actual, expected, RTOL, mode)


@pytest.mark.parametrize("mode", MODES)
def test_even_kernel_anchor_follows_scipy(mode):
    image = np.arange(30.0).reshape(5, 6) ** 1.5
    kernel = np.array([[1.0, 2.0], [3.0, 5.0]])
    assert_close(ci.correlate(image, kernel, mode), ndi.correlate(image, kernel, mode=mode), RTOL)
    assert_close(ci.convolve(image, kernel, mode), ndi.convolve(image, kernel, mode=mode), RTOL)


def test_layouts_colour_channels_last_and_tensor_batches(rng):
    kernel = rng.standard_normal((3, 4))
    colour = rng.random((10, 11, 3))
    out = ci.correlate(colour, kernel, "wrap")
    assert isinstance(out, np.ndarray) and out.shape == colour.shape
    for channel in range(3):
        expected = ndi.correlate(colour[..., channel], kernel, mode="wrap")
        assert_close(out[..., channel], expected, RTOL)

    batch = rng.random((2, 3, 10, 11))
    out = ci.gaussian_filter(cnnkit.Tensor(batch), 1.5, mode="mirror")
    assert isinstance(out, cnnkit.Tensor) and out.shape == batch.shape
    for n in range(2):
        for c in range(3):
            expected = ndi.gaussian_filter(batch[n, c], 1.5, mode="mirror")
            assert_close(out.numpy()[n, c], expected, RTOL)


def test_integer_images_are_scaled_like_img_as_float(camera):
    assert_close(ci.sobel(camera), skimage.filters.sobel(camera), RTOL)
    out = ci.gaussian_filter(camera, 2)
    assert out.dtype == np.float64
    assert_close(out, ndi.gaussian_filter(camera / 255, 2), RTOL)


# --- Gaussian ---------------------------------------------------------------------------------
@given(sigma=st.floats(0.1, 6.0), truncate=st.floats(0.5, 5.0))
def test_gaussian_kernel_is_scipys(sigma, truncate):
    radius = int(truncate * sigma + 0.5)
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1
    expected = ndi.gaussian_filter1d(impulse, sigma, truncate=truncate, mode="constant")
    assert_close(ci.gaussian_kernel(sigma, truncate), expected, 1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_filters_match_scipy_and_skimage_on_real_images(real_images, mode):
    for name, image in real_images.items():
        what = f"{name} {mode}"
        assert_close(
            ci.gaussian_filter(image, (2.5, 1.0), mode=mode, cval=0.3),
            ndi.gaussian_filter(image, (2.5, 1.0), mode=mode, cval=0.3),
            RTOL, f"gaussian {what}",
        )  # fmt: skip
        assert_close(
            ci.laplace(image, mode=mode, cval=0.3),
            ndi.laplace(image, mode=mode, cval=0.3),
            RTOL, f"laplace {what}",
        )  # fmt: skip
        assert_close(
            ci.gradient_magnitude(image, 1.5, mode=mode, cval=0.3),
            ndi.gaussian_gradient_magnitude(image, 1.5, mode=mode, cval=0.3),
            RTOL, f"gradient magnitude {what}",
        )  # fmt: skip
        for operator in ("sobel", "scharr", "prewitt"):
            for axis in (None, 0, 1):
                assert_close(
                    getattr(ci, operator)(image, axis=axis, mode=mode, cval=0.3),
                    getattr(skimage.filters, operator)(image, axis=axis, mode=mode, cval=0.3),
                    RTOL, f"{operator} axis={axis} {what}",
                )  # fmt: skip


def test_float32_images_stay_float32_within_tolerance(real_images):
    image = real_images["camera"]
    out = ci.gaussian_filter(image.astype(np.float32), 3.0)
    assert out.dtype == np.float32
    assert_close(out, ndi.gaussian_filter(image, 3.0), RTOL)
    out = ci.sobel(image.astype(np.float32))
    assert out.dtype == np.float32
    assert_close(out, skimage.filters.sobel(image), RTOL)


def test_colour_gaussian_matches_skimage_per_channel():
    astronaut = skimage.data.astronaut()[:200, :200]
    expected = skimage.filters.gaussian(astronaut, sigma=2, mode="reflect", channel_axis=-1)
    assert_close(ci.gaussian_filter(astronaut, 2), expected, RTOL)


@given(
    height=st.integers(1, 12),
    width=st.integers(1, 12),
    sigma_rows=st.floats(0.0, 4.0),
    sigma_cols=st.floats(0.0, 4.0),
    mode=st.sampled_from(MODES),
    seed=st.integers(0, 2**16),
)
def test_gaussian_filter_matches_scipy_on_random_images(
    height, width, sigma_rows, sigma_cols, mode, seed
):
    image = np.random.default_rng(seed).random((height, width))
    sigma = (sigma_rows, sigma_cols)
    expected = ndi.gaussian_filter(image, sigma, mode=mode, cval=-0.5)
    assert_close(ci.gaussian_filter(image, sigma, mode=mode, cval=-0.5), expected, RTOL)


# --- gradients --------------------------------------------------------------------------------
def _torch_correlate(x: torch.Tensor, kernel: torch.Tensor, mode: str, cval: float):
    """The reference: extend by the same indices (or F.pad), then torch's conv2d."""
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    pads = [(k // 2, k - 1 - k // 2) for k in (kh, kw)]
    if mode == "constant":
        padded = torch.nn.functional.pad(x, (*pads[1], *pads[0]), value=cval)
    else:
        rows = source_index(np.arange(-pads[0][0], h + pads[0][1]), h, mode)
        cols = source_index(np.arange(-pads[1][0], w + pads[1][1]), w, mode)
        padded = x.index_select(2, torch.from_numpy(rows)).index_select(3, torch.from_numpy(cols))
    out = torch.nn.functional.conv2d(
        padded.reshape(n * c, 1, *padded.shape[2:]), kernel[None, None]
    )
    return out.reshape(n, c, h, w)


@given(
    kernel_height=st.integers(1, 15),  # up to pads larger than the 5 x 6 image
    kernel_width=st.integers(1, 15),
    mode=st.sampled_from(MODES),
    seed=st.integers(0, 2**16),
)
def test_correlate_gradients_match_torch(kernel_height, kernel_width, mode, seed):
    rng = np.random.default_rng(seed)
    image = rng.random((2, 3, 5, 6)).astype(np.float32)
    kernel = rng.standard_normal((kernel_height, kernel_width)).astype(np.float32)
    check_against_torch(
        lambda x, k: ci.correlate(x, k, mode=mode, cval=0.25),
        lambda x, k: _torch_correlate(x, k, mode, 0.25),
        [image, kernel],
        seed=seed,
    )


@pytest.mark.parametrize(
    "apply",
    [
        lambda x: ci.gaussian_filter(x, (1.2, 0.8), mode="reflect"),
        lambda x: ci.gaussian_filter(x, 2.0, mode="constant", cval=0.5),
        lambda x: ci.sobel(x, mode="wrap"),
        lambda x: ci.scharr(x, axis=0, mode="mirror"),
        lambda x: ci.prewitt(x, axis=1, mode="nearest"),
        lambda x: ci.laplace(x, mode="nearest"),
        lambda x: ci.gradient_magnitude(x, 1.0),
        lambda x: ci.convolve(x, np.arange(6.0).reshape(2, 3), mode="reflect"),
        lambda x: ci.harris_response(x, k=0.04),
        lambda x: ci.harris_response(x, method="eps", sigma=0.7),
    ],
    ids=["gaussian", "gaussian-constant", "sobel", "scharr", "prewitt", "laplace",
         "gradient-magnitude", "convolve", "harris-k", "harris-eps"],
)  # fmt: skip
def test_filters_are_differentiable(apply, rng):
    image = rng.random((1, 2, 7, 8)) + 0.1
    check_gradients(apply, [image])


def test_filter_trains_inside_a_model():
    # A kernel learnt by gradient descent recovers the Sobel kernel that made the targets.
    rng = np.random.default_rng(1)
    images = cnnkit.Tensor(rng.random((4, 1, 12, 12)) - 0.5)  # centred: well conditioned
    target = ci.sobel(images, axis=0)
    kernel = cnnkit.Tensor(np.zeros((3, 3)), requires_grad=True)
    for _ in range(100):
        loss = ((ci.correlate(images, kernel) - target) ** 2).mean()
        kernel.grad = None
        loss.backward()
        kernel.data -= 3.0 * kernel.grad
    expected = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]]) / 4
    assert_close(kernel.data, expected, 1e-3)


# --- Canny ------------------------------------------------------------------------------------
def _agreement(ours: np.ndarray, theirs: np.ndarray) -> float:
    return float(np.mean(ours == theirs))


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"sigma": 2.0},
        {"sigma": 0.5, "low_threshold": 0.05, "high_threshold": 0.15},
        {"low_threshold": 0.7, "high_threshold": 0.9, "use_quantiles": True},
        {"mode": "reflect"},
        {"mode": "wrap", "sigma": 3.0},
    ],
)
def test_canny_is_identical_to_skimage_on_real_images(real_images, options):
    images = dict(real_images, checkerboard=skimage.data.checkerboard())
    for name, image in images.items():
        ours, theirs = ci.canny(image, **options), skimage.feature.canny(image, **options)
        assert ours.dtype == bool
        assert _agreement(ours, theirs) == 1.0, f"{name}: {_agreement(ours, theirs):.5f}"


def test_canny_with_mask_integer_thresholds_and_float32(camera):
    mask = np.zeros(camera.shape, dtype=bool)
    mask[40:-60, 30:-90] = True
    options = {"mask": mask, "low_threshold": 15, "high_threshold": 40}
    assert np.array_equal(ci.canny(camera, **options), skimage.feature.canny(camera, **options))
    single = camera.astype(np.float32) / 255
    assert np.array_equal(ci.canny(single, 1.5), skimage.feature.canny(single, 1.5))


@given(seed=st.integers(0, 2**16), sigma=st.floats(0.0, 2.5), levels=st.integers(2, 6))
def test_canny_matches_skimage_on_random_images(seed, sigma, levels):
    # Few grey levels make many exact ties, the hardest case for non-maximum suppression.
    rng = np.random.default_rng(seed)
    image = rng.integers(0, levels, (20, 23)) / (levels - 1)
    ours, theirs = ci.canny(image, sigma), skimage.feature.canny(image, sigma)
    assert np.array_equal(ours, theirs)


# --- Harris -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("response_options", "peak_options"),
    [
        ({}, {}),
        ({}, {"min_distance": 5, "threshold_rel": 0.02}),
        ({"k": 0.1, "sigma": 2}, {"min_distance": 3, "exclude_border": False}),
        ({"method": "eps"}, {"min_distance": 2, "num_peaks": 25, "exclude_border": (4, 1)}),
        ({"sigma": 0.5}, {"threshold_abs": 1e-3, "exclude_border": 7}),
    ],
)
def test_harris_peaks_identical_to_skimage(camera, response_options, peak_options):
    for image in (camera, skimage.data.checkerboard()):
        response = ci.harris_response(image, **response_options)
        expected_response = skimage.feature.corner_harris(image, **response_options)
        assert_close(response, expected_response, RTOL)
        peaks = ci.corner_peaks(response, **peak_options)
        expected = skimage.feature.corner_peaks(expected_response, **peak_options)
        assert peaks.dtype.kind == "i" and peaks.shape[1] == 2
        np.testing.assert_array_equal(peaks, expected)
        np.testing.assert_array_equal(
            ci.harris_corners(image, **response_options, **peak_options), expected
        )


@given(
    seed=st.integers(0, 2**16),
    levels=st.integers(1, 5),
    min_distance=st.integers(1, 4),
    threshold_rel=st.sampled_from([None, 0.3]),
    num_peaks=st.sampled_from([np.inf, 3]),
    exclude_border=st.sampled_from([True, False, 2]),
)
def test_corner_peaks_matches_skimage_with_ties(
    seed, levels, min_distance, threshold_rel, num_peaks, exclude_border
):
    response = np.random.default_rng(seed).integers(0, levels, (15, 17)).astype(np.float64)
    options = {"min_distance": min_distance, "threshold_rel": threshold_rel,
               "num_peaks": num_peaks, "exclude_border": exclude_border}  # fmt: skip
    expected = skimage.feature.corner_peaks(response, **options)
    np.testing.assert_array_equal(ci.corner_peaks(response, **options), expected)


# --- errors -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: ci.gaussian_filter(np.ones((4, 4)), -1.0), ValueError, "sigma"),
        (lambda: ci.gaussian_filter(np.ones((4, 4)), float("nan")), ValueError, "sigma"),
        (lambda: ci.gaussian_filter(np.ones((4, 4)), (1.0, 2.0, 3.0)), ValueError, "sigma"),
        (lambda: ci.gaussian_filter(np.ones((4, 4)), 1.0, truncate=-1), ValueError, "truncate"),
        (lambda: ci.gaussian_kernel(0.0), ValueError, "sigma"),
        (lambda: ci.gradient_magnitude(np.ones((4, 4)), 0.0), ValueError, "sigma"),
        (lambda: ci.gaussian_filter(np.ones((4, 4)), 1.0, mode="symmetric"), ValueError, "mode"),
        (lambda: ci.sobel(np.ones((4, 4)), mode="zeros"), ValueError, "mode"),
        (lambda: ci.sobel(np.ones((4, 4)), axis=2), ValueError, "axis"),
        (lambda: ci.laplace(np.ones(5)), ValueError, "image"),
        (lambda: ci.laplace(np.ones((2, 3, 4, 5))), ValueError, "image"),
        (lambda: ci.laplace(cnnkit.Tensor(np.ones((3, 4, 5)))), ValueError, r"\(N, C, H, W\)"),
        (lambda: ci.laplace(cnnkit.Tensor(np.ones((1, 1, 3, 4), np.int64))), TypeError, "dtype"),
        (lambda: ci.laplace(np.ones((0, 4))), ValueError, "empty"),
        (lambda: ci.laplace(np.array([["a"]])), TypeError, "dtype"),
        (lambda: ci.correlate(np.ones((4, 4)), np.ones(3)), ValueError, "kernel"),
        (lambda: ci.correlate(np.ones((4, 4)), np.ones((0, 3))), ValueError, "kernel"),
        (lambda: ci.correlate(np.ones((4, 4)), np.ones((2, 2)), origin=1), ValueError, "origin"),
        (lambda: ci.correlate(np.ones((4, 4)), np.ones((3, 3)), origin=(0, 0, 0)), ValueError,
         "origin"),
        (lambda: ci.convolve(np.ones((4, 4)), np.ones((2, 2)), origin=1), ValueError, "origin=1"),
        (lambda: ci.canny(np.ones((4, 4, 3))), ValueError, "grayscale"),
        (lambda: ci.canny(np.ones((8, 8)), low_threshold=0.5, high_threshold=0.2), ValueError,
         "low_threshold"),
        (lambda: ci.canny(np.ones((8, 8)), low_threshold=2.0, use_quantiles=True), ValueError,
         "quantile"),
        (lambda: ci.canny(np.ones((8, 8)), mask=np.ones((4, 4), bool)), ValueError, "mask"),
        (lambda: ci.canny(np.ones((8, 8)), sigma=-2), ValueError, "sigma"),
        (lambda: ci.harris_response(np.ones((8, 8)), method="x"), ValueError, "method"),
        (lambda: ci.harris_response(np.ones((8, 8, 3))), ValueError, "grayscale"),
        (lambda: ci.corner_peaks(np.ones((8, 8)), min_distance=0), ValueError, "min_distance"),
        (lambda: ci.corner_peaks(np.ones((8, 8)), min_distance=1.5), TypeError, "min_distance"),
        (lambda: ci.corner_peaks(np.ones((8, 8)), exclude_border=-1), ValueError,
         "exclude_border"),
        (lambda: ci.corner_peaks(np.ones((8, 8)), exclude_border="no"), TypeError,
         "exclude_border"),
        (lambda: ci.corner_peaks(np.ones((8, 8)), num_peaks=-1), ValueError, "num_peaks"),
    ],
)  # fmt: skip
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()


# --- files and command line -------------------------------------------------------------------
def test_read_write_round_trip(tmp_path, rng):
    colour = rng.random((9, 7, 3)).astype(np.float32)
    ci.write(tmp_path / "colour.png", colour)
    back = ci.read(tmp_path / "colour.png")
    assert back.dtype == np.float32 and back.shape == (9, 7, 3)
    assert np.max(np.abs(back - colour)) <= 0.5 / 255 + 1e-6

    ci.write(tmp_path / "gray.png", np.linspace(-1, 2, 20).reshape(4, 5))  # clipped
    gray = ci.read(tmp_path / "gray.png")
    assert gray.shape == (4, 5) and gray.min() == 0.0 and gray.max() == 1.0

    luminance = ci.read(tmp_path / "colour.png", gray=True)
    expected = np.asarray(PILImage.open(tmp_path / "colour.png").convert("L")) / 255
    assert luminance.shape == (9, 7) and np.allclose(luminance, expected)

    deep = (np.arange(12).reshape(3, 4) * 5000).astype(np.uint16)
    PILImage.fromarray(deep).save(tmp_path / "deep.png")
    assert np.allclose(ci.read(tmp_path / "deep.png"), deep / 65535)

    rgba = np.zeros((3, 4, 4), np.uint8)
    PILImage.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    assert ci.read(tmp_path / "rgba.png").shape == (3, 4, 3)


def test_read_write_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.png"):
        ci.read(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ValueError, match="cannot read"):
        ci.read(tmp_path / "text.png")
    with pytest.raises(ValueError, match="shape"):
        ci.write(tmp_path / "bad.png", np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="cannot write"):
        ci.write(tmp_path / "bad.unknown", np.zeros((2, 3)))


def test_cli_filter_and_corners(tmp_path, camera, capsys):
    source = tmp_path / "camera.png"
    PILImage.fromarray(camera[:128, 160:288]).save(source)

    blurred = tmp_path / "blurred.png"
    assert cli_main(["filter", str(source), "--gaussian", "2", "-o", str(blurred)]) == 0
    expected = ndi.gaussian_filter(ci.read(source).astype(np.float64), 2)
    assert np.max(np.abs(ci.read(blurred) - expected)) <= 0.5 / 255 + 1e-6

    edges = tmp_path / "edges.png"
    assert cli_main(["filter", str(source), "--canny", "-o", str(edges)]) == 0
    assert np.array_equal(ci.read(edges) > 0.5, skimage.feature.canny(ci.read(source)))
    steps = ["--gaussian", "1", "--sobel", "--laplace", "--normalize", "--mode", "wrap"]
    assert cli_main(["filter", str(source), *steps, "-o", str(edges)]) == 0
    assert "gaussian -> sobel -> laplace" in capsys.readouterr().out

    marked = tmp_path / "corners.png"
    assert cli_main(["corners", str(source), "-o", str(marked), "--min-distance", "5"]) == 0
    expected_corners = skimage.feature.corner_peaks(
        skimage.feature.corner_harris(ci.read(source).astype(np.float64)),
        min_distance=5, threshold_rel=0.02,
    )  # fmt: skip
    assert f"{len(expected_corners)} corners" in capsys.readouterr().out
    drawn = ci.read(marked)
    row, col = expected_corners[0]
    assert np.allclose(drawn[row - 3, col], [1.0, 0.0, 0.0])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["filter", "{missing}", "--sobel", "-o", "{out}"], "no such image file"),
        (["corners", "{missing}", "-o", "{out}"], "no such image file"),
        (["filter", "{text}", "--sobel", "-o", "{out}"], "cannot read"),
        (["filter", "{text}", "-o", "{out}"], "at least one filter"),
        (["filter", "{image}", "--gaussian", "-1", "-o", "{out}"], "sigma"),
        (["filter", "{image}", "--sobel", "-o", "{bad_out}"], "cannot write"),
    ],
)
def test_cli_errors_are_one_line_and_non_zero(tmp_path, capsys, arguments, message):
    (tmp_path / "text.png").write_text("not an image")
    PILImage.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "image.png")
    paths = {"missing": tmp_path / "missing.png", "out": tmp_path / "out.png",
             "text": tmp_path / "text.png", "image": tmp_path / "image.png",
             "bad_out": tmp_path / "out.unknown"}  # fmt: skip
    assert cli_main([a.format(**paths) for a in arguments]) == 1
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_denoise_example_gains_psnr(tmp_path, camera):
    root = Path(__file__).resolve().parents[1]
    source = tmp_path / "camera.png"
    PILImage.fromarray(camera[:128, :128]).save(source)
    result = subprocess.run(
        [sys.executable, str(root / "examples" / "denoise.py"), str(source),
         "-o", str(tmp_path / "out.png")],
        capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONPATH": str(root / "src")},
    )  # fmt: skip
    gain = float(result.stdout.split("dB (")[1].split(" dB")[0])
    assert gain > 0 and (tmp_path / "out.png").exists()


@pytest.mark.parametrize("module", [ci.filters, ci.features])
def test_docstring_examples_run(module):
    import doctest

    failures, attempted = doctest.testmod(module, raise_on_error=False)
    assert attempted > 0 and failures == 0
