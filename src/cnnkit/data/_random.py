"""Where the data pipeline gets its random numbers.

Everything random in ``cnnkit.data`` (shuffling, ``random_split``, random transforms) accepts a
``generator`` argument, as in PyTorch. ``None`` means the library-wide generator that
``cnnkit.manual_seed`` seeds, so one seed makes a whole training run reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def numpy_generator(generator: Any = None) -> np.random.Generator:
    """The ``numpy.random.Generator`` behind ``generator``.

    Args:
        generator: ``None`` (the library-wide generator), a ``numpy.random.Generator``, or a
            ``cnnkit.Generator``.
    """
    if generator is None:
        from cnnkit import functions

        return functions.default_generator.numpy()
    if isinstance(generator, np.random.Generator):
        return generator
    if hasattr(generator, "numpy"):
        return generator.numpy()
    raise TypeError(
        "generator must be None, a numpy.random.Generator or a cnnkit.Generator, "
        f"got {type(generator).__name__}"
    )
