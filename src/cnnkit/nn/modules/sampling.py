"""Resampling layers: ``Upsample`` and ``PixelShuffle`` / ``PixelUnshuffle``."""

from __future__ import annotations

from cnnkit.nn import functional as F
from cnnkit.nn._checks import positive_int
from cnnkit.nn.modules.module import Module
from cnnkit.tensor import Tensor

__all__ = [
    "PixelShuffle",
    "PixelUnshuffle",
    "Upsample",
    "UpsamplingBilinear2d",
    "UpsamplingNearest2d",
]

UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")
ALIGNABLE_MODES = ("linear", "bilinear", "bicubic", "trilinear")


class Upsample(Module):
    """Resize the spatial dimensions to ``size`` or by ``scale_factor`` (``F.interpolate``).

    Args:
        size: output spatial size, int or tuple.
        scale_factor: multiplier for the spatial size, float or tuple.
        mode: ``"nearest"``, ``"nearest-exact"``, ``"linear"``, ``"bilinear"``,
            ``"bicubic"``, ``"trilinear"`` or ``"area"``. Default: ``"nearest"``.
        align_corners: for the linear modes, map corner pixel centres onto each other.
        recompute_scale_factor: compute the scale from the output size (PyTorch's option).

    Shape:
        - Input: (N, C, *spatial).
        - Output: (N, C, *size) or (N, C, *floor(spatial * scale_factor)).

    Example:
        >>> from cnnkit import nn
        >>> nn.Upsample(scale_factor=2, mode="bilinear")
        Upsample(scale_factor=2.0, mode='bilinear')
    """

    def __init__(
        self,
        size: int | tuple[int, ...] | None = None,
        scale_factor: float | tuple[float, ...] | None = None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError(
                f"exactly one of size or scale_factor must be given, got size={size!r} and "
                f"scale_factor={scale_factor!r}"
            )
        if mode not in UPSAMPLE_MODES:
            raise ValueError(f"mode must be one of {UPSAMPLE_MODES}, got mode={mode!r}")
        if align_corners is not None and mode not in ALIGNABLE_MODES:
            raise ValueError(
                f"align_corners option can only be set with the interpolating modes "
                f"{ALIGNABLE_MODES}, got mode={mode!r}"
            )
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, tuple):
            self.scale_factor: float | tuple[float, ...] | None = tuple(
                float(factor) for factor in scale_factor
            )
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            recompute_scale_factor=self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = f"scale_factor={self.scale_factor!r}"
        else:
            info = f"size={self.size!r}"
        return f"{info}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode="nearest")`` for (N, C, H, W) input."""

    def __init__(
        self, size: int | tuple[int, int] | None = None, scale_factor: float | None = None
    ) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode="bilinear", align_corners=True)``."""

    def __init__(
        self, size: int | tuple[int, int] | None = None, scale_factor: float | None = None
    ) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class PixelShuffle(Module):
    """Rearrange (*, C r², H, W) into (*, C, H r, W r): sub-pixel upsampling.

    Args:
        upscale_factor: r.

    Shape:
        - Input: (*, C r², H, W).
        - Output: (*, C, H r, W r).
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = positive_int(upscale_factor, "upscale_factor")

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """Rearrange (*, C, H r, W r) into (*, C r², H, W): the inverse of ``PixelShuffle``.

    Args:
        downscale_factor: r.

    Shape:
        - Input: (*, C, H r, W r).
        - Output: (*, C r², H, W).
    """

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = positive_int(downscale_factor, "downscale_factor")

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
