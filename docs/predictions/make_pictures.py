"""Draw docs/predictions/*.png: four held-out test scenes, ground truth and each task's model.

Usage (from the repository root): PYTHONPATH=src python docs/predictions/make_pictures.py \
    segment=RUN_DIR detect=RUN_DIR instance=RUN_DIR
"""

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from cnnkit.data.scenes import Scenes
from cnnkit.detection.tasks import draw_prediction, predict_task

runs = dict(arg.split("=") for arg in sys.argv[1:])
out = Path("docs/predictions")
work = Path(tempfile.mkdtemp())
scenes = Scenes("test", 1000, seed=0)
paths = []
for i in range(4):
    path = work / f"test_scene_{i}.png"
    Image.fromarray((scenes.images[i, 0] * 255).round().astype(np.uint8)).save(path)
    paths.append(path)


def strip(images):
    w, h = images[0].size
    canvas = Image.new("RGB", (w * len(images) + 4 * (len(images) - 1), h), "white")
    for i, im in enumerate(images):
        canvas.paste(im, (i * (w + 4), 0))
    return canvas


truth = []
for i in range(4):
    t = scenes.target(i)
    truth.append(draw_prediction(scenes.images[i, 0], {**t, "scores": np.ones(len(t["labels"]))}))
strip(truth).save(out / "ground_truth.png", optimize=True)
for task, run in runs.items():
    drawn = work / task
    predict_task(run, paths, drawn)
    images = [Image.open(drawn / f"test_scene_{i}.png").convert("RGB") for i in range(4)]
    strip(images).save(out / f"{task}.png", optimize=True)
