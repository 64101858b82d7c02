"""CenterNet-style one-stage anchor-free detector on a U-Net backbone.

Objects are points: a class heatmap peaks at each object's centre, and two more maps at the
same cells give the box size and the sub-cell offset of the centre (Zhou et al., "Objects as
Points", 2019). The backbone is a ``UNet`` decoded to the output stride; with
``semantic_classes > 0`` the full-resolution U-Net head also predicts a semantic mask, which
``cnnkit.detection.instances`` splits into instances at the detected centres.
"""

from __future__ import annotations

import math

from cnnkit import nn
from cnnkit.models.unet import UNet
from cnnkit.tensor import Tensor

__all__ = ["CenterNet"]

# Initial heatmap bias: sigmoid(-2.19) = 0.1, so the focal loss starts near its optimum for
# mostly-background maps instead of being swamped by confident false positives.
HEATMAP_PRIOR_BIAS = -2.19


def _head(in_channels: int, hidden: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(hidden, out_channels, 1),
    )


class CenterNet(nn.Module):
    """Centre heatmap + box size/offset heads (+ optional semantic head) on a U-Net.

    Args:
        num_classes: object classes (heatmap channels).
        in_channels: image channels.
        base_channels: width of the U-Net's first stage.
        depth: poolings in the U-Net.
        stride: output stride of the detection maps, a power of two ``< 2**depth``.
        semantic_classes: logits per pixel of a full-resolution semantic head (0: none).
        head_channels: hidden channels of each head.

    Shape:
        - Input: :math:`(N, C_{in}, H, W)`, ``H``, ``W`` divisible by ``2**depth``
        - Output: a dict with ``heatmap`` :math:`(N, \\text{num\\_classes}, H/s, W/s)` (logits),
          ``box`` :math:`(N, 4, H/s, W/s)` (centre offset x, y in cells, then width and height
          in cells) and, with ``semantic_classes``, ``semantic`` :math:`(N, S, H, W)` (logits).

    Example:
        >>> out = CenterNet(base_channels=8)(cnnkit.zeros(1, 1, 64, 64))
        >>> out["heatmap"].shape, out["box"].shape
        ((1, 10, 16, 16), (1, 4, 16, 16))
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        base_channels: int = 16,
        depth: int = 3,
        stride: int = 4,
        semantic_classes: int = 0,
        head_channels: int = 32,
    ) -> None:
        super().__init__()
        level = round(math.log2(stride)) if stride > 0 else -1
        if level < 0 or 2**level != stride or level >= depth:
            raise ValueError(f"stride must be a power of two < 2**depth={2**depth}, got {stride}")
        self.num_classes, self.stride = num_classes, stride
        self.backbone = UNet(in_channels, semantic_classes, base_channels, depth)
        self.detection_stage = depth - 1 - level
        width = self.backbone.widths[level]
        self.heatmap = _head(width, head_channels, num_classes)
        self.box = _head(width, head_channels, 4)
        self.heatmap[-1].bias.data[:] = HEATMAP_PRIOR_BIAS

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        semantic = self.backbone.head is not None
        stages = None if semantic else self.detection_stage + 1
        features = self.backbone.decode(x, stages)
        detection_features = features[self.detection_stage]
        out = {
            "heatmap": self.heatmap(detection_features),
            "box": self.box(detection_features),
        }
        if semantic:
            out["semantic"] = self.backbone.head(features[-1])
        return out
