"""The functional API for linear, normalisation and dropout."""

from __future__ import annotations

__all__: list[str] = []
