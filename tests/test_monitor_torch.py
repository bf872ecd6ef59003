"""relu_xf.monitor.torch: forward hooks on relu_xf modules."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import relu_xf.torch as rt  # noqa: E402
from relu_xf.monitor.torch import DeadUnitMonitor, activation_modules  # noqa: E402
from tests.monitor_scripts import mlp_case  # noqa: E402


def build_mlp() -> nn.Sequential:
    """Return the shared tiny MLP of tests/monitor_scripts/mlp_case.py as a torch model."""
    modules = {
        "relu": rt.ReLU,
        "leaky_relu": rt.LeakyReLU,
        "thresholded_relu": rt.ThresholdedReLU,
    }
    layers: list[nn.Module] = []
    for (kernel, bias), (_, name, params, _) in zip(
        mlp_case.weights(), mlp_case.LAYERS, strict=True
    ):
        linear = nn.Linear(*kernel.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(kernel.T))
            linear.bias.copy_(torch.from_numpy(bias))
        layers += [linear, modules[name](**params)]
    return nn.Sequential(*layers)


def hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_mlp_matches_reference():
    assert mlp_case.min_margin() > 1e-4
    monitor = DeadUnitMonitor(build_mlp())
    measurement = monitor.measure(torch.from_numpy(mlp_case.data()), step=7)
    assert measurement.step == 7
    assert list(measurement.layers) == ["1", "3", "5"]
    assert mlp_case.stats_rows(measurement) == mlp_case.expected_stats()


def test_finds_every_activation_module():
    model = nn.Sequential(
        nn.Linear(3, 4), rt.ReLU(), nn.Linear(4, 4), nn.ReLU(), rt.PReLU(), rt.RReLU(), rt.CReLU()
    )
    names = [name for name, _ in activation_modules(model)]
    assert names == ["1", "4", "5", "6"]


def test_activation_as_root_module():
    names = [name for name, _ in activation_modules(rt.ELU())]
    assert names == ["ELU"]


def test_model_without_activation_raises():
    with pytest.raises(ValueError, match="no relu_xf activation module"):
        DeadUnitMonitor(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))


def test_bad_unit_axis_type_raises():
    with pytest.raises(TypeError, match="unit_axis"):
        DeadUnitMonitor(nn.Sequential(rt.ReLU()), unit_axis=1.0)


def test_context_manager_detaches():
    model = build_mlp()
    monitor = DeadUnitMonitor(model)
    with monitor:
        assert monitor.attached
        assert hook_count(model) == 6
        model(torch.from_numpy(mlp_case.data()))
    assert not monitor.attached
    assert hook_count(model) == 0
    assert mlp_case.stats_rows(monitor.result(3)) == mlp_case.expected_stats()


def test_measure_leaves_no_hooks_and_restores_mode():
    model = build_mlp()
    model.train()
    model[1].eval()
    monitor = DeadUnitMonitor(model)
    monitor.measure(torch.from_numpy(mlp_case.data()), step=0)
    assert hook_count(model) == 0
    assert model.training
    assert not model[1].training
    assert model[3].training


def test_measure_keeps_hooks_attached_before():
    model = build_mlp()
    monitor = DeadUnitMonitor(model).attach()
    monitor.measure(torch.from_numpy(mlp_case.data()), step=0)
    assert monitor.attached
    assert hook_count(model) == 6
    monitor.detach()


def test_batches_add_up():
    x = torch.from_numpy(mlp_case.data())
    labels = torch.zeros(len(x))
    monitor = DeadUnitMonitor(build_mlp())
    batches = [(x[i : i + 10], labels[i : i + 10]) for i in range(0, len(x), 10)]
    measurement = monitor.measure(batches, step=1)
    assert mlp_case.stats_rows(measurement) == mlp_case.expected_stats()
    assert measurement.layers["1"].examples == len(x)


def test_custom_forward():
    x = torch.from_numpy(mlp_case.data())
    monitor = DeadUnitMonitor(build_mlp())
    measurement = monitor.measure(
        [{"image": x}], 0, forward=lambda model, batch: model(batch["image"])
    )
    assert mlp_case.stats_rows(measurement) == mlp_case.expected_stats()


def test_inplace_counts_input():
    x = torch.from_numpy(mlp_case.data())
    plain = build_mlp()
    inplace = build_mlp()
    inplace[1] = rt.ReLU(inplace=True)
    expected = DeadUnitMonitor(plain).measure(x, 0).layers["1"]
    measured = DeadUnitMonitor(inplace).measure(x, 0).layers["1"]
    assert measured == expected


def test_conv_channels_are_units():
    conv = nn.Conv2d(2, 3, 3, padding=1)
    with torch.no_grad():
        conv.bias.copy_(torch.tensor([-100.0, 0.0, 100.0]))
    model = nn.Sequential(conv, rt.ReLU())
    x = torch.rand(5, 2, 6, 6)
    stats = DeadUnitMonitor(model).measure(x, 0).layers["1"]
    pre = conv(x).detach().numpy()
    assert stats.units == 3
    assert stats.dead_indices == (0,)
    assert stats.inactive_fraction == np.mean(pre <= 0)
    assert stats.zero_fraction == np.mean(np.maximum(pre, 0) == 0)


def test_channels_last_unit_axis():
    linear = nn.Linear(4, 3)
    with torch.no_grad():
        linear.bias.copy_(torch.tensor([0.0, -100.0, 0.0]))
    model = nn.Sequential(linear, rt.LeakyReLU())
    x = torch.rand(2, 7, 4)
    stats = DeadUnitMonitor(model, unit_axis=-1).measure(x, 0).layers["1"]
    assert stats.units == 3
    assert stats.dead_indices == (1,)


def test_invalid_unit_axis_for_shape_raises():
    monitor = DeadUnitMonitor(nn.Sequential(rt.ReLU()), unit_axis=3)
    with pytest.raises(ValueError, match="out of range"):
        monitor.measure(torch.ones(2, 3), 0)
    assert not monitor.attached


def test_result_without_forward_raises():
    monitor = DeadUnitMonitor(build_mlp())
    with pytest.raises(ValueError, match="no relu_xf activation module ran"):
        monitor.result(0)


def test_rrelu_measured_in_eval_mode():
    model = nn.Sequential(rt.RReLU())
    model.train()
    x = torch.tensor([[-1.0, 2.0], [-3.0, 0.0]])
    stats = DeadUnitMonitor(model).measure(x, 0).layers["0"]
    assert stats.variant == "rrelu"
    assert stats.dead_indices == (0,)
    assert stats.zero_fraction == 0.25
    assert model.training


def test_prelu_and_crelu():
    model = nn.Sequential(rt.PReLU(num_parameters=2), rt.CReLU(axis=1))
    x = torch.tensor([[-1.0, 2.0], [-3.0, 4.0]])
    layers = DeadUnitMonitor(model).measure(x, 0).layers
    assert layers["0"].variant == "prelu"
    assert layers["0"].dead_indices == (0,)
    assert layers["0"].zero_fraction == 0.0
    # crelu units are the input's: the output has 4 columns, half of them zero.
    assert layers["1"].units == 2
    assert layers["1"].dead_indices == (0,)
    assert layers["1"].zero_fraction == 0.5


def test_history_report_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    model = build_mlp()
    monitor = DeadUnitMonitor(model)
    x = torch.from_numpy(mlp_case.data())
    monitor.measure(x, 0)
    with torch.no_grad():
        model[0].bias[3:6] = -50.0
    monitor.measure(x, 10)
    lines = monitor.report().splitlines()
    assert lines[0] == f"step 10: 3 activation layers, {len(x)} examples"
    assert lines[2].split()[:5] == ["1", "relu", "12", "6", "(50.0%)"]
    assert lines[2].split()[-3] == "+3"
    monitor.plot(tmp_path / "dead.png")
    assert (tmp_path / "dead.png").read_bytes()[:4] == b"\x89PNG"
