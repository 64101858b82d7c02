"""Training loop, checkpoints, curves and the ``train``/``eval``/``predict`` commands."""
