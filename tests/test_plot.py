"""relu_xf.plot and the relu-xf plot command: PNG output, curves, breakpoints and errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import relu_xf
from relu_xf import cli

pytest.importorskip("matplotlib")

from relu_xf.plot import plot_variant  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _lines_labelled(figure, label):
    return [line for line in figure.axes[0].get_lines() if line.get_label() == label]


def test_cli_writes_png(tmp_path):
    from matplotlib.image import imread

    path = tmp_path / "relu6.png"
    assert cli.main(["plot", "relu6", "-o", str(path)]) == 0
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    pixels = imread(path)[..., :3]
    assert pixels.shape[0] > 100
    assert pixels.shape[1] > 100
    # A blank image is one colour; a plot has white background plus dark lines and text.
    non_white = np.mean(np.any(pixels < 0.9, axis=-1))
    assert non_white > 0.01
    assert pixels.std() > 0.05


def test_cli_passes_params(tmp_path, capsys):
    path = tmp_path / "leaky.png"
    code = cli.main(["plot", "leaky", "--param", "negative_slope=0.2", "-o", str(path)])
    assert code == 0
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    assert str(path) in capsys.readouterr().out


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("slope=0.2", "unknown parameter 'slope'; leaky_relu accepts negative_slope"),
        ("negative_slope=abc", "negative_slope='abc' is not a number"),
        ("negative_slope=nan", "is not finite"),
    ],
)
def test_cli_bad_param_exits_2(tmp_path, capsys, param, message):
    path = tmp_path / "bad.png"
    code = cli.main(["plot", "leaky_relu", "--param", param, "-o", str(path)])
    assert code == 2
    error = capsys.readouterr().err
    assert error.startswith("relu-xf: error: ")
    assert message in error
    assert not path.exists()


def test_cli_param_out_of_range_exits_2(tmp_path, capsys):
    code = cli.main(["plot", "elu", "--param", "alpha=-1", "-o", str(tmp_path / "elu.png")])
    assert code == 2
    assert "alpha=-1.0 is out of range" in capsys.readouterr().err


def test_cli_param_without_equals_exits_2(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["plot", "leaky_relu", "--param", "negative_slope", "-o", str(tmp_path / "x.png")])
    assert info.value.code == 2
    assert "write it as KEY=VALUE" in capsys.readouterr().err


def test_cli_converts_bool_and_none(tmp_path):
    assert (
        cli.main(["plot", "relu", "--param", "max_value=none", "-o", str(tmp_path / "a.png")]) == 0
    )
    code = cli.main(["plot", "rrelu", "--param", "training=false", "-o", str(tmp_path / "b.png")])
    assert code == 0


def test_cli_unknown_variant_exits_2(tmp_path, capsys):
    assert cli.main(["plot", "leaky_rleu", "-o", str(tmp_path / "x.png")]) == 2
    assert "unknown variant 'leaky_rleu'" in capsys.readouterr().err


def test_curves_match_reference():
    figure = plot_variant("gelu", approximate="tanh")
    function = relu_xf.get("gelu", backend="numpy", approximate="tanh")
    (value_line,) = _lines_labelled(figure, "f(x)")
    (derivative_line,) = _lines_labelled(figure, "f'(x)")
    x = np.asarray(value_line.get_xdata())
    np.testing.assert_array_equal(value_line.get_ydata(), function(x))
    np.testing.assert_array_equal(derivative_line.get_ydata(), function.gradient(x))


def test_plot_labels_axes_and_legend():
    axes = plot_variant("relu6").axes[0]
    assert axes.get_xlabel() == "x"
    assert axes.get_ylabel() != ""
    assert axes.get_title() == "relu6"
    legend = [text.get_text() for text in axes.get_legend().get_texts()]
    assert legend == ["f(x)", "f'(x)", "value at breakpoint"]


def test_plot_marks_breakpoints():
    figure = plot_variant("relu6")
    vertical = sorted(
        line.get_xdata()[0]
        for line in figure.axes[0].get_lines()
        if len(set(line.get_xdata())) == 1 and len(line.get_xdata()) == 2
    )
    assert vertical == [0.0, 6.0]
    (dots,) = _lines_labelled(figure, "value at breakpoint")
    # relu6'(0) = relu6'(6) = 0 by the contract.
    assert list(dots.get_xdata()) == [0.0, 6.0]
    assert list(dots.get_ydata()) == [0.0, 0.0]


def test_plot_segments_do_not_cross_breakpoints():
    figure = plot_variant("thresholded_relu")
    for line in _lines_labelled(figure, "f(x)"):
        x = np.asarray(line.get_xdata())
        assert not (x.min() < 1.0 < x.max()), "a segment spans the breakpoint at the threshold"


def test_plot_crelu_draws_both_halves():
    figure = plot_variant("crelu")
    (first,) = _lines_labelled(figure, "relu(x)")
    (second,) = _lines_labelled(figure, "relu(-x)")
    x = np.asarray(first.get_xdata())
    np.testing.assert_array_equal(first.get_ydata(), np.maximum(x, 0.0))
    np.testing.assert_array_equal(second.get_ydata(), np.maximum(-x, 0.0))


def test_plot_rejects_rrelu_training():
    with pytest.raises(ValueError, match="training=True draws a random slope"):
        plot_variant("rrelu", training=True)


def test_plot_rejects_empty_range():
    with pytest.raises(ValueError, match="x range"):
        plot_variant("relu", x_range=(1.0, 1.0))


def test_plot_names_extra_without_matplotlib(monkeypatch):
    for module in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ImportError, match=r"pip install 'relu_xf\[plot\]'"):
        plot_variant("relu")


def test_png_bytes_are_reproducible(tmp_path):
    plot_variant("elu", tmp_path / "a.png")
    plot_variant("elu", tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
