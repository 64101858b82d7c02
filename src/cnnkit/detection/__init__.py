"""Object detection and segmentation: boxes, NMS, metrics, CenterNet targets, tasks."""

from cnnkit.detection.boxes import *
from cnnkit.detection.metrics import *
