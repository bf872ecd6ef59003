"""docs/semantics.md checked against the code it describes.

Each formula block must equal the spec's cases, and each parameter table the
spec's defaults and ranges. The accuracy table must equal the bounds that the
parity harness enforces. Every special-input row must match the NumPy
reference's value and gradient, and every quoted error message must match the
message that the code raises.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import relu_xf
from relu_xf import parity
from relu_xf._variants import PRELU_INIT, SELU_ALPHA, SELU_SCALE

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "semantics.md"
DOC = DOC_PATH.read_text(encoding="utf-8")

VARIANT_NAMES = relu_xf.variants()


# Parsing -----------------------------------------------------------------------


def _split_sections(text: str, level: str) -> dict[str, str]:
    """Return the body of every heading of ``level`` ("## " or "### "), keyed by its title."""
    pattern = re.compile(rf"^{level}(.+)$", re.M)
    matches = list(pattern.finditer(text))
    sections = {}
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        sections[match.group(1).strip()] = text[match.end() : end]
    return sections


TOP_SECTIONS = _split_sections(DOC, "## ")
RULE_SECTIONS = _split_sections(TOP_SECTIONS.get("Rules for every variant", ""), "### ")
VARIANT_SECTIONS = _split_sections(TOP_SECTIONS.get("Variants", ""), "### ")


def _tables(body: str) -> list[list[list[str]]]:
    """Return every Markdown table in ``body`` as rows of cells, header first, separator dropped."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in body.splitlines() + [""]:
        stripped = line.strip()
        if stripped.startswith("|"):
            cells = [cell.strip() for cell in stripped.strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", cell) for cell in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _table_starting(body: str, first_header: str) -> list[list[str]] | None:
    for table in _tables(body):
        if table[0][0] == first_header:
            return table
    return None


def _code(cell: str) -> str:
    """Return the text inside a cell's backticks, or the cell itself."""
    match = re.fullmatch(r"`([^`]*)`", cell)
    return match.group(1) if match else cell


def _formula_lines(body: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Parse the first ``text`` block of a section into (value, condition) cases of f and f'."""
    match = re.search(r"```text\n(.*?)```", body, re.S)
    assert match is not None, "section has no ```text formula block"
    cases: dict[str, list[tuple[str, str]]] = {"f": [], "d": []}
    target = None
    for line in match.group(1).splitlines():
        if line.startswith("f(x)"):
            target = "f"
        elif line.startswith("f'(x)"):
            target = "d"
        assert target is not None, f"formula line before f(x): {line!r}"
        rest = re.sub(r"^(f\(x\)|f'\(x\))?\s*= ", "", line, count=1)
        parts = re.split(r"\s{2,}if ", rest, maxsplit=1)
        value = parts[0].strip()
        condition = parts[1].strip() if len(parts) == 2 else "always"
        cases[target].append((value, condition))
    return cases["f"], cases["d"]


# Expressions in the special-input tables ----------------------------------------

_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "exp": math.exp,
    "log": math.log,
    "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z)),
}
_BINARY = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
}
_COMPARE = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Is: lambda a, b: a is b,
    ast.IsNot: lambda a, b: a is not b,
}


def _evaluate(node: ast.AST, names: dict[str, Any]) -> Any:
    """Evaluate a small arithmetic expression: numbers, names, + - * /, comparisons, exp/log/sigmoid."""
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, names)
    if isinstance(node, ast.Constant) and (node.value is None or type(node.value) in (int, float)):
        return node.value
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _evaluate(node.operand, names)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left, names), _evaluate(node.right, names))
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        left = _evaluate(node.left, names)
        right = _evaluate(node.comparators[0], names)
        return _COMPARE[type(node.ops[0])](left, right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and len(node.args) == 1
    ):
        return _FUNCTIONS[node.func.id](_evaluate(node.args[0], names))
    raise ValueError(f"unsupported expression in the doc: {ast.unparse(node)!r}")


def _names_in(expression: str) -> set[str]:
    tree = ast.parse(expression, mode="eval")
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called


def _same(actual: float, expected: float) -> bool:
    if math.isnan(expected):
        return math.isnan(actual)
    if math.isinf(expected):
        return actual == expected
    return math.isclose(actual, expected, rel_tol=1e-12, abs_tol=0.0)


# Parameter sets for the special-input rows: the harness's sets, plus sets that
# reach the rows for zero and negative slopes and betas.
EXTRA_PARAMS: dict[str, list[dict[str, Any]]] = {
    "relu": [{"negative_slope": -0.5}],
    "leaky_relu": [{"negative_slope": 0.0}, {"negative_slope": -0.5}],
    "rrelu": [{"lower": 0.0, "upper": 0.0}],
    "elu": [{"alpha": 0.0}],
    "silu": [{"beta": -1.0}, {"beta": 0.0}],
    "softplus": [{"threshold": -1.0}],
}
PRELU_WEIGHTS = [PRELU_INIT, 0.0, -0.5]

# Rows where the code returns NaN because the spec formula multiplies an
# infinity by a zero parameter, instead of the limit that the doc states.
KNOWN_GAPS = {
    ("prelu", "weight=0.0", "-inf"),
}
GAP_REASON = "prelu(-inf) is weight * -inf, which IEEE arithmetic makes NaN for a zero weight"


def _parameter_sets(name: str) -> list[tuple[str, dict[str, Any], float | None]]:
    """Return (label, overrides, prelu weight) for every parameter set of a variant."""
    if name == "prelu":
        return [(f"weight={w!r}", {}, w) for w in PRELU_WEIGHTS]
    variant = relu_xf.spec(name)
    sets = parity.param_cases(variant) + EXTRA_PARAMS.get(name, [])
    return [(", ".join(f"{k}={v!r}" for k, v in s.items()) or "defaults", s, None) for s in sets]


def _names_for(name: str, overrides: dict[str, Any], weight: float | None) -> dict[str, Any]:
    names: dict[str, Any] = {"inf": math.inf, "nan": math.nan}
    names.update(relu_xf.spec(name).bind(**overrides))
    if name == "selu":
        names.update(alpha=SELU_ALPHA, scale=SELU_SCALE)
    if weight is not None:
        names["weight"] = weight
    return names


def _special_rows(name: str) -> list[list[str]]:
    table = _table_starting(VARIANT_SECTIONS.get(name, ""), "x")
    return [] if table is None else table[1:]


def _row_applies(row: list[str], names: dict[str, Any]) -> bool:
    expressions = [_code(cell) for cell in row[:-1]]
    used = set().union(*(_names_in(e) for e in expressions))
    if any(names.get(n, 0.0) is None for n in used):
        return False
    condition = _code(row[-1])
    return not condition or bool(_evaluate(ast.parse(condition, mode="eval"), names))


def _special_cases() -> list[Any]:
    cases = []
    for name in VARIANT_NAMES:
        for label, overrides, weight in _parameter_sets(name):
            names = _names_for(name, overrides, weight)
            for row in _special_rows(name):
                if not _row_applies(row, names):
                    continue
                x_text = _code(row[0])
                marks = []
                if (name, label, x_text) in KNOWN_GAPS:
                    marks = [pytest.mark.xfail(reason=GAP_REASON, strict=True)]
                cases.append(
                    pytest.param(
                        name, overrides, weight, row, id=f"{name}[{label}]x={x_text}", marks=marks
                    )
                )
    return cases


# Sections and formulas -----------------------------------------------------------


def test_every_variant_has_section():
    missing = [name for name in VARIANT_NAMES if name not in VARIANT_SECTIONS]
    assert missing == [], f"docs/semantics.md has no '### name' section for {missing}"


def test_no_section_for_unknown_variant():
    extra = [title for title in VARIANT_SECTIONS if title not in VARIANT_NAMES]
    assert extra == [], f"docs/semantics.md has sections for names that are not variants: {extra}"


def test_sections_follow_spec_order():
    documented = [title for title in VARIANT_SECTIONS if title in VARIANT_NAMES]
    assert documented == [n for n in VARIANT_NAMES if n in VARIANT_SECTIONS]


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_formula_matches_spec_cases(name):
    variant = relu_xf.spec(name)
    values, derivatives = _formula_lines(VARIANT_SECTIONS[name])
    assert values == [(c.value, c.condition) for c in variant.cases]
    assert derivatives == [(c.value, c.condition) for c in variant.derivative_cases]


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_aliases_are_named(name):
    body = VARIANT_SECTIONS[name]
    for alias in relu_xf.spec(name).aliases:
        assert f"`{alias}`" in body, f"{name} section does not name its alias {alias!r}"


# Parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_parameter_table_matches_spec(name):
    variant = relu_xf.spec(name)
    body = VARIANT_SECTIONS[name]
    table = _table_starting(body, "Parameter")
    if not variant.params:
        assert table is None, f"{name} has no parameters but the doc shows a parameter table"
        assert "No parameters." in body
        return
    assert table is not None, f"{name} section has no parameter table"
    assert table[0][:3] == ["Parameter", "Default", "Valid values"]
    rows = table[1:]
    assert [_code(r[0]) for r in rows] == [p.name for p in variant.params]
    for row, param in zip(rows, variant.params, strict=True):
        default = ast.literal_eval(_code(row[1]))
        assert default == param.default, f"{name}.{param.name}: doc default {default!r}"
        assert type(default) is type(param.default), f"{name}.{param.name}: doc default type"
        assert row[2] == param.describe_range(), f"{name}.{param.name}: doc range {row[2]!r}"


# Accuracy ------------------------------------------------------------------------------


def _accuracy_rows() -> dict[str, list[str]]:
    table = _table_starting(RULE_SECTIONS.get("Accuracy", ""), "Variant")
    assert table is not None, "the Accuracy section has no table starting with 'Variant'"
    return {row[0]: row for row in table[1:]}


def test_accuracy_table_lists_every_variant():
    assert list(_accuracy_rows()) == VARIANT_NAMES


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_accuracy_row_matches_bounds(name):
    variant = relu_xf.spec(name)
    row = _accuracy_rows()[name]
    half_value, half_gradient = parity.bounds(variant, "float16")
    assert parity.bounds(variant, "bfloat16") == (half_value, half_gradient)
    assert parity.bounds(variant, "float32") == parity.bounds(variant, "float64")
    assert int(row[1]) == variant.value_ulps
    assert int(row[2]) == variant.gradient_ulps
    assert int(row[3]) == half_value
    assert int(row[4]) == half_gradient
    assert row[5] == variant.error_scale


def test_accuracy_prose_states_16_bit_bounds():
    match = re.search(
        r"Bounds for float16 and bfloat16 are (\d+) ULPs? for values and (\d+) ULPs? for gradients",
        RULE_SECTIONS["Accuracy"],
    )
    assert match is not None
    for variant_name in VARIANT_NAMES:
        value, gradient = parity.bounds(relu_xf.spec(variant_name), "float16")
        assert int(match.group(1)) == value
        assert int(match.group(2)) == gradient


def test_accuracy_prose_states_grid_seed():
    assert f"seed {parity.SEED}" in RULE_SECTIONS["Accuracy"]


# Special inputs ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_special_table_has_nan_and_infinities(name):
    inputs = {_code(row[0]) for row in _special_rows(name)}
    assert {"-inf", "inf", "nan"} <= inputs


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_special_table_has_every_breakpoint(name):
    variant = relu_xf.spec(name)
    for label, overrides, weight in _parameter_sets(name):
        names = _names_for(name, overrides, weight)
        documented = {
            _evaluate(ast.parse(_code(row[0]), mode="eval"), names)
            for row in _special_rows(name)
            if _row_applies(row, names)
        }
        for point in variant.breakpoints(variant.bind(**overrides)):
            assert point in documented, f"{name} [{label}]: breakpoint {point} has no row"


@pytest.mark.parametrize("name", VARIANT_NAMES)
def test_every_special_row_is_exercised(name):
    sets = [_names_for(name, o, w) for _, o, w in _parameter_sets(name)]
    for row in _special_rows(name):
        assert any(_row_applies(row, names) for names in sets), (
            f"{name}: no parameter set reaches {row}"
        )


@pytest.mark.parametrize(("name", "overrides", "weight", "row"), _special_cases())
def test_special_row_matches_reference(name, overrides, weight, row):
    names = _names_for(name, overrides, weight)
    x = float(_evaluate(ast.parse(_code(row[0]), mode="eval"), names))
    expected_values = [float(_evaluate(ast.parse(_code(c), mode="eval"), names)) for c in row[1:-2]]
    expected_gradient = float(_evaluate(ast.parse(_code(row[-2]), mode="eval"), names))

    function: Any = relu_xf.get(name, backend="numpy", **overrides)
    inputs = np.array([x], dtype=np.float64)
    extra = (np.array([weight]),) if weight is not None else ()
    values = function(inputs, *extra).ravel().tolist()
    gradient = float(function.gradient(inputs, *extra)[0])

    assert len(values) == len(expected_values)
    for actual, expected in zip(values, expected_values, strict=True):
        assert _same(actual, expected), f"{name}({x}) = {actual!r}, doc says {expected!r}"
    assert _same(gradient, expected_gradient), (
        f"{name}'({x}) = {gradient!r}, doc says {expected_gradient!r}"
    )


# Framework table ------------------------------------------------------------------------------


def _framework_table() -> list[list[str]]:
    table = _table_starting(TOP_SECTIONS.get("Framework names and defaults", ""), "Variant")
    assert table is not None, "the framework section has no table starting with 'Variant'"
    return table


def test_framework_table_lists_every_variant():
    assert [row[0] for row in _framework_table()[1:]] == VARIANT_NAMES


FRAMEWORK_COLUMNS = {
    "PyTorch": "torch",
    "TensorFlow": "tf",
    "Keras 3": "keras",
    "JAX": "jax",
    "ONNX": "onnx",
}


def _framework_cases() -> list[Any]:
    cases = []
    for name in VARIANT_NAMES:
        cases.append(pytest.param(name, id=name))
    return cases


@pytest.mark.parametrize("name", _framework_cases())
def test_framework_row_agrees_on_missing(name):
    table = _framework_table()
    header = table[0]
    row = next(r for r in table[1:] if r[0] == name)
    defaults = relu_xf.spec(name).framework_defaults
    for title, key in FRAMEWORK_COLUMNS.items():
        cell = row[header.index(title)]
        spec_has_none = defaults[key].startswith("none")
        assert cell.startswith("none") == spec_has_none, (
            f"{name} in {title}: {cell!r} vs {defaults[key]!r}"
        )


# Errors -----------------------------------------------------------------------------------------


def _raise_missing_framework(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "jax" else real_find_spec(n, *a)
    )
    monkeypatch.delitem(sys.modules, "relu_xf.jax", raising=False)
    # relu_xf.get caches bound functions, and a cached one would skip the import check.
    relu_xf._bind_cached.cache_clear()
    relu_xf.get("relu", backend="jax")


ERROR_TRIGGERS: dict[str, list[Callable[[pytest.MonkeyPatch], Any]]] = {
    "Unknown variant name": [lambda mp: relu_xf.spec("leaky_rleu")],
    "Unknown backend name": [lambda mp: relu_xf.get("relu", backend="mxnet")],
    "Backend's framework not installed": [_raise_missing_framework],
    "Parameter out of range": [lambda mp: relu_xf.get("elu", backend="numpy", alpha=-1)],
    "Parameter not finite": [lambda mp: relu_xf.get("elu", backend="numpy", alpha=float("nan"))],
    "String parameter not a valid choice": [
        lambda mp: relu_xf.get("gelu", backend="numpy", approximate="erf")
    ],
    "Parameters inconsistent with each other": [
        lambda mp: relu_xf.get("relu", backend="numpy", max_value=0.0),
        lambda mp: relu_xf.get("rrelu", backend="numpy", lower=0.5, upper=0.1),
    ],
    "Parameter of the wrong type": [
        lambda mp: relu_xf.get("elu", backend="numpy", alpha=[1.0]),
        lambda mp: relu_xf.get("crelu", backend="numpy", axis=0.5),
        lambda mp: relu_xf.get("rrelu", backend="numpy", training=1),
    ],
    "Unknown parameter name": [lambda mp: relu_xf.get("elu", backend="numpy", beta=1)],
    "Integer, bool or complex input": [
        lambda mp: relu_xf.get("relu", backend="numpy")(np.array([1, 2], dtype=np.int64)),
        lambda mp: relu_xf.get("relu", backend="numpy")(np.array([True])),
        lambda mp: relu_xf.get("relu", backend="numpy")(np.array([1j])),
    ],
    "crelu axis out of range": [
        lambda mp: relu_xf.get("crelu", backend="numpy", axis=3)(np.zeros((2, 2)))
    ],
    "crelu on a 0-d input": [lambda mp: relu_xf.get("crelu", backend="numpy")(np.zeros(()))],
    "PReLU weight that does not match the channels": [
        lambda mp: relu_xf.get("prelu", backend="numpy")(np.zeros((2, 3)), np.zeros(4))
    ],
    "`relu_xf.layer` on a backend without layers": [
        lambda mp: relu_xf.layer("relu", backend="numpy")
    ],
}


def _error_rows() -> list[list[str]]:
    table = _table_starting(RULE_SECTIONS.get("Errors", ""), "Cause")
    assert table is not None, "the Errors section has no table starting with 'Cause'"
    return table[1:]


def test_every_error_row_has_trigger():
    causes = [row[0] for row in _error_rows()]
    assert sorted(causes) == sorted(ERROR_TRIGGERS)


@pytest.mark.parametrize("cause", sorted(ERROR_TRIGGERS))
def test_error_row_matches_raised_error(cause, monkeypatch):
    rows = {row[0]: row for row in _error_rows()}
    assert cause in rows, f"the Errors table has no row {cause!r}"
    row = rows[cause]
    exception_name = _code(row[1])
    messages = []
    for trigger in ERROR_TRIGGERS[cause]:
        with pytest.raises(Exception) as info:
            trigger(monkeypatch)
        assert type(info.value).__name__ == exception_name, f"{cause}: raised {info.value!r}"
        messages.append(str(info.value))
    fragments = [
        part.strip()
        for quoted in re.findall(r"`([^`]+)`", row[2])
        for part in quoted.split("...")
        if part.strip()
    ]
    assert fragments, f"{cause}: the row quotes no message"
    for fragment in fragments:
        assert any(fragment in m for m in messages), f"{cause}: {fragment!r} not in {messages}"
