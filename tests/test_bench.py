"""Smoke tests of ``relu-xf bench``: table structure and cell coverage, never timings."""

from __future__ import annotations

import importlib.util
import re

import pytest

from relu_xf import bench
from relu_xf.cli import main

FRAMEWORK = {"torch": "torch", "tf": "tensorflow", "jax": "jax"}


def _installed(backend: str) -> bool:
    return importlib.util.find_spec(FRAMEWORK[backend]) is not None


def _table(text: str, backend: str) -> list[list[str]]:
    """Return the rows of the ratio table under '### backend', header first."""
    lines = text.splitlines()
    start = lines.index(f"### {backend}") + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


@pytest.mark.parametrize("backend", ["torch", "tf", "jax"])
def test_quick_run_covers_every_cell(backend, capsys, tmp_path):
    if not _installed(backend):
        pytest.skip(f"{FRAMEWORK[backend]} is not installed")
    modes = ["eager", "compiled"] if backend != "torch" else ["eager"]
    argv = ["bench", "--quick", "--backend", backend, "--variant", "relu", "--variant", "prelu"]
    argv += ["--variant", "crelu", "--skip", "imports", "--skip", "memory", "--memory", "fresh"]
    for mode in modes:
        argv += ["--mode", mode]
    output = tmp_path / "bench.md"
    assert main([*argv, "--output", str(output)]) == 0
    text = capsys.readouterr().out

    rows = _table(text, backend)
    header, separator, body = rows[0], rows[1], rows[2:]
    expected_columns = [f"{mode[:3]} {pass_} 1K" for mode in modes for pass_ in ("fwd", "f+b")]
    assert header == ["variant", "baseline", *expected_columns]
    assert len(separator) == len(header)
    assert [row[0] for row in body] == ["relu", "prelu", "crelu"]
    for row in body:
        assert row[1].startswith(("native: `", "composition: `"))
        for ratio in row[2:]:
            assert re.fullmatch(r"\d+\.\d\d( \*)?", ratio), row

    assert "## Machine" in text
    assert "relu-xf bench --quick --backend " + backend in text
    detail = output.read_text()
    detail_rows = [ln for ln in detail.splitlines() if ln.startswith(f"| {backend} |")]
    assert len(detail_rows) == 3 * len(modes) * 2


def test_torch_compiled_cell(capsys):
    pytest.importorskip("torch")
    argv = ["bench", "--quick", "--backend", "torch", "--variant", "relu", "--mode", "compiled"]
    argv += ["--pass", "backward", "--skip", "imports", "--skip", "memory", "--repeat", "1"]
    argv += ["--memory", "fresh"]
    assert main(argv) == 0
    rows = _table(capsys.readouterr().out, "torch")
    assert rows[0] == ["variant", "baseline", "com f+b 1K"]
    assert rows[2][0] == "relu"
    assert re.fullmatch(r"\d+\.\d\d( \*)?", rows[2][2])


def test_import_section_loads_no_framework():
    rows = bench.measure_imports([], runs=1)
    assert len(rows) == 1
    assert rows[0]["backend"] == "none"
    assert rows[0]["frameworks"] == []
    assert rows[0]["relu_xf"] > 0


def test_torch_memory_probe_counts_outputs():
    pytest.importorskip("torch")
    rows = bench.measure_memory(["relu", "crelu"], 1 << 20)
    by_name = {row["variant"]: row for row in rows}
    unit = by_name["relu"]["input_bytes"]
    assert unit == 4 << 20
    # The peak includes the output, so it can be no smaller than it.
    assert by_name["relu"]["xf_forward"] >= by_name["relu"]["output_bytes"]
    assert by_name["crelu"]["output_bytes"] == 2 * unit
    assert by_name["crelu"]["baseline_forward"] >= 2 * unit


def test_size_parsing():
    assert bench._parse_size("4K") == 4096
    assert bench._parse_size("16m") == 16 << 20
    assert bench._parse_size("1000") == 1000
    assert bench.size_label(4096) == "4K"
    assert bench.size_label(1 << 24) == "16M"
    assert bench.size_label(1000) == "1000"


def test_invalid_options_exit_2(capsys):
    assert main(["bench", "--quick", "--repeat", "0", "--skip", "imports"]) == 2
    assert "--repeat 0 is invalid" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--size", "many"])
    assert main(["bench", "--quick", "--variant", "nope"]) == 2
