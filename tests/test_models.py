"""cnnkit.models against their PyTorch twins: state_dict keys, outputs and gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests import torch_twins
from tests.helpers import assert_close

import cnnkit
from cnnkit import models

# (name, in_channels, image side): the shapes the models are meant for.
CASES = [
    ("lenet5", 1, 28),
    ("small-cnn", 1, 28),
    ("vgg-small", 3, 32),
    ("vgg-small", 1, 28),
    ("resnet20", 3, 32),
    ("resnet20", 1, 28),
]


def _pair(name: str, in_channels: int, dtype=torch.float32):
    torch.manual_seed(0)
    twin = torch_twins.TWINS[name](10, in_channels).to(dtype)
    ours = models.get_model(name, 10, in_channels)
    ours.load_state_dict({key: value.numpy() for key, value in twin.state_dict().items()})
    if dtype == torch.float64:
        ours.double()
    return ours, twin


@pytest.mark.parametrize("name", sorted(models.MODELS))
@pytest.mark.parametrize("in_channels", [1, 3])
def test_state_dict_keys_and_shapes_match_torch(name, in_channels):
    ours = models.get_model(name, 10, in_channels).state_dict()
    theirs = torch_twins.TWINS[name](10, in_channels).state_dict()
    assert list(ours) == list(theirs)
    for key, value in theirs.items():
        assert ours[key].shape == tuple(value.shape), key


def _train_step_pair(name: str, in_channels: int, side: int, dtype: torch.dtype):
    """Both models in train mode after one forward and backward of the same batch."""
    ours, twin = _pair(name, in_channels, dtype)
    ours.train(), twin.train()
    if name == "small-cnn":  # dropout draws from different generators: compare without it
        ours.classifier[2].p = twin.classifier[2].p = 0.0
    np_dtype = np.dtype(str(dtype).removeprefix("torch."))
    x = np.random.default_rng(1).standard_normal((4, in_channels, side, side)).astype(np_dtype)
    out = ours(cnnkit.Tensor(x))
    expected = twin(torch.from_numpy(x))
    assert out.shape == (4, 10)
    assert_close(out.data, expected.detach().numpy(), 1e-5, "logits")
    upstream = np.random.default_rng(2).standard_normal((4, 10)).astype(np_dtype)
    out.backward(upstream)
    expected.backward(torch.from_numpy(upstream))
    return ours, twin


@pytest.mark.parametrize(("name", "in_channels", "side"), CASES)
def test_forward_and_running_statistics_match_torch(name, in_channels, side):
    ours, twin = _train_step_pair(name, in_channels, side, torch.float32)
    # Batch norm running statistics were updated the same way.
    our_state = ours.state_dict()
    for key, value in twin.state_dict().items():
        assert_close(our_state[key], value.numpy(), 1e-5, key)


@pytest.mark.parametrize(("name", "in_channels", "side"), CASES)
def test_parameter_gradients_match_torch(name, in_channels, side):
    """Compared in float64: in float32 some pre-activations lie within rounding of 0 (in
    vgg-small on 1 channel the least is 5e-8 of the largest), so a different but equally
    exact summation order puts one on the other side of a ReLU and moves every gradient
    upstream of it by ~1 %. Float32 gradients are compared op by op in the op tests."""
    ours, twin = _train_step_pair(name, in_channels, side, torch.float64)
    our_params = dict(ours.named_parameters())
    for key, param in twin.named_parameters():
        assert_close(our_params[key].grad, param.grad.numpy(), 1e-4, f"grad of {key}")


@pytest.mark.parametrize(("name", "in_channels", "side"), [CASES[1], CASES[4]])
def test_eval_mode_uses_running_statistics_like_torch(name, in_channels, side):
    ours, twin = _pair(name, in_channels)
    with torch.no_grad():  # non-trivial running statistics, the same on both sides
        for module in twin.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    ours.load_state_dict({key: value.numpy() for key, value in twin.state_dict().items()})
    ours.eval(), twin.eval()
    x = np.random.default_rng(3).standard_normal((3, in_channels, side, side)).astype(np.float32)
    with cnnkit.no_grad(), torch.no_grad():
        assert_close(ours(cnnkit.Tensor(x)).data, twin(torch.from_numpy(x)).numpy(), 1e-5, "out")


def test_resnet20_structure():
    model = models.resnet20()
    count = sum(p.numel() for p in model.parameters())
    assert count == sum(p.numel() for p in torch_twins.resnet20().parameters())
    assert 260_000 < count < 280_000  # the paper's 0.27 M
    convs = [m for m in model.modules() if isinstance(m, cnnkit.nn.Conv2d)]
    # 19 3x3 convolutions + 2 projection shortcuts (option B) = 21; the "20" counts the fc.
    assert sum(c.kernel_size == (3, 3) for c in convs) == 19
    assert sum(c.kernel_size == (1, 1) for c in convs) == 2
    assert model.layer2[0].downsample is not None and model.layer2[1].downsample is None


def test_get_model_rejects_unknown_names_and_accepts_underscores():
    with pytest.raises(ValueError, match="unknown model 'alexnet'.*lenet5"):
        models.get_model("alexnet")
    assert isinstance(models.get_model("VGG_small"), models.VGG)
