"""Boxes, NMS, COCO metrics (against pycocotools), CenterNet targets/decoding, grouping."""

import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from cnnkit.detection.boxes import batched_nms, box_area, box_iou, mask_boxes, mask_iou, nms
from cnnkit.detection.centernet import centernet_targets, decode_detections, gaussian_radius
from cnnkit.detection.instances import group_instances, semantic_from_instances
from cnnkit.detection.metrics import (
    average_precision,
    confusion_matrix,
    foreground_and_class,
    mean_iou,
)


def random_boxes(rng, count, size=50.0):
    corner = rng.uniform(0, size, (count, 2))
    extent = rng.uniform(1, size / 2, (count, 2))
    return np.concatenate([corner, corner + extent], axis=1)


def brute_iou(a, b):
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def brute_nms(boxes, scores, threshold):
    """The definition: repeatedly take the best remaining box, drop boxes overlapping it."""
    remaining = list(range(len(boxes)))
    keep = []
    while remaining:
        best = max(remaining, key=lambda i: (scores[i], -i))
        keep.append(best)
        remaining = [
            i for i in remaining if i != best and brute_iou(boxes[best], boxes[i]) <= threshold
        ]
    return keep


def test_box_iou_and_area_match_brute_force():
    rng = np.random.default_rng(0)
    a, b = random_boxes(rng, 7), random_boxes(rng, 5)
    expected = [[brute_iou(x, y) for y in b] for x in a]
    np.testing.assert_allclose(box_iou(a, b), expected, rtol=1e-12)
    np.testing.assert_allclose(box_area(a), (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 5)


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
@pytest.mark.parametrize("seed", range(4))
def test_nms_matches_brute_force(threshold, seed):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 40, size=30.0)
    # Rounded scores make ties, which must go to the lower index (torchvision's stable sort).
    scores = np.round(rng.uniform(size=40), 1)
    np.testing.assert_array_equal(
        nms(boxes, scores, threshold), brute_nms(boxes, scores, threshold)
    )


def test_batched_nms_never_suppresses_across_classes():
    rng = np.random.default_rng(5)
    boxes = random_boxes(rng, 30, size=20.0)
    scores = rng.uniform(size=30)
    labels = rng.integers(0, 3, 30)
    keep = batched_nms(boxes, scores, labels, 0.5)
    expected = []
    for label in range(3):
        members = np.flatnonzero(labels == label)
        expected += list(members[brute_nms(boxes[members], scores[members], 0.5)])
    assert sorted(keep) == sorted(expected)
    assert list(keep) == sorted(keep, key=lambda i: -scores[i])
    assert len(batched_nms(np.zeros((0, 4)), [], [], 0.5)) == 0


def test_nms_errors():
    with pytest.raises(ValueError, match="boxes"):
        nms(np.zeros((3, 3)), np.zeros(3), 0.5)
    with pytest.raises(ValueError, match="scores"):
        nms(np.zeros((3, 4)), np.zeros(2), 0.5)
    with pytest.raises(ValueError, match="labels"):
        batched_nms(np.zeros((3, 4)), np.zeros(3), np.zeros(2), 0.5)


def test_mask_iou_and_boxes():
    masks = np.zeros((3, 6, 6), dtype=bool)
    masks[0, 1:3, 1:4] = True
    masks[1, 2:4, 1:4] = True
    np.testing.assert_allclose(mask_iou(masks, masks)[0], [1.0, 3 / 9, 0.0])
    np.testing.assert_array_equal(mask_boxes(masks), [[1, 1, 4, 3], [1, 2, 4, 4], [0, 0, 0, 0]])


def test_confusion_and_mean_iou():
    target = np.array([[0, 0, 1], [1, 2, 2]])
    prediction = np.array([[0, 1, 1], [1, 2, 0]])
    confusion = confusion_matrix(prediction, target, 4)
    assert confusion.sum() == 6 and confusion[0, 1] == 1 and confusion[2, 0] == 1
    miou, per_class = mean_iou(confusion)
    np.testing.assert_allclose(per_class[:3], [1 / 3, 2 / 3, 1 / 2])
    assert np.isnan(per_class[3]) and miou == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(prediction[:1], target, 4)


def test_foreground_and_class_split_the_errors():
    # 4 object classes, 12 matched pixels each: 9 right, one to each other class; 2 missed
    # (called background) and 1 false alarm per class; 100 background pixels right.
    confusion = np.zeros((5, 5), dtype=np.int64)
    confusion[1:, 1:] = 1
    np.fill_diagonal(confusion[1:, 1:], 9)
    confusion[1:, 0], confusion[0, 1:], confusion[0, 0] = 2, 1, 100
    foreground_iou, class_accuracy = foreground_and_class(confusion)
    assert foreground_iou == pytest.approx(48 / (48 + 8 + 4))
    assert class_accuracy == pytest.approx(36 / 48)
    # with the errors spread evenly the docstring's per-class IoU is exact
    error = 1 - class_accuracy
    _, per_class = mean_iou(confusion)
    np.testing.assert_allclose(per_class[1:], (1 - error) / (error + 1 / foreground_iou))
    only_background = np.zeros((3, 3), dtype=np.int64)
    only_background[0, 0] = 5
    assert all(np.isnan(v) for v in foreground_and_class(only_background))


# --- COCO average precision against pycocotools ------------------------------------------------

NUM_CLASSES = 4
SIZE = 32


def random_masks(rng, boxes):
    masks = np.zeros((len(boxes), SIZE, SIZE), dtype=bool)
    for mask, (x1, y1, x2, y2) in zip(masks, boxes.astype(int), strict=True):
        mask[y1:y2, x1:x2] = rng.uniform(size=(y2 - y1, x2 - x1)) < 0.8
        mask[min((y1 + y2) // 2, SIZE - 1), min((x1 + x2) // 2, SIZE - 1)] = True
    return masks


def random_problem(rng, images=8, scores="uniform"):
    """Ground truths and predictions near them, with misses, duplicates and false alarms."""
    targets, predictions = [], []
    for _ in range(images):
        count = int(rng.integers(0, 5))
        boxes = np.floor(random_boxes(rng, count, size=SIZE - 12))
        labels = rng.integers(0, NUM_CLASSES - 1, count)  # the last class never occurs
        targets.append({"boxes": boxes, "labels": labels, "masks": random_masks(rng, boxes)})
        keep = rng.uniform(size=count) < 0.8
        noisy = boxes[keep] + rng.normal(0, 0.7, (int(keep.sum()), 4))
        extra = int(rng.integers(0, 4))
        pred_boxes = np.concatenate([noisy, noisy[: extra // 2] + 1, random_boxes(rng, extra)])
        pred_boxes = np.clip(np.round(pred_boxes, 2), 0, SIZE)
        pred_boxes[:, :2] = np.minimum(pred_boxes[:, :2], SIZE - 1)
        pred_boxes[:, 2:] = np.maximum(pred_boxes[:, 2:], pred_boxes[:, :2] + 0.5)
        pred_labels = np.concatenate(
            [labels[keep], labels[keep][: extra // 2], rng.integers(0, NUM_CLASSES, extra)]
        )
        # Sometimes the wrong class: a false positive for one class and a miss for another.
        flip = rng.uniform(size=len(pred_labels)) < 0.15
        pred_labels[flip] = rng.integers(0, NUM_CLASSES, int(flip.sum()))
        if scores == "low":
            pred_scores = rng.uniform(0, 0.05, len(pred_boxes))
        elif scores == "ties":
            pred_scores = np.round(rng.uniform(size=len(pred_boxes)), 1)
        else:
            pred_scores = rng.uniform(size=len(pred_boxes))
        predictions.append(
            {
                "boxes": pred_boxes,
                "labels": pred_labels,
                "scores": pred_scores,
                "masks": random_masks(rng, pred_boxes),
            }
        )
    return predictions, targets


def rle(mask):
    encoded = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    encoded["counts"] = encoded["counts"].decode()
    return encoded


def xywh(box):
    return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]


def pycocotools_ap(predictions, targets, iou_type):
    annotations, results = [], []
    for image_id, (prediction, target) in enumerate(zip(predictions, targets, strict=True), 1):
        for box, label, mask in zip(
            target["boxes"], target["labels"], target["masks"], strict=True
        ):
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(label),
                    "bbox": xywh(box),
                    "segmentation": rle(mask),
                    "iscrowd": 0,
                    "area": float(mask.sum() if iou_type == "segm" else box_area(box[None])[0]),
                }
            )
        for box, label, score, mask in zip(
            prediction["boxes"],
            prediction["labels"],
            prediction["scores"],
            prediction["masks"],
            strict=True,
        ):
            result = {"image_id": image_id, "category_id": int(label), "score": float(score)}
            result.update(
                {"bbox": xywh(box)} if iou_type == "bbox" else {"segmentation": rle(mask)}
            )
            results.append(result)
    ground_truth = COCO()
    ground_truth.dataset = {
        "images": [{"id": i, "width": SIZE, "height": SIZE} for i in range(1, len(targets) + 1)],
        "annotations": annotations,
        "categories": [{"id": c} for c in range(NUM_CLASSES)],
    }
    ground_truth.createIndex()
    detections = ground_truth.loadRes(results) if results else COCO()
    evaluation = COCOeval(ground_truth, detections, iou_type)
    evaluation.evaluate()
    evaluation.accumulate()
    precision = evaluation.eval["precision"][:, :, :, 0, -1]  # area "all", 100 detections
    return precision


def assert_matches_pycocotools(predictions, targets, iou_type):
    ours = average_precision(predictions, targets, NUM_CLASSES, iou_type)
    precision = pycocotools_ap(predictions, targets, iou_type)
    valid = precision > -1
    assert ours["map"] == pytest.approx(np.mean(precision[valid]), abs=1e-9)
    at_50 = precision[0]
    assert ours["map_50"] == pytest.approx(np.mean(at_50[at_50 > -1]), abs=1e-9)
    at_75 = precision[5]
    assert ours["map_75"] == pytest.approx(np.mean(at_75[at_75 > -1]), abs=1e-9)
    for label in range(NUM_CLASSES):
        column = precision[:, :, label]
        if np.all(column == -1):
            assert np.all(np.isnan(ours["per_class"][label]))
        else:
            np.testing.assert_allclose(ours["per_class"][label], column.mean(1), atol=1e-9)
    return ours


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("seed", range(5))
def test_average_precision_matches_pycocotools(seed, iou_type):
    predictions, targets = random_problem(np.random.default_rng(seed))
    ours = assert_matches_pycocotools(predictions, targets, iou_type)
    assert 0.0 < ours["map"] < 1.0
    # The class that never has ground truth is left out, not counted as zero.
    assert np.all(np.isnan(ours["per_class"][NUM_CLASSES - 1]))


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
@pytest.mark.parametrize("scores", ["low", "ties"])
def test_average_precision_matches_pycocotools_on_low_and_tied_scores(scores, iou_type):
    predictions, targets = random_problem(np.random.default_rng(11), images=8, scores=scores)
    assert_matches_pycocotools(predictions, targets, iou_type)


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_average_precision_with_a_class_never_predicted(iou_type):
    predictions, targets = random_problem(np.random.default_rng(3))
    for prediction in predictions:
        keep = prediction["labels"] != 0
        for key in ("boxes", "labels", "scores", "masks"):
            prediction[key] = prediction[key][keep]
    ours = assert_matches_pycocotools(predictions, targets, iou_type)
    assert np.all(ours["per_class"][0] == 0.0)


def test_average_precision_perfect_and_errors():
    _, targets = random_problem(np.random.default_rng(1))
    perfect = [
        {**target, "scores": np.linspace(1, 0.5, len(target["labels"]))} for target in targets
    ]
    for iou_type in ("bbox", "segm"):
        result = average_precision(perfect, targets, NUM_CLASSES, iou_type)
        assert result["map"] == 1.0 and result["map_50"] == 1.0
    with pytest.raises(ValueError, match="iou_type"):
        average_precision(perfect, targets, NUM_CLASSES, "keypoints")
    with pytest.raises(ValueError, match="target images"):
        average_precision(perfect[:2], targets, NUM_CLASSES)


# --- CenterNet targets and decoding -------------------------------------------------------------


def test_targets_decode_back_to_the_boxes():
    boxes = [np.array([[4.0, 6.0, 30.0, 34.0], [33.0, 20.0, 60.0, 50.0]]), np.zeros((0, 4))]
    labels = [np.array([3, 7]), np.zeros(0, dtype=np.int64)]
    targets = centernet_targets(boxes, labels, 10, (16, 16), 4)
    assert targets["num_objects"] == 2
    assert targets["heatmap"].max() == 1.0 and np.sum(targets["heatmap"] == 1.0) == 2
    assert targets["heatmap"][1].max() == 0.0
    # Perfect maps: the target heatmap (as logits) and the target box maps everywhere.
    logits = np.log(
        np.clip(targets["heatmap"], 1e-6, 1 - 1e-6)
        / (1 - np.clip(targets["heatmap"], 1e-6, 1 - 1e-6))
    )
    decoded = decode_detections(logits, targets["box"], 4, (64, 64), score_threshold=0.5)
    order = np.argsort(decoded[0]["labels"])
    np.testing.assert_allclose(decoded[0]["boxes"][order], boxes[0], atol=1e-4)
    np.testing.assert_array_equal(decoded[0]["labels"][order], labels[0])
    assert len(decoded[1]["boxes"]) == 0


def test_gaussian_radius_grows_with_the_box():
    assert 0 < gaussian_radius(4, 4) < gaussian_radius(8, 8) < gaussian_radius(16, 16)


def test_group_instances_splits_the_foreground_between_two_centres():
    semantic = np.zeros((10, 20), dtype=np.int64)
    semantic[2:8, 1:19] = 4  # one blob spanning two touching objects
    detections = {
        "boxes": np.array([[0.0, 1.0, 10.0, 9.0], [10.0, 1.0, 20.0, 9.0], [0, 0, 20, 10]]),
        "scores": np.array([0.9, 0.8, 0.1]),
        "labels": np.array([3, 3, 3]),
    }
    masks = group_instances(semantic, detections)
    assert not np.any(masks[0] & masks[1])
    np.testing.assert_array_equal(masks[0] | masks[1], semantic == 4)
    assert masks[0][:, :10].sum() == masks[0].sum() and masks[1][:, 10:].sum() == masks[1].sum()
    # The low-score detection does not compete, but still yields to the nearer centres.
    assert masks[2].sum() > 0 and not np.any(masks[2] & (semantic == 0))


def test_group_instances_lets_duplicates_share_pixels():
    foreground = np.zeros((12, 12), dtype=bool)
    foreground[2:10, 3:9] = True
    detections = {
        "boxes": np.array([[3.0, 2.0, 9.0, 10.0], [3.0, 2.5, 9.0, 10.0]]),
        "scores": np.array([0.6, 0.5]),
        "labels": np.array([3, 8]),
    }
    masks = group_instances(foreground, detections)
    np.testing.assert_array_equal(masks[0], foreground)
    np.testing.assert_array_equal(masks[1], foreground)
    assert group_instances(foreground, {"boxes": np.zeros((0, 4)), "scores": []}).shape == (
        0,
        12,
        12,
    )


def test_semantic_from_instances_paints_the_most_confident_on_top():
    masks = np.zeros((3, 4, 4), dtype=bool)
    masks[0, :2] = True
    masks[1, 1:3] = True
    masks[2, 3] = True
    detections = {"scores": np.array([0.9, 0.5, 0.1]), "labels": np.array([2, 7, 4])}
    semantic = semantic_from_instances(masks, detections)
    np.testing.assert_array_equal(semantic[:, 0], [3, 3, 8, 0])
