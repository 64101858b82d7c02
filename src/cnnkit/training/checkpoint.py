"""Checkpoints and weight files in safetensors format (no pickle anywhere).

A checkpoint is a nested state (dicts, lists, numbers, strings, arrays): the model's and the
optimizer's ``state_dict``, the scheduler's, the random generators', the epoch and the
metrics. Its arrays go into the safetensors file as tensors, named by their path in the state
(``model/conv1.weight``, ``optimizer/state/0/momentum_buffer``); everything else becomes a JSON
skeleton in the file's metadata, with ``{"__tensor__": name}`` where an array was.

Files are written atomically (temporary file in the same directory, then ``os.replace``), so
an interrupted save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load_file, save

from cnnkit.tensor import Tensor

__all__ = [
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "save_weights",
    "load_weights",
    "atomic_write_bytes",
]

CHECKPOINT_FORMAT = "cnnkit-checkpoint"
WEIGHTS_FORMAT = "cnnkit-weights"
FORMAT_VERSION = "1"
_TENSOR_KEY = "__tensor__"


class CheckpointError(RuntimeError):
    """A checkpoint or weight file that cannot be read: missing, truncated or foreign."""


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that readers see either the old or the new file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(temporary, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _contiguous(array: np.ndarray) -> np.ndarray:
    """C-contiguous, as safetensors needs; unlike ``np.ascontiguousarray`` keeps 0-d arrays 0-d
    (``num_batches_tracked``)."""
    return np.asarray(array, order="C")


def _flatten(state: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON skeleton of ``state``; its arrays are moved into ``arrays`` under their path."""
    if isinstance(state, Tensor):
        state = state.data
    if isinstance(state, np.ndarray):
        arrays[path] = _contiguous(state)
        return {_TENSOR_KEY: path}
    if isinstance(state, np.generic):
        return state.item()
    if isinstance(state, dict):
        if _TENSOR_KEY in state:
            raise ValueError(f"state at {path!r} uses the reserved key {_TENSOR_KEY!r}")
        # JSON keys are strings; int keys (optimizer state) are tagged to come back as ints.
        return {
            (f"int:{key}" if isinstance(key, int) else str(key)): _flatten(
                value, f"{path}/{key}", arrays
            )
            for key, value in state.items()
        }
    if isinstance(state, list | tuple):
        return [_flatten(value, f"{path}/{i}", arrays) for i, value in enumerate(state)]
    if state is None or isinstance(state, bool | int | float | str):
        return state
    raise TypeError(f"cannot store {type(state).__name__} at {path!r} in a checkpoint")


def _unflatten(skeleton: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(skeleton, dict):
        if set(skeleton) == {_TENSOR_KEY}:
            return arrays[skeleton[_TENSOR_KEY]]
        return {
            (int(key[4:]) if key.startswith("int:") else key): _unflatten(value, arrays)
            for key, value in skeleton.items()
        }
    if isinstance(skeleton, list):
        return [_unflatten(value, arrays) for value in skeleton]
    return skeleton


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Save a nested ``state`` (see the module docstring) atomically to ``path``."""
    arrays: dict[str, np.ndarray] = {}
    skeleton = _flatten(state, "", arrays)
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "version": FORMAT_VERSION,
        "state": json.dumps(skeleton),
    }
    atomic_write_bytes(path, save(arrays, metadata=metadata))


def _read(path: str | os.PathLike[str], expected_format: str) -> tuple[dict, dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        arrays = load_file(path)
        with safe_open(path, framework="numpy") as file:
            metadata = file.metadata() or {}
    except (SafetensorError, ValueError, OSError) as error:
        raise CheckpointError(
            f"{path}: not a readable safetensors file (truncated or corrupt?): {error}"
        ) from None
    found = metadata.get("format")
    if found != expected_format:
        raise CheckpointError(
            f"{path}: not a {expected_format} file (its format tag is {found!r}); "
            "was it written by another program?"
        )
    if metadata.get("version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: format version {metadata.get('version')!r}, this cnnkit reads "
            f"version {FORMAT_VERSION}"
        )
    return arrays, metadata


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``.

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, or not a cnnkit checkpoint.
    """
    arrays, metadata = _read(path, CHECKPOINT_FORMAT)
    try:
        return _unflatten(json.loads(metadata["state"]), arrays)
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"{path}: damaged checkpoint state ({error!r})") from None


def save_weights(
    path: str | os.PathLike[str],
    state_dict: dict[str, Any],
    metadata: dict[str, str] | None = None,
) -> None:
    """Save a model's ``state_dict`` as a flat safetensors file (keys as in PyTorch).

    The file also loads in PyTorch: ``model.load_state_dict(safetensors.torch.load_file(path))``.
    """
    arrays = {
        name: _contiguous(value.data if isinstance(value, Tensor) else value)
        for name, value in state_dict.items()
    }
    tags = {"format": WEIGHTS_FORMAT, "version": FORMAT_VERSION, **(metadata or {})}
    atomic_write_bytes(path, save(arrays, metadata=tags))


def load_weights(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Read ``(state_dict, metadata)`` written by ``save_weights``.

    Raises:
        CheckpointError: the file is missing, truncated, corrupt, or not cnnkit weights.
    """
    return _read(path, WEIGHTS_FORMAT)
