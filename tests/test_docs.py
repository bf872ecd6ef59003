"""The documentation runs: every ```python block in docs/, every doctest in relu_xf, the site build.

Each ```python block executes on its own in a fresh namespace. A block is
skipped only when a framework it imports is not installed.
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import relu_xf
from relu_xf._variants import VARIANTS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PACKAGE = ROOT / "relu_xf"

# Top-level modules that a block may import and that may be missing; numpy is required.
OPTIONAL_MODULES = ("torch", "tensorflow", "jax", "keras", "matplotlib")
IMPORT_PATTERN = re.compile(r"^\s*(?:import|from)\s+([A-Za-z_][\w]*)", re.M)
BLOCK_PATTERN = re.compile(r"^```python\n(.*?)^```", re.M | re.S)


def _load_gen_pages():
    spec = importlib.util.spec_from_file_location("relu_xf_docs_gen_pages", DOCS / "gen_pages.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _python_blocks():
    cases = []
    for path in sorted(DOCS.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in BLOCK_PATTERN.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            name = f"{path.relative_to(DOCS)}:{line}"
            cases.append(pytest.param(path, line, match.group(1), id=name))
    return cases


BLOCKS = _python_blocks()


def test_docs_have_python_blocks():
    pages = {case.values[0].name for case in BLOCKS}
    for page in ("index.md", "porting.md", "numpy.md", "torch.md", "tf.md", "jax.md", "keras.md"):
        assert page in pages, f"docs page {page} has no ```python block"


@pytest.mark.parametrize(("path", "line", "code"), BLOCKS)
def test_python_block_runs(path, line, code, tmp_path, monkeypatch):
    for module in sorted(set(IMPORT_PATTERN.findall(code))):
        if module in OPTIONAL_MODULES:
            pytest.importorskip(module)
    if "relu_xf.plot" in code or ("relu_xf.monitor" in code and ".plot(" in code):
        # The plot functions import matplotlib, an optional extra, when called.
        pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    compiled = compile(code, f"{path}:{line}", "exec")
    exec(compiled, {"__name__": "__docs__"})


def _doctest_modules():
    names = []
    for path in sorted(PACKAGE.glob("*.py")):
        if ">>>" in path.read_text(encoding="utf-8"):
            stem = path.stem
            names.append("relu_xf" if stem == "__init__" else f"relu_xf.{stem}")
    return names


DOCTEST_MODULES = _doctest_modules()


def test_package_has_doctests():
    assert "relu_xf" in DOCTEST_MODULES


@pytest.mark.parametrize("name", DOCTEST_MODULES)
def test_module_doctests(name):
    framework = {"torch": "torch", "tf": "tensorflow", "jax": "jax", "keras": "keras"}.get(
        name.rpartition(".")[2]
    )
    if framework is not None and name != "relu_xf":
        pytest.importorskip(framework)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    tests = [t for t in finder.find(module) if t.examples]
    assert tests, f"{name} contains '>>>' but doctest found no examples"
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} doctest examples failed in {name}"


# Generated pages -------------------------------------------------------------------


def test_native_kernel_tables_match_adapters():
    gen_pages = _load_gen_pages()
    native = gen_pages.check_native_tables()
    if importlib.util.find_spec("torch") is not None:
        assert "relu" in native["torch"]


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_variant_page_states_spec(variant):
    gen_pages = _load_gen_pages()
    page = gen_pages.variant_page(variant, {"torch": {}, "tf": {}})
    for case in (*variant.cases, *variant.derivative_cases):
        assert case.value in page
        assert case.condition in page
    for param in variant.params:
        assert f"| `{param.name}` | `{param.default!r}` |" in page
    for key in ("torch", "tf", "keras", "jax"):
        assert variant.framework_defaults[key].replace("|", "\\|") in page
    assert f"![{variant.name} and its derivative]({variant.name}.png)" in page


def test_variant_nav_lists_every_variant():
    gen_pages = _load_gen_pages()
    listed = [next(iter(entry.values())) for entry in gen_pages.variant_nav()]
    assert listed == ["variants/index.md"] + [f"variants/{n}.md" for n in relu_xf.variants()]


def test_mkdocs_build_is_strict_clean(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("material")
    pytest.importorskip("matplotlib")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", NO_MKDOCS_2_WARNING="1")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    for name in relu_xf.variants():
        assert (tmp_path / "site" / "variants" / name / "index.html").exists()
        assert (tmp_path / "site" / "variants" / f"{name}.png").stat().st_size > 0
