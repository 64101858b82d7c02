"""Where the data pipeline gets its random numbers.

Everything random in ``cnnkit.data`` (shuffling, ``random_split``, random transforms) accepts a
``generator`` argument, as in PyTorch. ``None`` means the library-wide generator that
``cnnkit.manual_seed`` seeds, so one seed makes a whole training run reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cnnkit.functions import get_generator


def numpy_generator(generator: Any = None) -> np.random.Generator:
    """The ``numpy.random.Generator`` to draw from: ``generator``, or the library-wide one.

    Args:
        generator: ``None`` (the library-wide generator) or a ``numpy.random.Generator``.
    """
    if generator is None:
        return get_generator()
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(
        f"generator must be None or a numpy.random.Generator, got {type(generator).__name__}"
    )
