"""Bad input on every backend: wrong framework, non-float dtypes, invalid parameters, shapes, names."""

import numpy as np
import pytest

import relu_xf

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
jax = pytest.importorskip("jax")
jnp = jax.numpy

import relu_xf.jax as rj  # noqa: E402
import relu_xf.numpy as rn  # noqa: E402
import relu_xf.tf as rtf  # noqa: E402
import relu_xf.torch as rt  # noqa: E402

FUNCTIONS = {"numpy": rn, "torch": rt, "tf": rtf, "jax": rj}
LABELS = {"torch": "PyTorch", "tf": "TensorFlow", "jax": "JAX"}


def _tensor(framework, values, dtype="float32"):
    array = np.asarray(values, dtype=dtype)
    if framework == "numpy":
        return array
    if framework == "torch":
        return torch.from_numpy(array)
    if framework == "tf":
        return tf.constant(array)
    return jnp.asarray(array)


# Wrong framework ---------------------------------------------------------------

FOREIGN = [
    (backend, source)
    for backend in ("torch", "tf", "jax")
    for source in ("torch", "tf", "jax")
    if backend != source
]


@pytest.mark.parametrize("backend, source", FOREIGN)
@pytest.mark.parametrize("name", ["relu", "gelu", "crelu"])
def test_foreign_tensor_names_both_frameworks(backend, source, name):
    function = getattr(FUNCTIONS[backend], name)
    with pytest.raises(TypeError) as info:
        function(_tensor(source, [[-1.0, 2.0]]))
    message = str(info.value)
    assert f"{name} ({backend})" in message
    assert f"the input is a {LABELS[source]} tensor" in message
    assert f"takes {LABELS[backend]} tensors" in message
    assert f"relu_xf.{source}.{name}" in message


@pytest.mark.parametrize("backend, source", FOREIGN)
def test_foreign_prelu_weight_names_both_frameworks(backend, source):
    x = _tensor(backend, [[-1.0, 2.0]])
    with pytest.raises(TypeError, match=f"the weight is a {LABELS[source]} tensor"):
        FUNCTIONS[backend].prelu(x, _tensor(source, [0.25, 0.5]))


def test_foreign_tensor_through_get_for_jax():
    function = relu_xf.get("elu", backend="jax", alpha=0.5)
    with pytest.raises(TypeError, match=r"elu \(jax\): the input is a PyTorch tensor"):
        function(torch.ones(2))


def test_foreign_tensor_raises_before_tensor_work():
    x = torch.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="PyTorch tensor"):
        rtf.relu(x)
    assert x.grad is None


@pytest.mark.parametrize("backend", ["tf", "jax"])
@pytest.mark.parametrize("value", [np.array([-1.0, 2.0], np.float32), -1.5, [-1.0, 2.0]])
def test_array_likes_accepted_by_tf_and_jax(backend, value):
    y = FUNCTIONS[backend].relu(value)
    assert np.asarray(y).tolist() == np.maximum(np.asarray(value), 0).tolist()


def test_torch_rejects_numpy_input():
    with pytest.raises(
        TypeError, match=r"relu \(torch\): expected a torch.Tensor, got numpy.ndarray"
    ):
        rt.relu(np.ones(2, np.float32))


# Non-float dtypes --------------------------------------------------------------

BAD_DTYPES = ["int32", "int64", "bool", "complex64"]


@pytest.mark.parametrize("backend", ["numpy", "torch", "tf", "jax"])
@pytest.mark.parametrize("dtype", BAD_DTYPES)
@pytest.mark.parametrize("name", ["relu", "silu", "crelu", "rrelu"])
def test_non_float_input_raises_type_error(backend, dtype, name):
    x = _tensor(backend, [1, 0], dtype)
    with pytest.raises(
        TypeError,
        match=rf"{name} \({backend}\): input dtype {dtype if (backend, dtype) != ('jax', 'int64') else 'int(32|64)'} is not supported",
    ):
        getattr(FUNCTIONS[backend], name)(x)


@pytest.mark.parametrize("backend", ["torch", "tf", "jax"])
@pytest.mark.parametrize("dtype", BAD_DTYPES)
def test_non_float_prelu_weight_raises_type_error(backend, dtype):
    x = _tensor(backend, [[-1.0, 2.0]])
    weight = _tensor(backend, [1, 0], dtype)
    with pytest.raises(
        TypeError,
        match=rf"prelu \({backend}\): weight dtype {dtype if (backend, dtype) != ('jax', 'int64') else 'int(32|64)'} is not supported",
    ):
        FUNCTIONS[backend].prelu(x, weight)


def test_numpy_non_float_prelu_weight_raises():
    with pytest.raises(TypeError, match="weight dtype int32 is not supported"):
        rn.prelu(np.ones((1, 2)), np.ones(2, np.int32))


@pytest.mark.parametrize("backend", ["torch", "tf", "jax"])
def test_python_number_weight_is_a_float_slope(backend):
    x = _tensor(backend, [[-2.0, 2.0]])
    for weight in (1, [1, 2]):
        y = np.asarray(FUNCTIONS[backend].prelu(x, weight)).astype(np.float64)
        assert y[0, 0] == -2.0


# Invalid parameters ------------------------------------------------------------

INVALID = [
    (
        "celu",
        {"alpha": 0.0},
        ValueError,
        r"celu: parameter alpha=0.0 is out of range; alpha must be a finite number > 0",
    ),
    (
        "softplus",
        {"beta": 0.0},
        ValueError,
        r"softplus: parameter beta=0.0 is out of range; beta must be a finite number > 0",
    ),
    (
        "relu",
        {"max_value": 0.0},
        ValueError,
        r"relu: max_value=0.0 must be greater than threshold=0.0",
    ),
    (
        "relu",
        {"max_value": 1.0, "threshold": 2.0},
        ValueError,
        r"max_value=1.0 must be greater than threshold=2.0",
    ),
    (
        "rrelu",
        {"lower": 0.5, "upper": 0.1},
        ValueError,
        r"rrelu: lower=0.5 must not exceed upper=0.1",
    ),
    (
        "leaky_relu",
        {"negative_slope": float("nan")},
        ValueError,
        r"negative_slope=nan is not finite",
    ),
    (
        "leaky_relu",
        {"negative_slope": float("inf")},
        ValueError,
        r"negative_slope=inf is not finite",
    ),
    ("elu", {"alpha": -float("inf")}, ValueError, r"alpha=-inf is not finite"),
    (
        "leaky_relu",
        {"negative_slope": "0.1"},
        TypeError,
        r"negative_slope='0.1' is not a real number",
    ),
    (
        "leaky_relu",
        {"negative_slope": True},
        TypeError,
        r"negative_slope=True is not a real number",
    ),
    ("crelu", {"axis": 1.5}, TypeError, r"crelu: parameter axis=1.5 is not an integer"),
    ("gelu", {"approximate": "erf"}, ValueError, r"gelu: parameter approximate='erf' is not valid"),
    ("rrelu", {"training": 1}, TypeError, r"rrelu: parameter training=1 is not a bool"),
    (
        "relu",
        {"slope": 0.1},
        TypeError,
        r"relu: unexpected parameter slope=0.1; relu accepts negative_slope",
    ),
]


@pytest.mark.parametrize("backend", ["numpy", "torch", "tf", "jax"])
@pytest.mark.parametrize("name, params, error, pattern", INVALID)
def test_invalid_parameter_raises(backend, name, params, error, pattern):
    with pytest.raises(error, match=pattern):
        relu_xf.get(name, backend=backend, **params)
    with pytest.raises(error, match=pattern):
        getattr(FUNCTIONS[backend], name)(_tensor(backend, [[1.0, -1.0]]), **params)


@pytest.mark.parametrize(
    "module, params, pattern",
    [
        (rt.CELU, {"alpha": 0.0}, "alpha=0.0 is out of range"),
        (rt.Softplus, {"beta": float("nan")}, "beta=nan is not finite"),
        (rt.ReLU, {"max_value": -1.0}, "max_value=-1.0 must be greater than threshold"),
        (rt.RReLU, {"lower": 0.4, "upper": 0.2}, "lower=0.4 must not exceed upper=0.2"),
    ],
)
def test_torch_module_rejects_invalid_parameters(module, params, pattern):
    with pytest.raises(ValueError, match=pattern):
        module(**params)


# Shapes and axes ---------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "torch", "tf", "jax"])
@pytest.mark.parametrize("axis", [2, -3, 7])
def test_crelu_axis_out_of_range_raises(backend, axis):
    with pytest.raises(
        ValueError,
        match=rf"crelu: axis={axis} is out of range for an input with 2 dimensions; axis must be in \[-2, 1\]",
    ):
        FUNCTIONS[backend].crelu(_tensor(backend, [[1.0, -1.0]]), axis=axis)


@pytest.mark.parametrize("backend", ["numpy", "torch", "tf", "jax"])
def test_prelu_weight_size_mismatch_raises(backend):
    x = _tensor(backend, np.ones((2, 3)))
    with pytest.raises(
        ValueError,
        match=r"prelu: weight has 4 slopes but the input has 3 channels along channel_axis=1",
    ):
        FUNCTIONS[backend].prelu(x, _tensor(backend, np.ones(4)))


@pytest.mark.parametrize("backend", ["numpy", "torch", "tf", "jax"])
def test_prelu_weight_of_two_dimensions_raises(backend):
    x = _tensor(backend, np.ones((2, 3)))
    with pytest.raises(
        ValueError, match=r"prelu: weight of shape \(3, 1\) is invalid; the weight must be 1-D"
    ):
        FUNCTIONS[backend].prelu(x, _tensor(backend, np.ones((3, 1))))


@pytest.mark.parametrize("backend", ["numpy", "torch", "tf", "jax"])
def test_prelu_channel_axis_out_of_range_raises(backend):
    x = _tensor(backend, np.ones((2, 3)))
    with pytest.raises(
        ValueError, match=r"channel_axis=3 is out of range for an input with 2 dimensions"
    ):
        FUNCTIONS[backend].prelu(x, _tensor(backend, np.ones(3)), channel_axis=3)


def test_torch_prelu_module_wrong_channels_raises():
    with pytest.raises(ValueError, match="weight has 3 slopes but the input has 5 channels"):
        rt.PReLU(3)(torch.ones(2, 5))


# Names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, canonical",
    [
        ("LeakyReLU", "leaky_relu"),
        ("leaky-relu", "leaky_relu"),
        ("Leaky ReLU", "leaky_relu"),
        ("  relu6 ", "relu6"),
        ("HARD_SWISH", "hard_swish"),
        ("hard-sigmoid", "hard_sigmoid"),
        ("Squared ReLU", "squared_relu"),
        ("Thresholded-ReLU", "thresholded_relu"),
        ("SiLU", "silu"),
        ("Swish", "silu"),
    ],
)
def test_name_spellings_resolve(name, canonical):
    assert relu_xf.spec(name).name == canonical


@pytest.mark.parametrize(
    "name, closest",
    [("leaky_rel", "'leaky_relu'"), ("gleu", "'gelu'"), ("relu7", "'relu6'"), ("sellu", "'selu'")],
)
def test_unknown_name_lists_closest(name, closest):
    with pytest.raises(ValueError) as info:
        relu_xf.spec(name)
    assert f"unknown variant {name!r}" in str(info.value)
    assert "Closest names:" in str(info.value)
    assert closest in str(info.value)


def test_non_string_name_raises_type_error():
    with pytest.raises(TypeError, match="variant name must be a str, got int 3"):
        relu_xf.spec(3)


def test_numpy_rejects_torch_tensor():
    with pytest.raises(TypeError, match=r"relu \(numpy\): the input is a PyTorch tensor"):
        rn.relu(torch.ones(2))
