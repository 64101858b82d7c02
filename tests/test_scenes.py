"""The scene generator: determinism, disjoint splits, and exact ground truth."""

import hashlib

import numpy as np
import pytest
from scipy.ndimage import binary_fill_holes

from cnnkit.data import DataLoader, FashionMNIST
from cnnkit.data.scenes import (
    SCENE_CLASSES,
    Scenes,
    _resize_matrix,
    _silhouettes,
    _split_sources,
    collate_scenes,
    scene_classes,
)

FASHION_SPLIT_SIZES = {"train": 60000, "val": 5000, "test": 5000}


@pytest.fixture(scope="module")
def scenes():
    return Scenes("val", num_scenes=200, seed=3)


@pytest.fixture(scope="module")
def fashion():
    return Scenes("val", num_scenes=200, seed=3, objects="fashion-mnist")


ARRAYS = ("images", "semantic", "instances", "boxes", "labels", "counts", "placements")


@pytest.mark.parametrize("objects", ["mnist", "fashion-mnist"])
def test_same_seed_same_scenes_other_seed_other_scenes(objects, scenes, fashion):
    made = scenes if objects == "mnist" else fashion
    again = Scenes("val", num_scenes=200, seed=3, objects=objects)
    for name in ARRAYS:
        np.testing.assert_array_equal(getattr(made, name), getattr(again, name))
    other = Scenes("val", num_scenes=200, seed=4, objects=objects)
    assert not np.array_equal(made.images, other.images)
    # A prefix of a larger set is not promised, but the splits must differ for one seed.
    test = Scenes("test", num_scenes=200, seed=3, objects=objects)
    assert not np.array_equal(test.images, made.images)


def test_mnist_scenes_are_those_from_before_fashion_mnist():
    # Recorded from main before objects= existed: MNIST scenes must not change, the trained
    # MNIST results rely on them. Integer ground truth is compared bit for bit; the images
    # through their sum, since the last bits of a float32 product may differ between BLAS
    # builds.
    recorded = {
        "train": ("323e4b237d4ca3dc5bcd880e554d2e8d87a3eb2a9098a053b82291325a024076", 33403.99647),
        "val": ("25a9e3ecd1ec66d724ad0c3719b210bff5257da7aa04ba632a81d4d79341f0f0", 36067.17915),
        "test": ("683dce4d1c4103cc56b70503cb8b89698d2b5375a5c902b58dd4535e162cf088", 32704.27030),
    }
    for split, (digest, image_sum) in recorded.items():
        made = Scenes(split, num_scenes=50, seed=7)
        hashed = hashlib.sha256()
        for name in ("semantic", "instances", "boxes", "labels", "counts", "footprint_areas"):
            hashed.update(np.ascontiguousarray(getattr(made, name)).tobytes())
        assert hashed.hexdigest() == digest, split
        assert made.images.sum(dtype=np.float64) == pytest.approx(image_sum, rel=1e-6), split


def test_splits_use_disjoint_digits():
    parts = [_split_sources("mnist", split).images for split in ("train", "val", "test")]
    keys = [{image.tobytes() for image in part} for part in parts]
    assert len(parts[0]) == 8000 and len(parts[1]) == len(parts[2]) == 1000
    assert not keys[0] & keys[1] and not keys[0] & keys[2] and not keys[1] & keys[2]


def test_fashion_splits_use_disjoint_items_of_the_right_parts():
    fashion_train = FashionMNIST(train=True)
    fashion_test = FashionMNIST(train=False)
    keys = {}
    for split, size in FASHION_SPLIT_SIZES.items():
        sources = _split_sources("fashion-mnist", split)
        assert sources.images.shape == (size, 28, 28) and sources.labels.shape == (size,)
        keys[split] = {image.tobytes() for image in sources.images}
        assert len(keys[split]) == size
    assert not keys["train"] & keys["val"] and not keys["train"] & keys["test"]
    assert not keys["val"] & keys["test"]
    # train from the training part, val and test from the halves of the test part, in order.
    np.testing.assert_array_equal(
        _split_sources("fashion-mnist", "train").images[:5], fashion_train.data[:5, 0]
    )
    np.testing.assert_array_equal(
        _split_sources("fashion-mnist", "val").images, fashion_test.data[:5000, 0]
    )
    np.testing.assert_array_equal(
        _split_sources("fashion-mnist", "test").labels, np.asarray(fashion_test.targets)[5000:]
    )


def test_silhouettes_are_bright_pixels_with_their_holes_filled():
    images = _split_sources("fashion-mnist", "val").images
    expected = np.stack([binary_fill_holes(image >= 13) for image in images])
    np.testing.assert_array_equal(_silhouettes(images), expected)
    # The silhouette covers the dark inside of the items, which half intensity would miss.
    assert (expected & (images < 128)).sum() > 0.1 * expected.sum()


def _check_ground_truth(made):
    """Masks partition the foreground, boxes are their extents, semantic = 1 + label."""
    assert made.images.dtype == np.float32 and made.images.shape == (len(made), 1, 64, 64)
    assert made.images.min() >= 0.0 and made.images.max() <= 1.0
    assert set(np.unique(made.counts)) == {1, 2, 3}
    for index in range(len(made)):
        _, target = made[index]
        count = int(made.counts[index])
        masks, boxes, labels = target["masks"], target["boxes"], target["labels"]
        assert masks.shape == (count, 64, 64) and boxes.shape == (count, 4)
        assert np.all((labels >= 0) & (labels <= 9))
        assert np.all(made.labels[index, count:] == -1)
        assert np.all(made.placements[index, count:] == -1)
        assert masks.sum(0).max() <= 1
        np.testing.assert_array_equal(masks.any(0), target["semantic"] > 0)
        for mask, box, label in zip(masks, boxes, labels, strict=True):
            rows, cols = np.nonzero(mask)
            assert len(rows) > 0
            np.testing.assert_array_equal(
                box, [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
            )
            assert np.all(target["semantic"][mask] == label + 1)


def test_ground_truth_is_consistent(scenes):
    _check_ground_truth(scenes)
    for index in range(len(scenes)):
        image, target = scenes[index]
        # A visible footprint pixel has alpha > 0.5 of ink >= 0.75 over a background <= 0.35,
        # and later faint edges only blend towards ink: so it is at least 0.375.
        assert np.all(image[0][target["masks"].any(0)] >= 0.375 - 1e-6)


def test_fashion_ground_truth_is_consistent(fashion, scenes):
    assert fashion.classes == FashionMNIST.classes == scene_classes("fashion-mnist")
    assert scenes.classes == SCENE_CLASSES == [str(digit) for digit in range(10)]
    _check_ground_truth(fashion)


def _footprint(source_image, objects, side):
    """The footprint rule of the module docstring, with the silhouette made by scipy."""
    matrix = _resize_matrix(28, side)
    if objects == "mnist":
        alpha = matrix @ (source_image / np.float32(255.0)) @ matrix.T
    else:
        alpha = matrix @ binary_fill_holes(source_image >= 13).astype(np.float32) @ matrix.T
    return alpha > 0.5


@pytest.mark.parametrize("objects", ["mnist", "fashion-mnist"])
def test_masks_are_footprints_minus_later_footprints(objects, scenes, fashion):
    made = scenes if objects == "mnist" else fashion
    sources = _split_sources(objects, "val")
    dark_inside = occluded = 0
    for index in range(len(made)):
        count = int(made.counts[index])
        painted = np.zeros((64, 64), dtype=np.int64)
        for k, (source, y, x, side) in enumerate(made.placements[index, :count]):
            assert 0 <= source < len(sources.labels)
            assert made.labels[index, k] == sources.labels[source]
            image = sources.images[source]
            footprint = _footprint(image, objects, side)
            assert made.footprint_areas[index, k] == footprint.sum()
            painted[y : y + side, x : x + side][footprint] = k + 1
            # What thresholding the object's own intensity at one half would leave out.
            matrix = _resize_matrix(28, side)
            intensity = matrix @ (image / np.float32(255.0)) @ matrix.T
            dark_inside += np.sum(footprint & (intensity <= 0.5))
        np.testing.assert_array_equal(made.instances[index], painted)
        visible = np.bincount(painted.ravel(), minlength=count + 1)[1:]
        occluded += np.sum(visible < made.footprint_areas[index, :count])
    assert occluded > 0
    if objects == "fashion-mnist":
        assert dark_inside > 0.05 * made.footprint_areas.sum()
    else:
        assert dark_inside == 0


def test_fashion_items_are_drawn_inside_their_footprint(fashion):
    sources = _split_sources("fashion-mnist", "val")
    for index in range(len(fashion)):
        count = int(fashion.counts[index])
        # The last object is whole and on top: inside its silhouette (alpha 1) the pixel is
        # its lifted shade ink * (0.5 + 0.5 * intensity), with ink in [0.75, 1].
        source, y, x, side = fashion.placements[index, count - 1]
        matrix = _resize_matrix(28, side)
        inside = matrix @ sources.silhouettes[source].astype(np.float32) @ matrix.T >= 1 - 1e-6
        shade = 0.5 + 0.5 * (matrix @ (sources.images[source] / 255.0) @ matrix.T)
        drawn = fashion.images[index, 0, y : y + side, x : x + side]
        ink = drawn[inside] / shade[inside]
        assert inside.sum() > 0
        np.testing.assert_allclose(ink, ink[0], rtol=1e-5)
        assert 0.75 - 1e-6 <= ink[0] <= 1 + 1e-6


def test_missing_fashion_mnist_names_the_argument_and_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="objects='fashion-mnist'") as caught:
        Scenes("val", num_scenes=2, objects="fashion-mnist", root=tmp_path / "nowhere")
    assert "apt-get install dataset-fashion-mnist" in str(caught.value)


def test_later_pastes_occlude_and_overlap_is_bounded():
    crowded = Scenes("val", num_scenes=300, size=40, scale_range=(24, 30), seed=0)
    # Crowded canvases force occlusions; every object keeps min_visible of its footprint.
    assert np.any(crowded.counts >= 2)
    touching = 0
    for index in np.flatnonzero(crowded.counts >= 2):
        boxes = crowded.boxes[index, : crowded.counts[index]]
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                ix = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
                iy = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
                touching += ix > 0 and iy > 0
    assert touching > 0
    occluded = 0
    for index in range(len(crowded)):
        sizes = np.bincount(crowded.instances[index].ravel())[1:]
        footprints = crowded.footprint_areas[index, : crowded.counts[index]]
        assert len(sizes) == crowded.counts[index]
        assert np.all(sizes >= 0.7 * footprints) and np.all(sizes <= footprints)
        occluded += np.sum(sizes < footprints)
    assert occluded > 0


def test_resize_matrix_rows_are_convex_and_identity_at_same_size():
    np.testing.assert_allclose(_resize_matrix(28, 40).sum(1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(_resize_matrix(7, 7), np.eye(7, dtype=np.float32))


def test_loader_batches_with_collate(scenes):
    loader = DataLoader(scenes, batch_size=8, collate_fn=collate_scenes)
    images, targets = next(iter(loader))
    assert images.shape == (8, 1, 64, 64) and len(targets) == 8
    np.testing.assert_array_equal(targets[1]["boxes"], scenes.target(1)["boxes"])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"split": "dev"}, "split"),
        ({"num_scenes": -1}, "num_scenes"),
        ({"max_objects": 0}, "max_objects"),
        ({"scale_range": (30, 20)}, "scale_range"),
        ({"scale_range": (20, 80)}, "scale_range"),
        ({"min_visible": 1.5}, "min_visible"),
        ({"objects": "cifar"}, "objects must be one of .*'cifar'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Scenes(**{"num_scenes": 2, **kwargs})


def test_scene_classes_rejects_unknown_objects():
    with pytest.raises(ValueError, match="objects"):
        scene_classes("emnist")


def test_index_out_of_range(scenes):
    with pytest.raises(IndexError, match="200"):
        scenes[200]


def test_scene_tasks_take_objects_from_the_command_line():
    import argparse

    from cnnkit.detection.tasks import TaskConfig, add_task_arguments, task_kwargs, task_scenes

    parser = argparse.ArgumentParser()
    parser.add_argument("--task", default="detect")
    add_task_arguments(parser)
    assert task_kwargs(parser.parse_args([]))["objects"] == "mnist"
    chosen = task_kwargs(parser.parse_args(["--objects", "fashion-mnist"]))["objects"]
    made = task_scenes(TaskConfig("detect", objects=chosen), "val", 4, seed=3)
    expected = Scenes("val", num_scenes=4, seed=3, objects="fashion-mnist")
    assert made.classes == FashionMNIST.classes
    np.testing.assert_array_equal(made.images, expected.images)
    with pytest.raises(SystemExit):
        parser.parse_args(["--objects", "cifar"])
