"""Training loop, checkpoints, curves and the ``train``/``eval``/``predict`` commands.

Imported lazily by the command line; ``from cnnkit.training.trainer import Trainer`` for the
Python API.
"""
