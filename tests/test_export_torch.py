"""Export and reload of the torch modules: TorchScript, torch.export, ONNX, torch.compile, pickle.

Every path is checked for inference values against the eager module. Only
eager mode and torch.compile keep the spec's custom gradient; the other paths
record torch's own ops, whose derivatives differ at breakpoints, NaN and +-inf.
"""

import io
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import relu_xf  # noqa: E402
import relu_xf.torch as rt  # noqa: E402
from relu_xf.parity import bounds, round_to_dtype, ulp_error  # noqa: E402

SPECIAL = [float("-inf"), -50.0, -3.0, -1e-30, -0.0, 0.0, 1e-30, 0.5, 3.0, 6.0, 45.0]
NON_FINITE = [float("inf"), float("nan")]


def _modules():
    return [
        rt.ReLU(),
        rt.ReLU(0.1, 4.0, 0.5),
        rt.ReLU(max_value=6.0),
        rt.ReLU(max_value=2.0),
        rt.LeakyReLU(0.2),
        rt.ELU(0.5),
        rt.SELU(),
        rt.CELU(2.0),
        rt.ReLU6(),
        rt.ThresholdedReLU(0.7),
        rt.SquaredReLU(),
        rt.GELU(),
        rt.GELU("tanh"),
        rt.SiLU(),
        rt.SiLU(1.7),
        rt.SiLU(0.0),
        rt.Mish(),
        rt.Softplus(2.0, 10.0),
        rt.HardSigmoid(),
        rt.HardSwish(),
        rt.CReLU(),
        rt.RReLU().eval(),
        _prelu(),
        _prelu(channel_axis=-1),
    ]


def _prelu(channel_axis=1):
    module = rt.PReLU(3, channel_axis=channel_axis)
    with torch.no_grad():
        module.weight.copy_(torch.tensor([0.1, -0.7, 2.5]))
    return module


MODULES = _modules()
IDS = [repr(m) for m in MODULES]


def _input(dtype=torch.float32, non_finite=True):
    values = SPECIAL + (NON_FINITE if non_finite else [0.25, -0.25])
    # Shape (13, 3): three channels for PReLU along axis 1 and axis -1.
    x = torch.tensor(values, dtype=torch.float64).repeat_interleave(3).reshape(-1, 3)
    return (x * torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)).to(dtype)


def _bits(t):
    width = {2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()]
    return t.detach().contiguous().view(width)


def _assert_identical(actual, expected):
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert torch.equal(_bits(actual), _bits(expected))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_jit_script_save_load_identical(module, dtype):
    x = _input(dtype)
    expected = module(x)
    scripted = torch.jit.script(module)
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    _assert_identical(scripted(x), expected)
    _assert_identical(loaded(x), expected)


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_jit_trace_save_load_identical(module):
    x = _input()
    expected = module(x)
    traced = torch.jit.trace(module, (x,), check_trace=False)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    _assert_identical(loaded(x), expected)


def test_jit_script_inplace_overwrites_input():
    x = _input()
    expected = rt.ELU(0.5)(x.clone())
    scripted = torch.jit.script(rt.ELU(0.5, inplace=True))
    out = scripted(x)
    assert out.data_ptr() == x.data_ptr()
    _assert_identical(x, expected)


def test_jit_script_rrelu_training_draws_in_range():
    scripted = torch.jit.script(rt.RReLU(0.1, 0.3))
    x = -torch.ones(10_000)
    slopes = -scripted(x)
    assert slopes.min().item() >= 0.1
    assert slopes.max().item() <= 0.3
    assert slopes.std().item() > 0.01


@pytest.mark.parametrize("module", MODULES, ids=IDS)
def test_torch_export_save_load_identical(module):
    x = _input()
    expected = module(x)
    program = torch.export.export(module, (x,))
    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    buffer.seek(0)
    loaded = torch.export.load(buffer)
    _assert_identical(program.module()(x), expected)
    _assert_identical(loaded.module()(x), expected)


def test_prelu_state_dict_survives_export():
    module = _prelu()
    program = torch.export.export(module, (_input(),))
    state = program.state_dict
    assert torch.equal(state["weight"], module.weight.detach())


ONNX_OPSET = 20  # Gelu is a native ONNX op from opset 20, Celu from opset 12.


def _reference(module, x):
    """Return the float64 reference output of a module for float64 input ``x``."""
    if isinstance(module, rt.PReLU):
        function = relu_xf.get("prelu", backend="numpy", channel_axis=module.channel_axis)
        return function(x, module.weight.detach().double().numpy())
    variant = relu_xf.spec("rrelu") if isinstance(module, rt.RReLU) else module.variant
    params = dict(module.params)
    return relu_xf.get(variant.name, backend="numpy", **params)(x)


# onnxruntime 1.32's CPU kernels for these ops lose the contract at special inputs:
# Elu, Selu and Celu compute exp(x) - 1, which is 0 for |x| below about 6e-8,
# and the Gelu, Sigmoid, Softplus and HardSwish lowerings give NaN or a wrong
# limit at +-inf. Ordinary inputs stay within the bounds.
ORT_SPECIAL_GAPS = {
    "ELU(alpha=0.5)",
    "SELU()",
    "CELU(alpha=2.0)",
    "GELU()",
    "GELU(approximate='tanh')",
    "SiLU()",
    "Mish()",
    "HardSwish()",
}
ORDINARY = [-30.0, -3.0, -1.25, -0.5, -0.0, 0.0, 0.25, 0.5, 1.0, 3.0, 6.5, 30.0]


def _onnx_cases():
    for module, name in zip(MODULES, IDS, strict=True):
        for inputs in ("ordinary", "special"):
            marks = ()
            if name == "HardSigmoid()" and inputs == "ordinary":
                # onnxruntime's HardSigmoid multiplies by a float32 alpha = 1/6, which is
                # 3 float32 ULPs off at x = -1.25 against the 1-ULP bound.
                marks = pytest.mark.xfail(
                    reason="onnxruntime rounds alpha = 1/6 to float32", strict=True
                )
            elif inputs == "special" and name in ORT_SPECIAL_GAPS:
                marks = pytest.mark.xfail(
                    reason="onnxruntime's kernel misses the contract at tiny or infinite "
                    "inputs (see ORT_SPECIAL_GAPS)",
                    strict=True,
                )
            yield pytest.param(module, inputs, id=f"{name}-{inputs}", marks=marks)


@pytest.mark.parametrize("module, inputs", list(_onnx_cases()))
def test_onnx_export_matches_reference(module, inputs, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    module = module.eval()
    if inputs == "special":
        x = _input(non_finite=False)
    else:
        values = torch.tensor(ORDINARY, dtype=torch.float64).repeat_interleave(3).reshape(-1, 3)
        x = (values * torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)).float()
    expected = module(x)
    path = tmp_path / "model.onnx"
    torch.onnx.export(module, (x,), str(path), dynamo=True, opset_version=ONNX_OPSET)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (actual,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert actual.dtype == np.float32
    assert actual.shape == tuple(expected.shape)
    # onnxruntime has its own kernels for exp, erf and tanh, so its values are
    # held to the variant's float32 ULP bound against the float64 reference,
    # not to equality with torch.
    variant = (
        relu_xf.spec("prelu")
        if isinstance(module, rt.PReLU)
        else (relu_xf.spec("rrelu") if isinstance(module, rt.RReLU) else module.variant)
    )
    x64 = x.double().numpy()
    reference = round_to_dtype(_reference(module, x64), "float32")
    scale = np.abs(reference)
    if variant.error_scale == "input":
        scale = np.maximum(
            scale, np.abs(np.concatenate([x64, x64], -1) if variant.name == "crelu" else x64)
        )
    error = ulp_error(actual.astype(np.float64), reference, scale, "float32")
    value_bound, _ = bounds(variant, "float32")
    assert np.max(error) <= value_bound


@pytest.mark.parametrize("name", ["gelu", "celu"])
def test_onnx_uses_native_op(name, tmp_path):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    module = {"gelu": rt.GELU(), "celu": rt.CELU(2.0)}[name]
    path = tmp_path / "model.onnx"
    torch.onnx.export(
        module, (_input(non_finite=False),), str(path), dynamo=True, opset_version=ONNX_OPSET
    )
    ops = {node.op_type for node in onnx.load(str(path)).graph.node}
    assert {"gelu": "Gelu", "celu": "Celu"}[name] in ops


@pytest.mark.parametrize(
    "module", [rt.ELU(0.5), rt.GELU(), rt.LeakyReLU(0.2), rt.CReLU()], ids=repr
)
def test_torch_compile_keeps_values_and_gradient(module):
    x = _input(torch.float64)
    compiled = torch.compile(module, dynamic=False)
    _assert_identical_or_ulp(compiled(x), module(x))
    eager_x = x.clone().requires_grad_(True)
    compiled_x = x.clone().requires_grad_(True)
    (eager_grad,) = torch.autograd.grad(module(eager_x).sum(), eager_x)
    (compiled_grad,) = torch.autograd.grad(compiled(compiled_x).sum(), compiled_x)
    torch.testing.assert_close(compiled_grad, eager_grad, equal_nan=True, rtol=1e-15, atol=0)


def _assert_identical_or_ulp(actual, expected):
    torch.testing.assert_close(actual, expected, equal_nan=True, rtol=1e-15, atol=0)


def test_pickle_keeps_values_and_prelu_weights():
    for module in MODULES:
        clone = pickle.loads(pickle.dumps(module))
        x = _input()
        _assert_identical(clone(x), module(x))
    prelu = _prelu()
    restored = rt.PReLU(3)
    restored.load_state_dict(pickle.loads(pickle.dumps(prelu.state_dict())))
    assert torch.equal(restored.weight, prelu.weight)
