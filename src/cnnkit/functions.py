"""Tensor factories and global random state (``torch.zeros``, ``torch.manual_seed`` ...)."""

from __future__ import annotations

__all__: list[str] = []
