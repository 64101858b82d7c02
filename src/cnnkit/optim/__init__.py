"""Optimizers and learning-rate schedules with PyTorch's exact update rules."""
