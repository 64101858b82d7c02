"""Pictures: convolution animations in the style of Dumoulin & Visin, kernels, feature maps."""

from cnnkit.viz.animation import (
    GALLERY,
    ConvolutionAnimation,
    ConvolutionPlan,
    animate_convolution,
    plan_convolution,
    write_gallery,
)
from cnnkit.viz.plots import feature_maps, plot_feature_maps, plot_kernels

__all__ = [
    "GALLERY",
    "ConvolutionAnimation",
    "ConvolutionPlan",
    "animate_convolution",
    "feature_maps",
    "plan_convolution",
    "plot_feature_maps",
    "plot_kernels",
    "write_gallery",
]
