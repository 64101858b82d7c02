"""The training loop behind ``cnnkit train``: run directory, checkpoints, resume, evaluation.

A run directory holds::

    run.json                 config, per-epoch metrics, final result (updated every epoch)
    model.safetensors        the latest weights (a plain state_dict, loadable by PyTorch too)
    checkpoint.safetensors   everything needed to continue: model, optimizer, scheduler,
                             random generator, epoch, metrics
    curves.png               loss and accuracy per epoch

Every file is rewritten atomically at the end of each epoch. ``Trainer.resume(run_dir)``
continues an interrupted run bit for bit: with the same seed (and thread count) the loss of
every step is the same as in an uninterrupted run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

import cnnkit
from cnnkit import nn, optim
from cnnkit.data.loader import DataLoader
from cnnkit.functions import get_generator, manual_seed
from cnnkit.models import get_model
from cnnkit.nn import functional as F
from cnnkit.tensor import no_grad
from cnnkit.training.checkpoint import (
    CheckpointError,
    atomic_write_bytes,
    load_checkpoint,
    load_weights,
    save_checkpoint,
    save_weights,
)
from cnnkit.training.curves import plot_curves
from cnnkit.training.datasets import DataSpec, get_data_spec

__all__ = ["TrainConfig", "Trainer", "evaluate", "load_run", "RunError"]

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "cosine", "step", "onecycle")
DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3}
RUN_FILE = "run.json"
WEIGHTS_FILE = "model.safetensors"
CHECKPOINT_FILE = "checkpoint.safetensors"
CURVES_FILE = "curves.png"
EVAL_BATCH_SIZE = 500


class RunError(RuntimeError):
    """A run directory that cannot be used: missing, incomplete, or already finished."""


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (saved in ``run.json``).

    Args:
        model: model name (``cnnkit.models.MODELS``).
        data: data set name (``cnnkit.training.datasets.DATASETS``).
        data_dir: directory of the data set's files (``None``: its default place).
        epochs: passes over the training set.
        batch_size: images per step.
        optimizer: ``sgd`` (with momentum), ``adam`` or ``adamw``.
        lr: learning rate (peak lr for ``onecycle``); ``None`` for the optimizer's default.
        momentum: SGD momentum.
        weight_decay: L2 penalty (decoupled for AdamW).
        scheduler: ``none``, ``cosine`` (per step, to zero), ``step`` (x0.1 after 1/2 and 3/4
            of the epochs) or ``onecycle``.
        seed: seeds ``cnnkit.manual_seed``: initialisation, shuffling, augmentation, dropout.
        augment: random augmentation of training images; ``None`` for the data set's default.
        limit_train: use only the first N training images.
        limit_test: use only the first N test images.
    """

    model: str = "lenet5"
    data: str = "mnist"
    data_dir: str | None = None
    epochs: int = 10
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float | None = None
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "cosine"
    seed: int = 0
    augment: bool | None = None
    limit_train: int | None = None
    limit_test: int | None = None

    def __post_init__(self) -> None:
        self.model = self.model.lower().replace("_", "-")
        self.data = self.data.lower().replace("_", "-")
        get_data_spec(self.data)
        get_model(self.model)  # raises ValueError on unknown names, before any work is done
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("limit_train", "limit_test"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {OPTIMIZERS}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}; choose one of {SCHEDULERS}")
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optimizer]
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr!r}")


def _default_run_dir(config: TrainConfig) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path("runs") / f"{config.model}-{config.data}-{stamp}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path("runs") / f"{config.model}-{config.data}-{stamp}-{suffix}"
    return path


def _make_optimizer(config: TrainConfig, model: nn.Module) -> optim.Optimizer:
    params = list(model.parameters())
    if config.optimizer == "sgd":
        return optim.SGD(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.optimizer == "adam":
        return optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def _make_scheduler(
    config: TrainConfig, optimizer: optim.Optimizer, steps_per_epoch: int
) -> optim.lr_scheduler.LRScheduler | None:
    """A schedule stepped once per batch (so short runs anneal smoothly)."""
    total = config.epochs * steps_per_epoch
    if config.scheduler == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total)
    if config.scheduler == "step":
        milestones = [total // 2, total * 3 // 4]
        return optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.1)
    if config.scheduler == "onecycle":
        return optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total)
    return None


def evaluate(
    model: nn.Module, loader: DataLoader, progress: bool = False, desc: str = "test"
) -> dict[str, float]:
    """Mean cross-entropy loss and accuracy of ``model`` (in eval mode) over ``loader``."""
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    with no_grad():
        for images, labels in tqdm(loader, desc=desc, leave=False, disable=not progress):
            logits = model(images)
            total_loss += float(F.cross_entropy(logits, labels, reduction="sum").item())
            correct += int((logits.data.argmax(1) == labels.data).sum())
            count += len(labels)
    model.train(was_training)
    return {"loss": total_loss / count, "accuracy": correct / count}


class Trainer:
    """Trains one model on one data set and keeps its run directory up to date.

    Args:
        config: the run's settings.
        run_dir: where to write (default ``runs/<model>-<data>-<timestamp>``).
        progress: show tqdm progress bars.
        log: where one-line messages go (``print`` by default).

    Example:
        >>> trainer = Trainer(TrainConfig(epochs=2, limit_train=512))
        >>> result = trainer.fit()
        >>> result["test_accuracy"]
    """

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | os.PathLike[str] | None = None,
        progress: bool = True,
        log: Callable[[str], None] = print,
    ) -> None:
        self.config = config
        self.run_dir = Path(run_dir) if run_dir is not None else _default_run_dir(config)
        self.progress = progress
        self.log = log
        self.spec: DataSpec = get_data_spec(config.data)
        augment = self.spec.augment_by_default if config.augment is None else config.augment
        self.train_set = self.spec.load(True, config.data_dir, augment, config.limit_train)
        self.test_set = self.spec.load(False, config.data_dir, False, config.limit_test)
        if len(self.train_set) < config.batch_size:
            raise ValueError(
                f"batch_size={config.batch_size} is larger than the {len(self.train_set)} "
                "training images"
            )
        manual_seed(config.seed)
        self.model = get_model(config.model, len(self.spec.classes), self.spec.in_channels)
        # drop_last: every step sees a full batch (batch norm needs more than one image).
        self.train_loader = DataLoader(
            self.train_set, batch_size=config.batch_size, shuffle=True, drop_last=True
        )
        self.test_loader = DataLoader(self.test_set, batch_size=EVAL_BATCH_SIZE)
        self.optimizer = _make_optimizer(config, self.model)
        self.scheduler = _make_scheduler(config, self.optimizer, len(self.train_loader))
        self.history: list[dict[str, Any]] = []
        self.epoch = 0

    # --- resuming ------------------------------------------------------------------------------
    @classmethod
    def resume(
        cls,
        run_dir: str | os.PathLike[str],
        progress: bool = True,
        log: Callable[[str], None] = print,
        data_dir: str | None = None,
    ) -> Trainer:
        """Reopen ``run_dir`` at its last checkpoint, ready to ``fit()`` the remaining epochs.

        Raises:
            RunError: ``run_dir`` is not a run directory.
            CheckpointError: its checkpoint is missing, truncated or foreign.
        """
        record = _read_run_record(run_dir)
        config = TrainConfig(**record["config"])
        if data_dir is not None:
            config.data_dir = data_dir
        trainer = cls(config, run_dir, progress, log)
        trainer.load_state(load_checkpoint(Path(run_dir) / CHECKPOINT_FILE))
        return trainer

    def state(self) -> dict[str, Any]:
        """Everything needed to continue bit-exactly after ``self.epoch``."""
        return {
            "epoch": self.epoch,
            "model": dict(self.model.state_dict()),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "generator": get_generator().bit_generator.state,
            "history": self.history,
            "config": dataclasses.asdict(self.config),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        """Restore a ``state()`` (as read back by ``load_checkpoint``)."""
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            get_generator().bit_generator.state = state["generator"]
            self.history = list(state["history"])
            self.epoch = int(state["epoch"])
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(
                f"checkpoint does not fit this run ({type(error).__name__}: {error})"
            ) from None

    # --- training ------------------------------------------------------------------------------
    def train_epoch(self) -> dict[str, Any]:
        """One pass over the training set; returns the epoch's training metrics."""
        self.model.train()
        step_losses: list[float] = []
        correct = seen = 0
        start = time.perf_counter()
        bar = tqdm(
            self.train_loader,
            desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
            unit="batch",
            disable=not self.progress,
            dynamic_ncols=True,
        )
        for images, labels in bar:
            logits = self.model(images)
            loss = F.cross_entropy(logits, labels)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            step_losses.append(float(loss.item()))
            correct += int((logits.data.argmax(1) == labels.data).sum())
            seen += len(labels)
            if not math.isfinite(step_losses[-1]):
                raise FloatingPointError(
                    f"loss became {step_losses[-1]} at epoch {self.epoch + 1}, step "
                    f"{len(step_losses)}; try a smaller --lr"
                )
            bar.set_postfix(
                loss=f"{np.mean(step_losses[-20:]):.4f}",
                acc=f"{correct / seen:.3f}",
                img_s=f"{seen / (time.perf_counter() - start):.0f}",
                refresh=False,
            )
        seconds = time.perf_counter() - start
        return {
            "train_loss": float(np.mean(step_losses)),
            "train_accuracy": correct / seen,
            "images_per_second": seen / seconds,
            "train_seconds": seconds,
            "lr": float(self.optimizer.param_groups[0]["lr"]),
            "step_losses": step_losses,
        }

    def fit(self, on_epoch_end: Callable[[Trainer], None] | None = None) -> dict[str, Any]:
        """Train the remaining epochs, checkpointing after each; return the final result.

        Args:
            on_epoch_end: called after each epoch's files are written (e.g. to stop early).
        """
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.epoch == 0:
            self._write_record(status="running")
        while self.epoch < self.config.epochs:
            metrics = self.train_epoch()
            test = evaluate(self.model, self.test_loader, self.progress)
            self.epoch += 1
            self.history.append(
                {
                    "epoch": self.epoch,
                    **metrics,
                    "test_loss": test["loss"],
                    "test_accuracy": test["accuracy"],
                }
            )
            self.log(
                f"epoch {self.epoch}/{self.config.epochs}: train loss {metrics['train_loss']:.4f}"
                f" acc {metrics['train_accuracy']:.2%} | test loss {test['loss']:.4f}"
                f" acc {test['accuracy']:.2%} | {metrics['images_per_second']:.0f} img/s"
            )
            self.save()
            if on_epoch_end is not None:
                on_epoch_end(self)
        return self.result()

    def result(self) -> dict[str, Any]:
        """Final metrics: the last epoch's test loss and accuracy, and total training time."""
        last = self.history[-1] if self.history else {}
        return {
            "epochs": self.epoch,
            "test_loss": last.get("test_loss"),
            "test_accuracy": last.get("test_accuracy"),
            "train_seconds": sum(row["train_seconds"] for row in self.history),
        }

    # --- files ---------------------------------------------------------------------------------
    def save(self) -> None:
        """Write weights, checkpoint, run.json and curves for the current epoch (atomically)."""
        tags = {"model": self.config.model, "data": self.config.data, "epoch": str(self.epoch)}
        save_weights(self.run_dir / WEIGHTS_FILE, self.model.state_dict(), tags)
        save_checkpoint(self.run_dir / CHECKPOINT_FILE, self.state())
        finished = self.epoch >= self.config.epochs
        self._write_record(status="finished" if finished else "running")
        curves = self.run_dir / CURVES_FILE
        temporary = curves.with_name(f".{CURVES_FILE}.tmp-{os.getpid()}")
        plot_curves(self.history, temporary)
        os.replace(temporary, curves)

    def _write_record(self, status: str) -> None:
        record = {
            "cnnkit_version": cnnkit.__version__,
            "status": status,
            "config": dataclasses.asdict(self.config),
            "classes": self.spec.classes,
            "num_threads": cnnkit.get_num_threads(),
            "result": self.result(),
            "history": self.history,
        }
        payload = json.dumps(record, indent=1).encode()
        atomic_write_bytes(self.run_dir / RUN_FILE, payload)


def _read_run_record(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(run_dir)
    if not path.is_dir():
        raise RunError(f"run directory {str(path)!r} does not exist")
    record_path = path / RUN_FILE
    if not record_path.is_file():
        raise RunError(f"{str(path)!r} is not a cnnkit run directory (it has no {RUN_FILE})")
    try:
        record = json.loads(record_path.read_text())
        TrainConfig(**record["config"])
    except (ValueError, KeyError, TypeError) as error:
        raise RunError(f"{record_path} is damaged: {error}") from None
    return record


def load_run(run_dir: str | os.PathLike[str]) -> tuple[TrainConfig, nn.Module, DataSpec]:
    """The config, the trained model (eval mode) and the data spec of a run directory.

    Raises:
        RunError: ``run_dir`` is not a run directory.
        CheckpointError: its weights are missing, truncated or foreign.
    """
    record = _read_run_record(run_dir)
    config = TrainConfig(**record["config"])
    spec = get_data_spec(config.data)
    model = get_model(config.model, len(spec.classes), spec.in_channels)
    weights, _ = load_weights(Path(run_dir) / WEIGHTS_FILE)
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        raise CheckpointError(
            f"{Path(run_dir) / WEIGHTS_FILE} does not fit {config.model}: {error}"
        ) from None
    return config, model.eval(), spec
