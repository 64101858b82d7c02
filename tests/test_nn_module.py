"""Module, Parameter and containers: registration, state_dict parity with torch, modes, repr."""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from tests.helpers import assert_close

import cnnkit
from cnnkit import nn


def torch_state_as_numpy(module: torch.nn.Module) -> OrderedDict[str, np.ndarray]:
    return OrderedDict((k, v.detach().numpy()) for k, v in module.state_dict().items())


def small_cnn(lib):  # type: ignore[no-untyped-def]
    """The same architecture in cnnkit (lib=nn) or torch (lib=torch.nn)."""
    return lib.Sequential(
        OrderedDict(
            [
                ("features", lib.Sequential(lib.Linear(6, 8), lib.BatchNorm1d(8), lib.ReLU())),
                ("drop", lib.Dropout(0.2)),
                ("norms", lib.ModuleList([lib.LayerNorm(8), lib.GroupNorm(2, 8)])),
                ("heads", lib.ModuleDict({"cls": lib.Linear(8, 3), "box": lib.Linear(8, 4)})),
            ]
        )
    )


class TwoLayer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 5)
        self.scale = nn.Parameter(np.ones(5, np.float32))
        self.register_buffer("steps", cnnkit.tensor(np.zeros(1, np.float32)))
        self.register_buffer("cache", cnnkit.tensor(np.zeros(2, np.float32)), persistent=False)
        self.fc2 = nn.Linear(5, 2, bias=False)
        self.note = "plain attribute"

    def forward(self, x: cnnkit.Tensor) -> cnnkit.Tensor:
        return self.fc2(self.fc1(x) * self.scale)


class TorchTwoLayer(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(4, 5)
        self.scale = torch.nn.Parameter(torch.ones(5))
        self.register_buffer("steps", torch.zeros(1))
        self.register_buffer("cache", torch.zeros(2), persistent=False)
        self.fc2 = torch.nn.Linear(5, 2, bias=False)


# --- registration --------------------------------------------------------------------------
def test_attribute_assignment_registers_parameters_buffers_and_modules() -> None:
    model = TwoLayer()
    assert [name for name, _ in model.named_parameters()] == [
        "scale",
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
    ]
    assert [name for name, _ in model.named_buffers()] == ["steps", "cache"]
    assert [name for name, _ in model.named_children()] == ["fc1", "fc2"]
    assert [name for name, _ in model.named_modules()] == ["", "fc1", "fc2"]
    assert model.note == "plain attribute"
    assert isinstance(model.scale, nn.Parameter) and model.scale.requires_grad
    assert len(list(model.parameters(recurse=False))) == 1
    assert len(list(model.children())) == 2 and len(list(model.modules())) == 3


def test_parameter_defaults_and_sharing() -> None:
    source = cnnkit.tensor(np.zeros(3, np.float32))
    param = nn.Parameter(source)
    assert param.requires_grad and param.data is source.data
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad
    assert repr(param).startswith("Parameter containing:\n")
    param.grad = np.ones(3, np.float32)
    clone = copy.deepcopy(param)
    assert isinstance(clone, nn.Parameter) and clone.data is not param.data
    np.testing.assert_array_equal(clone.grad, param.grad)
    assert clone.grad is not param.grad
    assert isinstance(pickle.loads(pickle.dumps(param)), nn.Parameter)


def test_shared_module_and_parameter_are_listed_once() -> None:
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert [name for name, _ in model.named_modules()] == ["", "0", "1"]
    torch_shared = torch.nn.Linear(3, 3)
    torch_model = torch.nn.Sequential(torch_shared, torch.nn.ReLU(), torch_shared)
    assert list(model.state_dict()) == list(torch_model.state_dict())


def test_reassignment_moves_between_registries_and_none_is_allowed() -> None:
    model = TwoLayer()
    model.fc1 = None
    assert model.fc1 is None and "fc1" not in dict(model.named_children())
    model.fc1 = nn.Parameter(np.ones(2, np.float32))
    assert "fc1" in dict(model.named_parameters(recurse=False))
    model.steps = None
    assert "steps" not in model.state_dict()
    del model.fc2
    assert not hasattr(model, "fc2")


@pytest.mark.parametrize(
    ("action", "error", "match"),
    [
        (lambda m: setattr(m, "scale", np.ones(5)), TypeError, "parameter 'scale'"),
        (lambda m: setattr(m, "fc1", 3), TypeError, "child module 'fc1'"),
        (lambda m: setattr(m, "steps", [1.0]), TypeError, "buffer 'steps'"),
        (lambda m: m.register_buffer("x", np.ones(2)), TypeError, "buffer 'x'"),
        (lambda m: m.register_buffer("a.b", None), KeyError, "contain"),
        (lambda m: m.register_parameter("", None), KeyError, "empty"),
        (lambda m: m.register_parameter("fc1", None), KeyError, "already exists"),
        (lambda m: m.register_parameter("w", np.ones(2)), TypeError, "Parameter or None"),
        (lambda m: m.add_module("x", 5), TypeError, "not a Module"),
        (lambda m: m.add_module(3, nn.ReLU()), TypeError, "string"),
        (lambda m: m.missing, AttributeError, "no attribute 'missing'"),
        (lambda m: m.train("yes"), ValueError, "boolean"),
        (lambda m: m.to(np.int32), TypeError, "floating"),
    ],
)
def test_registration_errors(action, error, match) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error, match=match):
        action(TwoLayer())


def test_assignment_before_init_is_an_error() -> None:
    class Broken(nn.Module):
        def __init__(self) -> None:
            self.w = nn.Parameter(np.ones(1))

    with pytest.raises(AttributeError, match="before Module.__init__"):
        Broken()


def test_forward_is_required() -> None:
    with pytest.raises(NotImplementedError, match='missing "forward"'):
        nn.Module()(1)


# --- state_dict ----------------------------------------------------------------------------
def test_state_dict_keys_order_and_shapes_equal_torch() -> None:
    ours, theirs = small_cnn(nn), small_cnn(torch.nn)
    ours_state, torch_state = ours.state_dict(), torch_state_as_numpy(theirs)
    assert list(ours_state) == list(torch_state)
    for key, value in torch_state.items():
        assert ours_state[key].shape == value.shape, key
        assert ours_state[key].dtype == value.dtype, key
    assert list(TwoLayer().state_dict()) == list(TorchTwoLayer().state_dict())


def test_state_dict_returns_copies_unless_keep_vars() -> None:
    model = nn.Linear(2, 2)
    state = model.state_dict()
    state["weight"][...] = 7
    assert not np.any(model.weight.data == 7)
    assert model.state_dict(keep_vars=True)["weight"] is model.weight
    assert list(model.state_dict(prefix="net.")) == ["net.weight", "net.bias"]


def test_load_torch_state_dict_gives_torch_outputs(rng: np.random.Generator) -> None:
    ours, theirs = small_cnn(nn), small_cnn(torch.nn)
    theirs.train()
    x = rng.standard_normal((5, 6)).astype(np.float32)
    theirs.features(torch.from_numpy(x))  # move the running statistics off their defaults
    theirs.eval()
    result = ours.load_state_dict(torch_state_as_numpy(theirs))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == repr(theirs.load_state_dict(theirs.state_dict()))
    ours.eval()
    for key, value in torch_state_as_numpy(theirs).items():
        np.testing.assert_array_equal(ours.state_dict()[key], value)
    features = ours.features[:2](cnnkit.tensor(x))
    torch_features = theirs.features[:2](torch.from_numpy(x))
    assert_close(features.numpy(), torch_features.detach().numpy(), 1e-5, "features")
    for name in ("cls", "box"):
        assert_close(
            ours.heads[name](features).numpy(),
            theirs.heads[name](torch_features).detach().numpy(),
            1e-5,
            name,
        )


def test_load_state_dict_keeps_parameter_identity_and_casts() -> None:
    model = nn.Linear(3, 2)
    weight = model.weight
    state = {k: cnnkit.tensor(v.astype(np.float64) + 1) for k, v in model.state_dict().items()}
    model.load_state_dict(state)
    assert model.weight is weight and weight.dtype == np.float32
    np.testing.assert_allclose(weight.data, state["weight"].data.astype(np.float32))


def test_load_state_dict_strict_errors_name_the_keys() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    state = model.state_dict()
    del state["1.running_var"]
    state["extra"] = np.zeros(1)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "Error(s) in loading state_dict for Sequential" in message
    assert 'Missing key(s) in state_dict: "1.running_var"' in message
    assert 'Unexpected key(s) in state_dict: "extra"' in message
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["1.running_var"] and result.unexpected_keys == ["extra"]


def test_load_state_dict_shape_mismatch_fails_even_when_not_strict() -> None:
    model = nn.Linear(3, 2)
    before = model.weight.data.copy()
    state = model.state_dict()
    state["weight"] = np.zeros((3, 2), np.float32)
    state["bias"] = np.full(2, 5, np.float32)
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: copying a param with shape"):
        model.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(model.weight.data, before)  # nothing half-loaded
    assert not np.any(model.bias.data == 5)
    with pytest.raises(TypeError, match="dict-like"):
        model.load_state_dict([1, 2])


# --- modes, grads, dtype, apply ------------------------------------------------------------
def test_train_eval_propagate() -> None:
    model = small_cnn(nn)
    assert all(m.training for m in model.modules())
    assert model.eval() is model and not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_and_requires_grad() -> None:
    model = nn.Linear(3, 2)
    model(cnnkit.tensor(np.ones((1, 3), np.float32))).sum().backward()
    assert model.weight.grad is not None
    model.zero_grad(set_to_none=False)
    assert np.all(model.weight.grad == 0)
    model.zero_grad()
    assert model.weight.grad is None
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())


def test_to_double_float_casts_floating_state_only() -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)).double()
    assert model[0].weight.dtype == np.float64 and model[1].running_mean.dtype == np.float64
    assert model[1].num_batches_tracked.dtype == np.int64
    out = model(cnnkit.tensor(np.ones((4, 3))))
    assert out.dtype == np.float64
    assert model.float()[0].weight.dtype == np.float32
    assert model.to("cpu") is model


def test_apply_visits_children_first() -> None:
    visited: list[str] = []
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU()))
    assert model.apply(lambda m: visited.append(type(m).__name__)) is model
    assert visited == ["Linear", "ReLU", "Sequential", "Sequential"]


# --- containers ----------------------------------------------------------------------------
def test_sequential_indexing_slicing_and_deletion() -> None:
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    model = nn.Sequential(*layers)
    assert len(model) == 3 and list(model) == layers
    assert model[-1] is layers[2] and model[0] is layers[0]
    head = model[1:]
    assert isinstance(head, nn.Sequential) and list(head.state_dict()) == ["2.weight", "2.bias"]
    model[1] = nn.Tanh()
    assert isinstance(model[1], nn.Tanh)
    del model[0]
    torch_model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    del torch_model[0]
    assert list(model.state_dict()) == list(torch_model.state_dict())
    model.append(nn.Sigmoid())
    assert len(model) == 3
    with pytest.raises(IndexError, match="out of range"):
        model[3]
    with pytest.raises(TypeError, match="integers or slices"):
        model["0"]


def test_sequential_runs_modules_in_order(rng: np.random.Generator) -> None:
    ours = nn.Sequential(nn.Linear(4, 3), nn.Identity(), nn.Linear(3, 2))
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Identity(), torch.nn.Linear(3, 2))
    ours.load_state_dict(torch_state_as_numpy(theirs))
    x = rng.standard_normal((6, 4)).astype(np.float32)
    assert_close(
        ours(cnnkit.tensor(x)).numpy(),
        theirs(torch.from_numpy(x)).detach().numpy(),
        1e-5,
        "sequential",
    )


def test_module_list_and_dict() -> None:
    blocks = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])
    blocks.append(nn.Linear(2, 1))
    blocks += [nn.Tanh()]
    blocks.insert(0, nn.Identity())
    assert len(blocks) == 5 and isinstance(blocks[0], nn.Identity)
    assert isinstance(blocks[-1], nn.Tanh) and len(blocks[1:3]) == 2
    torch_blocks = torch.nn.ModuleList(
        [torch.nn.Identity(), torch.nn.Linear(2, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1)]
    )
    assert list(blocks.state_dict()) == list(torch_blocks.state_dict())
    del blocks[0]
    assert list(blocks.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(TypeError, match="iterable"):
        blocks.extend(nn.ReLU())

    heads = nn.ModuleDict([("a", nn.Linear(1, 1))])
    heads["b"] = nn.ReLU()
    heads.update({"c": nn.Linear(1, 2)})
    assert list(heads) == ["a", "b", "c"] and "b" in heads and len(heads) == 3
    assert list(heads.keys()) == ["a", "b", "c"]
    assert isinstance(heads.pop("b"), nn.ReLU) and list(heads.state_dict())[-1] == "c.bias"
    with pytest.raises(ValueError, match="element #0"):
        heads.update([("x",)])


# --- repr ----------------------------------------------------------------------------------
def test_repr_matches_torch() -> None:
    assert repr(small_cnn(nn)) == repr(small_cnn(torch.nn))
    assert repr(nn.Linear(3, 4, bias=False)) == repr(torch.nn.Linear(3, 4, bias=False))
    assert repr(nn.Sequential()) == repr(torch.nn.Sequential())


def test_deepcopy_and_pickle_give_independent_equal_models(rng: np.random.Generator) -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    x = cnnkit.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone[0].weight is not model[0].weight
        assert isinstance(clone[0].weight, nn.Parameter)
        np.testing.assert_array_equal(clone(x).numpy(), model(x).numpy())
    clone = copy.deepcopy(model)
    clone[0].weight.data[...] = 0
    assert np.any(model[0].weight.data != 0)


def test_forward_hooks_and_get_submodule() -> None:
    model = nn.Sequential(
        OrderedDict([("features", nn.Sequential(nn.Linear(2, 3))), ("act", nn.ReLU())])
    )
    assert model.get_submodule("features.0") is model.features[0]
    assert model.get_submodule("") is model
    with pytest.raises(AttributeError, match="no submodule named 'x'"):
        model.get_submodule("features.x")
    seen: list[tuple[int, ...]] = []
    handle = model.features.register_forward_hook(lambda m, args, out: seen.append(out.shape))
    doubled = model.act.register_forward_pre_hook(lambda m, args: args[0] * 2)
    x = cnnkit.tensor(np.ones((4, 2), np.float32))
    reference = model.features(x).relu().numpy()
    np.testing.assert_allclose(model(x).numpy(), 2 * reference)
    assert seen == [(4, 3), (4, 3)]
    handle.remove()
    doubled.remove()
    with model.act.register_forward_hook(lambda m, args, out: out * 0):
        assert np.all(model(x).numpy() == 0)
    np.testing.assert_allclose(model(x).numpy(), reference)
    assert len(seen) == 2


def small_convnet(lib):  # type: ignore[no-untyped-def]
    return lib.Sequential(
        lib.Conv2d(3, 8, 3, padding=1, bias=False),
        lib.BatchNorm2d(8),
        lib.ReLU(),
        lib.MaxPool2d(2),
        lib.Conv2d(8, 6, 3, padding="same", padding_mode="reflect"),
        lib.GroupNorm(2, 6),
        lib.GELU(),
        lib.AdaptiveAvgPool2d(2),
        lib.Flatten(),
        lib.Linear(24, 5),
        lib.LogSoftmax(dim=1),
    )


@pytest.mark.parametrize("training", [True, False])
def test_converted_torch_convnet_matches_end_to_end(
    training: bool, rng: np.random.Generator
) -> None:
    theirs = small_convnet(torch.nn)
    theirs.train()
    warmup = rng.standard_normal((4, 3, 8, 8)).astype(np.float32) * 3 + 1
    theirs(torch.from_numpy(warmup))  # running statistics away from their defaults
    ours = small_convnet(nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(torch_state_as_numpy(theirs))
    ours.train(training)
    theirs.train(training)
    x = rng.standard_normal((4, 3, 8, 8)).astype(np.float32)
    our_out = ours(cnnkit.tensor(x))
    torch_out = theirs(torch.from_numpy(x))
    assert_close(our_out.numpy(), torch_out.detach().numpy(), 1e-5, "output")
    upstream = rng.standard_normal(tuple(torch_out.shape)).astype(np.float32)
    our_out.backward(upstream)
    torch_out.backward(torch.from_numpy(upstream))
    torch_params = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        assert_close(param.grad, torch_params[name].grad.numpy(), 1e-4, f"{name} gradient")
    for key, value in torch_state_as_numpy(theirs).items():
        assert_close(ours.state_dict()[key], value, 1e-5, key)


def test_parameter_list_and_dict() -> None:
    params = nn.ParameterList([np.ones(3, np.float32), nn.Parameter(np.zeros((2, 2), np.float32))])
    params.append(cnnkit.tensor(np.ones(1, np.float32)))
    assert len(params) == 3 and all(isinstance(p, nn.Parameter) for p in params)
    assert params[0].requires_grad and isinstance(params[1:], nn.ParameterList)
    torch_params = torch.nn.ParameterList([torch.ones(3), torch.zeros(2, 2), torch.ones(1)])
    assert list(params.state_dict()) == list(torch_params.state_dict())
    assert "(1): Parameter containing: [float32 of size 2x2]" in repr(params)
    params[0] = np.full(3, 2.0, np.float32)
    assert params[0].numpy()[0] == 2.0
    with pytest.raises(TypeError, match="iterable"):
        params.extend(cnnkit.tensor(np.ones(2, np.float32)))

    table = nn.ParameterDict({"scale": np.ones(2, np.float32)})
    table["shift"] = nn.Parameter(np.zeros(2, np.float32))
    torch_table = torch.nn.ParameterDict({"scale": torch.ones(2), "shift": torch.zeros(2)})
    assert list(table.state_dict()) == list(torch_table.state_dict())
    assert "shift" in table and list(table) == ["scale", "shift"] and len(table) == 2
    model = nn.Module()
    model.extra = table
    assert [name for name, _ in model.named_parameters()] == ["extra.scale", "extra.shift"]
    assert isinstance(table.pop("scale"), nn.Parameter) and list(table.keys()) == ["shift"]
    with pytest.raises(ValueError, match="element #0"):
        table.update([("x",)])
