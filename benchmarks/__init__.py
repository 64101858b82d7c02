"""Speed comparisons with PyTorch (not tests): ``python -m benchmarks.ops``."""
