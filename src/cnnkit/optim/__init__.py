"""Optimizers and learning-rate schedules with PyTorch's exact update rules."""

from cnnkit.optim import lr_scheduler
from cnnkit.optim.adam import Adam, AdamW
from cnnkit.optim.optimizer import Optimizer
from cnnkit.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
