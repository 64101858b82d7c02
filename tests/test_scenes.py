"""The scene generator: determinism, disjoint splits, and exact ground truth."""

import numpy as np
import pytest

from cnnkit.data import DataLoader
from cnnkit.data.scenes import Scenes, _resize_matrix, _split_digits, collate_scenes


@pytest.fixture(scope="module")
def scenes():
    return Scenes("val", num_scenes=200, seed=3)


def test_same_seed_same_scenes_other_seed_other_scenes(scenes):
    again = Scenes("val", num_scenes=200, seed=3)
    for name in ("images", "semantic", "instances", "boxes", "labels", "counts"):
        np.testing.assert_array_equal(getattr(scenes, name), getattr(again, name))
    other = Scenes("val", num_scenes=200, seed=4)
    assert not np.array_equal(scenes.images, other.images)
    # A prefix of a larger set is not promised, but the splits must differ for one seed.
    assert not np.array_equal(Scenes("test", num_scenes=200, seed=3).images, scenes.images)


def test_splits_use_disjoint_digits():
    parts = [_split_digits(split)[0] for split in ("train", "val", "test")]
    keys = [{image.tobytes() for image in part} for part in parts]
    assert len(parts[0]) == 8000 and len(parts[1]) == len(parts[2]) == 1000
    assert not keys[0] & keys[1] and not keys[0] & keys[2] and not keys[1] & keys[2]


def test_ground_truth_is_consistent(scenes):
    assert scenes.images.dtype == np.float32 and scenes.images.shape == (200, 1, 64, 64)
    assert scenes.images.min() >= 0.0 and scenes.images.max() <= 1.0
    assert set(np.unique(scenes.counts)) == {1, 2, 3}
    for index in range(len(scenes)):
        image, target = scenes[index]
        count = int(scenes.counts[index])
        masks, boxes, labels = target["masks"], target["boxes"], target["labels"]
        assert masks.shape == (count, 64, 64) and boxes.shape == (count, 4)
        assert np.all((labels >= 0) & (labels <= 9))
        assert np.all(scenes.labels[index, count:] == -1)
        # Instance masks partition the foreground; the semantic mask is 1 + digit on each.
        assert masks.sum(0).max() <= 1
        np.testing.assert_array_equal(masks.any(0), target["semantic"] > 0)
        for mask, box, label in zip(masks, boxes, labels, strict=True):
            rows, cols = np.nonzero(mask)
            assert len(rows) > 0
            np.testing.assert_array_equal(
                box, [cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]
            )
            assert np.all(target["semantic"][mask] == label + 1)
        # A visible footprint pixel has alpha > 0.5 of ink >= 0.75 over a background <= 0.35,
        # and later faint edges only blend towards ink: so it is at least 0.375.
        assert np.all(image[0][masks.any(0)] >= 0.375 - 1e-6)


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
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Scenes(**{"num_scenes": 2, **kwargs})


def test_index_out_of_range(scenes):
    with pytest.raises(IndexError, match="200"):
        scenes[200]
