"""cnnkit.data: datasets, DataLoader semantics, random_split, transforms, IDX files, MNIST."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

import cnnkit
from cnnkit.data import (
    MNIST,
    DataLoader,
    FashionMNIST,
    ImageDataset,
    Subset,
    TensorDataset,
    default_collate,
    random_split,
    read_idx,
    write_idx,
)
from cnnkit.data import transforms as T
from cnnkit.data.datasets import _stratified_split


def _seen_order(loader: DataLoader) -> list[int]:
    return [int(i) for (batch,) in loader for i in batch.data]


# --- TensorDataset, Subset, collate --------------------------------------------------------------
def test_tensor_dataset_rows_and_length():
    x, y = np.arange(12).reshape(4, 3), np.arange(4) * 10
    ds = TensorDataset(x, cnnkit.Tensor(y))
    assert len(ds) == 4
    row, label = ds[2]
    np.testing.assert_array_equal(row, [6, 7, 8])
    assert label == 20


def test_tensor_dataset_rejects_different_lengths():
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_default_collate_stacks_arrays_numbers_tuples_and_dicts():
    batch = [(np.full(2, i, np.float32), i, {"w": float(i)}) for i in range(3)]
    images, labels, extra = default_collate(batch)
    assert isinstance(images, cnnkit.Tensor) and images.shape == (3, 2)
    assert labels.dtype == np.int64 and labels.tolist() == [0, 1, 2]
    assert extra["w"].dtype == np.float32
    with pytest.raises(ValueError, match="same size"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="object"):
        default_collate([object()])


# --- DataLoader ----------------------------------------------------------------------------------
def test_loader_yields_tensors_in_order_without_shuffle():
    ds = TensorDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10))
    batches = list(DataLoader(ds, batch_size=4))
    assert [len(y) for _, y in batches] == [4, 4, 2]
    x, y = batches[0]
    assert isinstance(x, cnnkit.Tensor) and x.dtype == np.float32 and x.shape == (4, 1)
    assert isinstance(y, cnnkit.Tensor) and y.dtype == np.int64
    assert np.concatenate([y.data for _, y in batches]).tolist() == list(range(10))


@pytest.mark.parametrize(("size", "batch", "drop_last", "expected"), [
    (10, 4, False, [4, 4, 2]), (10, 4, True, [4, 4]), (8, 4, True, [4, 4]), (3, 4, True, []),
    (3, 4, False, [3]),
])  # fmt: skip
def test_loader_drop_last(size, batch, drop_last, expected):
    loader = DataLoader(TensorDataset(np.arange(size)), batch_size=batch, drop_last=drop_last)
    assert [len(b) for (b,) in loader] == expected
    assert len(loader) == len(expected)


def test_shuffle_is_a_permutation_new_each_epoch_and_reproducible_from_the_seed():
    ds = TensorDataset(np.arange(50))
    loader = DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(3))
    first, second = _seen_order(loader), _seen_order(loader)
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert first != second and first != list(range(50))
    again = DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(3))
    assert _seen_order(again) == first and _seen_order(again) == second


def test_shuffle_without_generator_follows_manual_seed():
    loader = DataLoader(TensorDataset(np.arange(30)), batch_size=7, shuffle=True)
    cnnkit.manual_seed(11)
    first = _seen_order(loader)
    cnnkit.manual_seed(11)
    assert _seen_order(loader) == first
    cnnkit.manual_seed(12)
    assert _seen_order(loader) != first


def test_shuffle_with_drop_last_drops_a_random_remainder():
    loader = DataLoader(
        TensorDataset(np.arange(10)), 4, shuffle=True, drop_last=True,
        generator=np.random.default_rng(0),
    )  # fmt: skip
    seen = _seen_order(loader)
    assert len(seen) == 8 and len(set(seen)) == 8


def test_sampler_sets_the_order_and_excludes_shuffle():
    ds = TensorDataset(np.arange(6))
    assert _seen_order(DataLoader(ds, 2, sampler=[5, 0, 3])) == [5, 0, 3]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, 2, shuffle=True, sampler=[0])


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_loader_rejects_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(TensorDataset(np.arange(3)), batch_size=bad)


def test_loader_rejects_foreign_generator():
    loader = DataLoader(TensorDataset(np.arange(3)), 2, shuffle=True, generator=torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        list(loader)


def test_loader_uses_getitems_for_whole_batches():
    calls = []

    class Batched(TensorDataset):
        def __getitems__(self, indices):
            calls.append(list(indices))
            return [self[int(i)] for i in indices]

    list(DataLoader(Batched(np.arange(5)), batch_size=2))
    assert calls == [[0, 1], [2, 3], [4]]


# --- random_split --------------------------------------------------------------------------------
def test_random_split_partitions_the_dataset():
    parts = random_split(TensorDataset(np.arange(20)), [12, 5, 3], np.random.default_rng(0))
    indices = [list(p.indices) for p in parts]
    assert [len(p) for p in parts] == [12, 5, 3]
    assert sorted(sum(indices, [])) == list(range(20))
    assert indices[0] != list(range(12))  # shuffled
    assert int(parts[1][0][0]) == indices[1][0]


@pytest.mark.parametrize(("size", "fractions"), [
    (10, [0.5, 0.5]), (11, [0.3, 0.3, 0.4]), (7, [0.1, 0.9]), (101, [0.8, 0.1, 0.1]),
])  # fmt: skip
def test_random_split_fractions_give_torchs_lengths(size, fractions):
    ours = [len(p) for p in random_split(TensorDataset(np.arange(size)), fractions)]
    theirs = [len(p) for p in torch.utils.data.random_split(range(size), fractions)]
    assert ours == theirs


def test_random_split_is_reproducible_and_rejects_bad_lengths():
    ds = TensorDataset(np.arange(9))
    a = random_split(ds, [4, 5], np.random.default_rng(1))
    b = random_split(ds, [4, 5], np.random.default_rng(1))
    assert list(a[0].indices) == list(b[0].indices)
    with pytest.raises(ValueError, match="sum to the dataset size 9"):
        random_split(ds, [4, 4])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.6])


def test_subset_of_subset_fetches_batches():
    base = TensorDataset(np.arange(10) * 2)
    inner = Subset(Subset(base, [9, 8, 7, 6]), [3, 0])
    assert [int(x) for (x,) in inner.__getitems__([0, 1])] == [12, 18]
    assert _seen_order(DataLoader(inner, 2)) == [12, 18]


# --- transforms ----------------------------------------------------------------------------------
def _images(n=6, c=2, h=5, w=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, c, h, w), dtype=np.uint8)


def test_to_tensor_matches_torchvision_convention():
    rgb = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    out = T.ToTensor()(Image.fromarray(rgb))
    assert isinstance(out, cnnkit.Tensor) and out.shape == (3, 4, 5) and out.dtype == np.float32
    np.testing.assert_array_equal(out.data, rgb.transpose(2, 0, 1) / np.float32(255))
    grey = T.ToTensor()(rgb[..., 0])
    assert grey.shape == (1, 4, 5)
    with pytest.raises(ValueError, match="ToTensor"):
        T.ToTensor()(np.zeros((1, 2, 3, 4)))


def test_to_dtype_scales_integers_only():
    images = _images()
    out = T.ToDtype(np.float32, scale=True)(images)
    np.testing.assert_array_equal(out, images.astype(np.float32) / np.float32(255))
    assert T.ToDtype(np.float64)(images).max() == images.max()
    floats = np.full((1, 2, 2), 0.5, np.float32)
    np.testing.assert_array_equal(T.ToDtype(np.float32, scale=True)(floats), floats)


def test_normalize_matches_torch_per_channel():
    images = np.random.default_rng(1).random((3, 2, 4, 4)).astype(np.float32)
    mean, std = [0.2, 0.7], [0.5, 2.0]
    expected = (torch.from_numpy(images) - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[
        :, None, None
    ]
    np.testing.assert_allclose(T.Normalize(mean, std)(images), expected.numpy(), rtol=1e-6)
    single = T.Normalize(mean, std)(cnnkit.Tensor(images[0]))
    assert isinstance(single, cnnkit.Tensor)
    np.testing.assert_allclose(single.data, expected[0].numpy(), rtol=1e-6)


def test_normalize_errors():
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize([0.5], [0.0])
    with pytest.raises(ValueError, match="mean and std need 1 or 2 values"):
        T.Normalize([0.1, 0.2, 0.3], [1, 1, 1])(np.zeros((2, 3, 3), np.float32))
    with pytest.raises(TypeError, match="floating-point"):
        T.Normalize(0.5, 0.5)(_images())


def test_random_crop_takes_windows_of_the_padded_image():
    images = _images()
    padded = np.pad(images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    out = T.RandomCrop((5, 7), padding=2, generator=np.random.default_rng(0))(images)
    assert out.shape == images.shape and out.dtype == np.uint8
    for crop, source in zip(out, padded, strict=True):
        windows = np.lib.stride_tricks.sliding_window_view(source, (5, 7), axis=(1, 2))
        assert any(
            np.array_equal(windows[:, i, j], crop)
            for i in range(windows.shape[1])
            for j in range(windows.shape[2])
        )


def test_random_crop_draws_each_image_of_a_batch_independently():
    batch = np.repeat(_images(1), 64, axis=0)
    out = T.RandomCrop(5, padding=3, generator=np.random.default_rng(0))(batch)
    assert len({crop.tobytes() for crop in out}) > 20
    same = T.RandomCrop((5, 7))(batch)  # no padding, full size: nothing to choose
    np.testing.assert_array_equal(same, batch)


def test_random_crop_padding_modes_and_pad_if_needed():
    image = np.arange(9, dtype=np.float32).reshape(1, 3, 3)
    reflect = T.RandomCrop(7, padding=2, padding_mode="reflect")(image)
    np.testing.assert_array_equal(reflect[0], np.pad(image[0], 2, mode="reflect"))
    filled = T.RandomCrop(5, padding=1, fill=-1)(image)
    assert filled[0, 0, 0] == -1
    grown = T.RandomCrop(5, pad_if_needed=True)(image)
    assert grown.shape == (1, 5, 5)


def test_random_crop_errors():
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(3, padding_mode="wrap")
    with pytest.raises(ValueError, match="padding"):
        T.RandomCrop(3, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="size"):
        T.RandomCrop(0)
    with pytest.raises(ValueError, match="larger than"):
        T.RandomCrop(9)(np.zeros((1, 4, 4)))


def test_random_horizontal_flip():
    images = _images(200)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(images), images[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0)(images), images)
    out = T.RandomHorizontalFlip(generator=np.random.default_rng(0))(images)
    flipped = np.array([np.array_equal(o, i[..., ::-1]) for o, i in zip(out, images, strict=True)])
    kept = np.array([np.array_equal(o, i) for o, i in zip(out, images, strict=True)])
    assert np.all(flipped | kept) and 60 < flipped.sum() < 140
    with pytest.raises(ValueError, match="p must"):
        T.RandomHorizontalFlip(p=1.5)


def test_random_affine_identity_integer_shift_and_quarter_turn():
    images = _images(4, 1, 9, 9)
    np.testing.assert_array_equal(T.RandomAffine(0)(images), images)
    shifted = T.RandomAffine(0, translate=(0.5, 0.5), generator=np.random.default_rng(0))(images)
    for out, image in zip(shifted, images, strict=True):
        # Every output equals the input moved by whole pixels, with zeros coming in.
        matches = [
            (dy, dx)
            for dy in range(-5, 6)
            for dx in range(-5, 6)
            if np.array_equal(out, _shift(image, dy, dx))
        ]
        assert matches
    turned = T.RandomAffine((90, 90))(images)
    for out, image in zip(turned, images, strict=True):
        assert np.array_equal(out[0], np.rot90(image[0], 1)) or np.array_equal(
            out[0], np.rot90(image[0], -1)
        )


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(image)
    h, w = image.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        ..., max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def test_random_affine_errors():
    with pytest.raises(ValueError, match="degrees"):
        T.RandomAffine(-5)
    with pytest.raises(ValueError, match="translate"):
        T.RandomAffine(0, translate=(1.5, 0))
    with pytest.raises(ValueError, match="scale"):
        T.RandomAffine(0, scale=(1.2, 0.8))


def test_compose_runs_in_order_on_single_images_and_batches():
    pipeline = T.Compose([T.ToDtype(np.float32, scale=True), T.Normalize(0.5, 0.5)])
    images = _images()
    batch = pipeline(images)
    np.testing.assert_allclose(batch, (images / 255 - 0.5) / 0.5, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pipeline(images[2]), batch[2], rtol=1e-6)
    assert "Normalize" in repr(pipeline)


def test_image_dataset_batch_path_equals_single_path_for_deterministic_transforms():
    images, labels = _images(10), np.arange(10) % 3
    ds = ImageDataset(images, labels, T.ToDtype(np.float32, scale=True), lambda t: t + 100)
    x, y = next(iter(DataLoader(ds, batch_size=10)))
    for i in range(10):
        image, label = ds[i]
        np.testing.assert_array_equal(x.data[i], image)
        assert int(y.data[i]) == label == labels[i] + 100
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        ImageDataset(images[0], labels)


# --- IDX files -----------------------------------------------------------------------------------
def test_read_idx_parses_a_hand_written_file(tmp_path):
    pixels = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    raw = bytes([0, 0, 0x08, 3]) + struct.pack(">III", 2, 3, 4) + pixels.tobytes()
    (tmp_path / "plain").write_bytes(raw)
    (tmp_path / "packed.gz").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(read_idx(tmp_path / "plain"), pixels)
    np.testing.assert_array_equal(read_idx(tmp_path / "packed.gz"), pixels)
    ints = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 2) + struct.pack(">ii", -7, 70000)
    (tmp_path / "ints").write_bytes(ints)
    assert read_idx(tmp_path / "ints").tolist() == [-7, 70000]


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_write_then_read_idx(tmp_path, dtype, compress):
    array = (np.arange(30).reshape(5, 6) - 3).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(30, dtype=dtype).reshape(5, 6)
    write_idx(tmp_path / "a", array, compress=compress)
    out = read_idx(tmp_path / "a")
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize(("raw", "message"), [
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "first two bytes"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "type code 0x07"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05", "holds 1"),
    (b"\x1f\x8b not really gzip", "corrupt gzip"),
])  # fmt: skip
def test_read_idx_rejects_malformed_files(tmp_path, raw, message):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(ValueError, match=message):
        read_idx(tmp_path / "bad")


def _write_fashion_like(directory, n_train=12, n_test=5):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), compress=True)  # fmt: skip
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", np.arange(n, dtype=np.uint8) % 10)


def test_fashion_mnist_reads_idx_from_root_and_from_cnnkit_data(tmp_path, monkeypatch):
    _write_fashion_like(tmp_path)
    train = FashionMNIST(tmp_path)
    test = FashionMNIST(tmp_path, train=False)
    assert train.data.shape == (12, 1, 28, 28) and train.data.dtype == np.uint8
    assert test.targets.tolist() == [0, 1, 2, 3, 4] and test.targets.dtype == np.int64
    assert train.classes[9] == "Ankle boot"
    monkeypatch.setenv("CNNKIT_DATA", str(tmp_path))
    assert len(FashionMNIST()) == 12


def test_fashion_mnist_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        FashionMNIST(tmp_path / "nowhere")
    message = str(info.value)
    assert "train-images-idx3-ubyte" in message and "nowhere" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "github.com/zalandoresearch/fashion-mnist" in message


def test_idx_images_and_labels_must_match(tmp_path):
    _write_fashion_like(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="do not match"):
        FashionMNIST(tmp_path)


# --- bundled MNIST -------------------------------------------------------------------------------
def test_bundled_mnist_is_a_fixed_stratified_8000_2000_split():
    train, test = MNIST(), MNIST(train=False)
    assert (len(train), len(test)) == (8000, 2000)
    assert train.data.shape == (8000, 1, 28, 28) and train.data.dtype == np.uint8
    with np.load(cnnkit.data.datasets.BUNDLED_MNIST) as bundle:
        labels = bundle["labels"]
    per_class = np.bincount(labels, minlength=10)
    assert per_class.sum() == 10_000 and per_class.min() > 800
    # Stratified: every class's test share is 20 % of that class, to the nearest image.
    assert np.all(np.abs(np.bincount(test.targets, minlength=10) - 0.2 * per_class) <= 0.5)
    np.testing.assert_array_equal(MNIST(train=False).targets, test.targets)  # fixed split
    assert set(train.targets[:100].tolist()) == set(range(10))  # a prefix holds every class


def test_bundled_mnist_looks_like_mnist():
    train = MNIST()
    # White digits on black: borders dark, about 19 % of pixels lit, mean near MNIST's 0.13.
    assert train.data[:, :, 0, :].mean() < 1 and train.data[:, :, :, -1].mean() < 1
    assert 0.11 < train.data.mean() / 255 < 0.15


def test_stratified_split_never_overlaps():
    labels = np.repeat(np.arange(3), [10, 7, 5])
    is_test = _stratified_split(labels, 0.2, seed=0)
    assert np.bincount(labels[is_test]).tolist() == [2, 1, 1]
    assert not np.array_equal(is_test, _stratified_split(labels, 0.2, seed=1))
