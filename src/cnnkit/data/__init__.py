"""Datasets, data loading and image transforms, shaped like ``torch.utils.data`` and torchvision.

``cnnkit.data.transforms`` holds the transforms; the rest is importable from here.
"""

from cnnkit.data import transforms
from cnnkit.data.dataset import *
from cnnkit.data.datasets import *
from cnnkit.data.loader import *
