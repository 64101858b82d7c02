"""Ready-made networks: LeNet-5, a small CNN, a small VGG and CIFAR-style ResNet-20.

Each is a plain ``nn.Module`` whose ``state_dict`` keys match the equivalent PyTorch definition
(``tests/torch_twins.py``), so weights move between the two with ``load_state_dict``.
``get_model(name)`` builds one by its command-line name.
"""

from __future__ import annotations

from collections.abc import Callable

from cnnkit import nn
from cnnkit.models.lenet import LeNet5
from cnnkit.models.resnet import BasicBlock, ResNet, resnet20
from cnnkit.models.small_cnn import SmallCNN
from cnnkit.models.vgg import VGG, VGG_SMALL_CONFIG, vgg_small

MODELS: dict[str, Callable[..., nn.Module]] = {
    "lenet5": LeNet5,
    "small-cnn": SmallCNN,
    "vgg-small": vgg_small,
    "resnet20": resnet20,
}


def get_model(name: str, num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """Build the model called ``name`` (one of ``MODELS``).

    Raises:
        ValueError: ``name`` is not a known model.
    """
    key = name.lower().replace("_", "-")
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[key](num_classes=num_classes, in_channels=in_channels)


from cnnkit.models.detector import CenterNet  # noqa: E402
from cnnkit.models.unet import UNet  # noqa: E402
