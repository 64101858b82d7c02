"""The functional API for interpolate, pixel_shuffle and pixel_unshuffle."""

from __future__ import annotations

__all__: list[str] = []
