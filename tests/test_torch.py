"""PyTorch backend: modules, in-place rules, PReLU, RReLU, gradients and errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import relu_xf  # noqa: E402
import relu_xf.torch as rt  # noqa: E402
from relu_xf._variants import SELU_ALPHA, SELU_SCALE, VARIANTS  # noqa: E402
from relu_xf.parity import param_cases, run_case  # noqa: E402


def _grad(function, x, *extra):
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(function(x, *extra).sum(), x)
    return g


@pytest.mark.parametrize(
    ("name", "params", "x", "expected"),
    [
        ("relu", {}, 0.0, 0.0),
        ("leaky", {"negative_slope": 0.2}, 0.0, 0.2),
        ("elu", {"alpha": 0.5}, 0.0, 0.5),
        ("selu", {}, 0.0, SELU_SCALE * SELU_ALPHA),
        ("relu6", {}, 0.0, 0.0),
        ("relu6", {}, 6.0, 0.0),
        ("hard_swish", {}, -3.0, 0.0),
        ("hard_swish", {}, 3.0, 1.5),
    ],
)
def test_gradient_at_breakpoint(name, params, x, expected):
    g = _grad(relu_xf.get(name, backend="torch", **params), torch.tensor([x], dtype=torch.float64))
    assert g.item() == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    "name", ["relu", "leaky_relu", "elu", "gelu", "silu", "mish", "hard_swish"]
)
def test_nan_gives_nan_value_and_gradient(name):
    f = relu_xf.get(name, backend="torch")
    x = torch.tensor([float("nan"), 1.0])
    assert torch.isnan(f(x)[0])
    assert torch.isnan(_grad(f, x)[0])


@pytest.mark.parametrize("name", ["gelu", "silu", "mish", "hard_swish"])
def test_negative_infinity_gives_zero(name):
    f = relu_xf.get(name, backend="torch")
    x = torch.tensor([-float("inf")])
    assert f(x).item() == 0.0
    assert _grad(f, x).item() == 0.0


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.bool, torch.complex64])
def test_non_float_input_raises_type_error(dtype):
    with pytest.raises(TypeError, match=r"leaky_relu \(torch\): input dtype .* is not supported"):
        relu_xf.get("leaky", backend="torch")(torch.zeros(3, dtype=dtype))


def test_numpy_input_raises_type_error():
    with pytest.raises(TypeError, match=r"expected a torch.Tensor, got numpy.ndarray"):
        relu_xf.get("relu", backend="torch")(np.ones(3))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("value", [0.2, np.float64(0.2), np.array(0.2)])
def test_output_keeps_input_dtype(dtype, value):
    for name in ("leaky", "gelu", "silu"):
        params = {"negative_slope": value} if name == "leaky" else {}
        y = relu_xf.get(name, backend="torch", **params)(torch.ones(4, dtype=dtype))
        assert y.dtype == dtype


def test_apply_picks_torch_backend():
    y = relu_xf.apply("leaky", torch.tensor([-1.0, 2.0]), negative_slope=0.5)
    assert y.tolist() == [-0.5, 2.0]


@pytest.mark.parametrize(
    ("module", "text"),
    [
        (rt.LeakyReLU(), "LeakyReLU()"),
        (rt.LeakyReLU(0.2, inplace=True), "LeakyReLU(negative_slope=0.2, inplace=True)"),
        (rt.GELU("tanh"), "GELU(approximate='tanh')"),
        (rt.ReLU(max_value=6.0), "ReLU(max_value=6.0)"),
        (rt.PReLU(3), "PReLU(num_parameters=3)"),
        (rt.RReLU(), "RReLU(lower=0.125, upper=0.3333333333333333)"),
        (rt.CReLU(axis=1), "CReLU(axis=1)"),
    ],
)
def test_module_repr_shows_parameters(module, text):
    assert repr(module) == text


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_layer_factory_builds_every_module(variant):
    module = relu_xf.layer(variant.name, backend="torch")
    x = torch.randn(2, 3)
    assert isinstance(module, torch.nn.Module)
    assert module(x).shape[0] == 2


def test_module_validates_parameters():
    with pytest.raises(ValueError, match=r"celu: parameter alpha=0.0 is out of range"):
        rt.CELU(alpha=0.0)
    with pytest.raises(ValueError, match=r"num_parameters=0 is invalid"):
        rt.PReLU(num_parameters=0)


def test_prelu_channel_weights_and_gradient_match_reference():
    module = rt.PReLU(num_parameters=3, init=0.1)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([0.1, 0.2, 0.3]))
    x = torch.randn(4, 3, 5, dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    xg = x.clone().requires_grad_(True)
    y = module(xg)
    y.sum().backward()
    f = relu_xf.get("prelu", backend="numpy")
    w = module.weight.detach().numpy()
    np.testing.assert_allclose(y.detach().numpy(), f(x.numpy(), w), rtol=1e-6)
    np.testing.assert_allclose(
        module.weight.grad.numpy(), f.weight_gradient(x.numpy(), w), rtol=1e-5
    )
    np.testing.assert_allclose(xg.grad.numpy(), f.gradient(x.numpy(), w), rtol=1e-6)


def test_prelu_channels_last_axis():
    module = rt.PReLU(num_parameters=2, channel_axis=-1)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([0.5, 0.25]))
    y = module(torch.tensor([[-1.0, -1.0], [2.0, -4.0]]))
    assert y.tolist() == [[-0.5, -0.25], [2.0, -1.0]]


def test_prelu_weight_shape_mismatch_raises():
    with pytest.raises(ValueError, match=r"weight has 3 slopes but the input has 4 channels"):
        rt.PReLU(3)(torch.ones(2, 4))


def test_prelu_state_dict_and_pickle_keep_weights():
    module = rt.PReLU(2)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([0.7, -0.1]))
    restored = rt.PReLU(2)
    restored.load_state_dict(module.state_dict())
    assert restored.weight.tolist() == pytest.approx([0.7, -0.1])
    clone = pickle.loads(pickle.dumps(module))
    x = torch.tensor([[-1.0, -1.0]])
    assert torch.equal(clone(x), module(x))


def test_modules_pickle_round_trip():
    for module in (rt.ELU(0.5), rt.GELU("tanh"), rt.RReLU(0.1, 0.2), rt.CReLU()):
        clone = pickle.loads(pickle.dumps(module))
        x = torch.linspace(-3, 3, 13).reshape(1, 13)
        module.eval()
        clone.eval()
        assert torch.equal(clone(x), module(x))
        assert repr(clone) == repr(module)


def test_rrelu_follows_train_and_eval():
    module = rt.RReLU()
    x = -torch.ones(20000)
    module.train()
    y = module(x)
    assert (y <= -1 / 8).all()
    assert (y >= -1 / 3).all()
    assert y.std() > 0.01
    module.eval()
    assert torch.all(module(x) == -(1 / 8 + 1 / 3) / 2)


def test_rrelu_training_gradient_uses_same_slopes():
    f = relu_xf.get("rrelu", backend="torch", training=True)
    x = (-torch.rand(1000) - 0.1).requires_grad_(True)
    y = f(x, generator=torch.Generator().manual_seed(3))
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, y.detach() / x.detach())


@pytest.mark.parametrize(
    ("module", "x"),
    [
        (rt.ReLU(inplace=True), [-1.0, 0.0, 2.0]),
        (rt.LeakyReLU(0.1, inplace=True), [-1.0, 0.0, 2.0]),
        (rt.ELU(0.5, inplace=True), [-1.0, 0.0, 2.0]),
        (rt.SELU(inplace=True), [-1.0, 0.0, 2.0]),
        (rt.CELU(2.0, inplace=True), [-1.0, 0.0, 2.0]),
        (rt.ReLU6(inplace=True), [-1.0, 0.0, 6.0, 7.0, 3.0]),
        (rt.HardSigmoid(inplace=True), [-4.0, -3.0, 0.0, 3.0]),
    ],
)
def test_inplace_gradient_matches_out_of_place(module, x):
    reference = type(module)(**{k: v for k, v in module.params.items()})
    leaf = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    expected = _grad(reference, leaf.detach())
    hidden = leaf * 1.0
    out = module(hidden)
    assert out.data_ptr() == hidden.data_ptr()
    out.sum().backward()
    torch.testing.assert_close(leaf.grad, expected)


@pytest.mark.parametrize(
    "module",
    [
        rt.SiLU(inplace=True),
        rt.Mish(inplace=True),
        rt.HardSwish(inplace=True),
        rt.ThresholdedReLU(inplace=True),
    ],
)
def test_inplace_raises_when_gradient_needs_input(module):
    x = torch.randn(4, requires_grad=True) * 1.0
    with pytest.raises(
        ValueError, match=r"inplace=True cannot be used when the input requires grad"
    ):
        module(x)


def test_inplace_negative_slope_with_grad_raises():
    x = torch.randn(4, requires_grad=True) * 1.0
    with pytest.raises(ValueError, match="inplace=True cannot be used"):
        rt.LeakyReLU(-0.5, inplace=True)(x)


def test_inplace_without_grad_overwrites_input():
    for module in (rt.SiLU(inplace=True), rt.ReLU(inplace=True), rt.GELU()):
        x = torch.linspace(-3, 3, 7)
        expected = type(module)()(x.clone())
        out = module(x)
        torch.testing.assert_close(out, expected)
    x = torch.linspace(-3, 3, 7)
    out = rt.SiLU(inplace=True)(x)
    assert out.data_ptr() == x.data_ptr()


def test_crelu_doubles_axis_and_matches_gradient():
    f = relu_xf.get("crelu", backend="torch", axis=1)
    x = torch.tensor([[-2.0, 0.0, 3.0]])
    assert f(x).tolist() == [[0.0, 0.0, 3.0, 2.0, 0.0, 0.0]]
    xg = x.clone().requires_grad_(True)
    upstream = torch.arange(6.0).reshape(1, 6)
    (g,) = torch.autograd.grad(f(xg), xg, upstream)
    # d/dx of relu(x) * u1 + relu(-x) * u2 is u1 where x > 0 and -u2 where x < 0.
    assert g.tolist() == [[-3.0, 0.0, 2.0]]


def test_crelu_axis_out_of_range_raises():
    with pytest.raises(
        ValueError, match=r"crelu: axis=3 is out of range for an input with 2 dimensions"
    ):
        relu_xf.get("crelu", backend="torch", axis=3)(torch.ones(2, 2))


def test_no_grad_path_skips_custom_function():
    f = relu_xf.get("leaky", backend="torch")
    x = torch.randn(8, requires_grad=True)
    with torch.no_grad():
        y = f(x)
    assert y.grad_fn is None
    assert f(x).grad_fn is not None


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.name)
def test_torch_compile_matches_reference(variant):
    for overrides in param_cases(variant)[:1]:
        result = run_case(rt, "torch", "compiled", variant, overrides, "float32")
        assert result.passed, "; ".join(result.failures)


def test_crelu_compiles_at_second_size_in_new_process(tmp_path):
    # TorchInductor's cached graph of a preallocated out= crelu kept the size it was
    # compiled at, so a second process compiling another size failed.
    import os
    import subprocess
    import sys

    code = (
        "import sys, torch, relu_xf\n"
        "f = torch.compile(relu_xf.get('crelu', backend='torch'), dynamic=True)\n"
        "x = torch.randn(int(sys.argv[1]), 64)\n"
        "assert torch.equal(f(x), relu_xf.get('crelu', backend='torch')(x))\n"
    )
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=str(tmp_path / "inductor"))
    for rows in ("4096", "64"):
        run = subprocess.run(
            [sys.executable, "-c", code, rows], env=env, capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stderr[-2000:]
