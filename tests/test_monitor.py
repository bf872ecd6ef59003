"""relu_xf.monitor: definitions, counting, the report and the plot, without any framework."""

from __future__ import annotations

import numpy as np
import pytest

import relu_xf
from relu_xf.monitor import (
    BatchCounts,
    DeadUnitHistory,
    LayerStats,
    Measurement,
    UnitCounter,
    count_batch,
    format_report,
    inactive_bound,
    normalize_unit_axis,
    plot_dead_fractions,
)


@pytest.mark.parametrize(
    ("name", "params", "bound"),
    [
        ("relu", {}, 0.0),
        ("relu", {"threshold": 0.5}, 0.5),
        ("relu", {"negative_slope": 0.1, "max_value": 6.0}, 0.0),
        ("thresholded_relu", {}, 1.0),
        ("thresholded_relu", {"threshold": -2.0}, -2.0),
        ("hard_sigmoid", {}, -3.0),
        ("hard_swish", {}, -3.0),
        ("leaky_relu", {"negative_slope": 0.3}, 0.0),
        ("prelu", {}, 0.0),
        ("rrelu", {}, 0.0),
        ("elu", {"alpha": 2.0}, 0.0),
        ("selu", {}, 0.0),
        ("relu6", {}, 0.0),
        ("crelu", {}, 0.0),
        ("gelu", {}, 0.0),
        ("softplus", {"threshold": 5.0}, 0.0),
    ],
)
def test_inactive_bound_per_variant(name, params, bound):
    assert inactive_bound(name, params) == bound


def test_inactive_bound_covers_every_variant():
    for name in relu_xf.variants():
        assert isinstance(inactive_bound(name), float)


def test_inactive_bound_rejects_bad_param():
    with pytest.raises(TypeError):
        inactive_bound("relu", {"slope": 0.1})


def test_unit_axis_normalized():
    assert normalize_unit_axis((4, 3, 5, 5), 1, "layer") == 1
    assert normalize_unit_axis((4, 3, 5, 5), -1, "layer") == 3
    assert normalize_unit_axis((4, 7), -1, "layer") == 1


@pytest.mark.parametrize(
    ("shape", "axis", "message"),
    [
        ((5,), 0, "batch axis 0"),
        ((4, 3), 0, "batch axis"),
        ((4, 3), -2, "batch axis"),
        ((4, 3), 2, "out of range"),
    ],
)
def test_unit_axis_rejected(shape, axis, message):
    with pytest.raises(ValueError, match=message):
        normalize_unit_axis(shape, axis, "layer")


def test_count_batch_dense():
    x = np.array([[1.0, -1.0, 0.0], [2.0, -3.0, 0.5]])
    y = np.maximum(x, 0.0)
    counts = count_batch(x, y, 0.0, -1)
    assert counts.active_per_unit.tolist() == [2, 0, 1]
    assert counts.elements_per_unit == 2
    assert counts.examples == 2
    # Outputs 0.0 at (0, 1), (0, 2), (1, 1).
    assert counts.zero_outputs == 3
    assert counts.output_elements == 6


def test_count_batch_channels_first():
    # Two examples, two channels, two positions: channel 1 is negative everywhere.
    x = np.array([[[1.0, -1.0], [-1.0, -2.0]], [[-1.0, -1.0], [-3.0, 0.0]]])
    counts = count_batch(x, None, 0.0, 1)
    assert counts.active_per_unit.tolist() == [1, 0]
    assert counts.elements_per_unit == 4
    assert counts.zero_outputs is None


def test_count_batch_bound_is_inclusive():
    x = np.array([[0.5, 0.50001]])
    assert count_batch(x, None, 0.5, -1).active_per_unit.tolist() == [0, 1]


def test_count_batch_nan_counts_inactive():
    x = np.array([[np.nan, -1.0, 2.0]])
    counts = count_batch(x, x, 0.0, -1)
    assert counts.active_per_unit.tolist() == [0, 0, 1]
    assert counts.zero_outputs == 0


def test_counter_over_batches():
    counter = UnitCounter("hidden", "relu")
    first = np.array([[1.0, -1.0, -1.0], [1.0, -2.0, -1.0]])
    second = np.array([[-1.0, 3.0, -1.0]])
    counter.add(count_batch(first, np.maximum(first, 0), 0.0, -1))
    counter.add(count_batch(second, np.maximum(second, 0), 0.0, -1))
    stats = counter.stats()
    assert stats.units == 3
    assert stats.examples == 3
    # Unit 1 is active only in the second batch, so only unit 2 is dead.
    assert stats.dead_indices == (2,)
    assert stats.dead_units == 1
    assert stats.dead_fraction == pytest.approx(1 / 3)
    assert stats.inactive_fraction == pytest.approx(6 / 9)
    assert stats.zero_fraction == pytest.approx(6 / 9)


def test_counter_zero_fraction_needs_every_output():
    counter = UnitCounter("hidden", "relu")
    x = np.array([[1.0, -1.0]])
    counter.add(count_batch(x, np.maximum(x, 0), 0.0, -1))
    counter.add(count_batch(x, None, 0.0, -1))
    assert counter.stats().zero_fraction is None


def test_counter_rejects_unit_change():
    counter = UnitCounter("hidden", "relu")
    counter.add(BatchCounts(np.array([1, 0]), 1, 1))
    with pytest.raises(ValueError, match="2"):
        counter.add(BatchCounts(np.array([1, 0, 0]), 1, 1))


def test_counter_without_batches_raises():
    with pytest.raises(ValueError, match="no batch"):
        UnitCounter("hidden", "relu").stats()


def test_counter_reset():
    counter = UnitCounter("hidden", "relu")
    counter.add(BatchCounts(np.array([0, 0]), 1, 1))
    counter.reset()
    counter.add(BatchCounts(np.array([1, 1]), 1, 1))
    assert counter.stats().dead_units == 0


def _stats(name, units, dead, inactive, zero=None):
    return LayerStats(
        name=name,
        variant="relu",
        units=units,
        examples=100,
        dead_units=dead,
        dead_fraction=dead / units,
        inactive_fraction=inactive,
        zero_fraction=zero,
        dead_indices=tuple(range(dead)),
    )


def _two_measurements():
    first = Measurement(
        step=0,
        layers={
            "encoder.act": _stats("encoder.act", 16, 2, 0.5, 0.5),
            "head": _stats("head", 8, 0, 0.25),
        },
    )
    second = Measurement(
        step=50,
        layers={
            "encoder.act": _stats("encoder.act", 16, 4, 0.625, 0.625),
            "head": _stats("head", 8, 0, 0.125),
        },
    )
    return first, second


def test_report_first_measurement():
    first, _ = _two_measurements()
    lines = format_report(first).splitlines()
    assert lines[0] == "step 0: 2 activation layers, 100 examples"
    assert lines[1].split() == [
        "layer",
        "variant",
        "units",
        "dead",
        "inactive",
        "zero",
        "dead",
        "chg",
        "inactive",
        "chg",
    ]
    assert lines[2].split() == [
        "encoder.act",
        "relu",
        "16",
        "2",
        "(12.5%)",
        "50.0%",
        "50.0%",
        "-",
        "-",
    ]
    assert lines[3].split() == ["head", "relu", "8", "0", "(0.0%)", "25.0%", "n/a", "-", "-"]


def test_report_changes_since_previous():
    first, second = _two_measurements()
    lines = format_report(second, first).splitlines()
    assert lines[2].split()[-3:] == ["+2", "+12.5", "pp"]
    assert lines[3].split()[-3:] == ["0", "-12.5", "pp"]


def test_report_columns_aligned():
    first, second = _two_measurements()
    lines = format_report(second, first).splitlines()[1:]
    # Right-aligned columns end at the same position in the header and every row.
    ends = {line.index("units") + len("units") for line in lines[:1]}
    for line in lines[1:]:
        cells = line.split()
        end = line.index(" " + cells[2] + " ") + 1 + len(cells[2])
        ends.add(end)
    assert len(ends) == 1


def test_history_report_uses_previous():
    first, second = _two_measurements()
    history = DeadUnitHistory([first, second])
    assert history.report() == format_report(second, first)
    assert history.report(0) == format_report(first)
    assert history.latest is second
    assert history.dead_fractions()["encoder.act"] == ([0, 50], [0.125, 0.25])


def test_history_empty_raises():
    with pytest.raises(IndexError, match="empty"):
        DeadUnitHistory().report()


def test_plot_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "dead.png"
    figure = plot_dead_fractions(DeadUnitHistory(list(_two_measurements())), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = figure.axes[0]
    assert [line.get_label() for line in axes.get_lines()] == ["encoder.act", "head"]
    assert axes.get_lines()[0].get_ydata().tolist() == [12.5, 25.0]


def test_plot_without_measurements_raises():
    with pytest.raises(ValueError, match="no measurements"):
        plot_dead_fractions([])
