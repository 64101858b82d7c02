"""``DataLoader``: batches from a dataset, shuffled by a seeded generator.

Single-process by design: the heavy work (convolutions) already runs on all cores, and the
image pipeline is vectorised per batch (``ImageDataset.__getitems__``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from cnnkit.data._random import numpy_generator
from cnnkit.tensor import Tensor

__all__ = ["DataLoader", "default_collate"]


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch of ``Tensor`` s, like ``torch``'s default_collate.

    Tuples and lists are collated field by field, dicts key by key; arrays and tensors are
    stacked along a new first dimension; Python ints become an int64 tensor, floats a float32
    one (as ``torch.tensor`` does).
    """
    first = batch[0]
    if isinstance(first, Tensor):
        return Tensor(np.stack([sample.data for sample in batch]))
    if isinstance(first, np.ndarray | np.generic):
        return Tensor(np.stack(batch))
    if isinstance(first, bool | int | float):
        return Tensor(list(batch))
    if isinstance(first, str):
        return list(batch)
    if isinstance(first, dict):
        return {key: default_collate([sample[key] for sample in batch]) for key in first}
    if isinstance(first, tuple | list):
        sizes = {len(sample) for sample in batch}
        if len(sizes) != 1:
            raise ValueError(f"each sample in a batch must have the same size, got {sorted(sizes)}")
        fields = [default_collate(list(field)) for field in zip(*batch, strict=True)]
        return fields if isinstance(first, list) else tuple(fields)
    raise TypeError(f"default_collate cannot batch samples of type {type(first).__name__}")


class DataLoader:
    """Iterate over ``dataset`` in batches of ``Tensor`` s.

    Args:
        dataset: a dataset (``__getitem__`` and ``__len__``; ``__getitems__`` is used if present).
        batch_size: samples per batch.
        shuffle: draw a new random order at the start of every pass.
        sampler: an iterable of indices that fixes the order itself (excludes ``shuffle``).
        collate_fn: turns a list of samples into a batch (default: ``default_collate``).
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        generator: random source for ``shuffle``; ``None`` for the library-wide generator.

    Example:
        >>> loader = DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)
        >>> for images, labels in loader:
        ...     loss = F.cross_entropy(model(images), labels)
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        sampler: Iterable[int] | None = None,
        *,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        drop_last: bool = False,
        generator: Any = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if shuffle and sampler is not None:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.sampler = sampler
        self.collate_fn = collate_fn or default_collate
        self.drop_last = bool(drop_last)
        self.generator = generator

    def _indices(self) -> np.ndarray:
        if self.sampler is not None:
            return np.fromiter(self.sampler, dtype=np.int64)
        if self.shuffle:
            return numpy_generator(self.generator).permutation(len(self.dataset))
        return np.arange(len(self.dataset))

    def __iter__(self) -> Iterator[Any]:
        indices = self._indices()
        stop = len(indices) - len(indices) % self.batch_size if self.drop_last else len(indices)
        fetch_batch = getattr(self.dataset, "__getitems__", None)
        for start in range(0, stop, self.batch_size):
            chosen = indices[start : start + self.batch_size]
            if fetch_batch is not None:
                samples = fetch_batch(chosen)
            else:
                samples = [self.dataset[int(i)] for i in chosen]
            yield self.collate_fn(samples)

    def __len__(self) -> int:
        count = len(self.sampler) if self.sampler is not None else len(self.dataset)  # type: ignore[arg-type]
        if self.drop_last:
            return count // self.batch_size
        return -(-count // self.batch_size)
