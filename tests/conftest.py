import os

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, settings

import cnnkit

# PyTorch is the oracle; one thread keeps it deterministic and leaves the cores to xdist.
torch.set_num_threads(1)
# Two xdist workers share two cores: a second BLAS thread per worker only oversubscribes them.
cnnkit.set_num_threads(1)

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("CNNKIT_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
settings.load_profile("default")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
