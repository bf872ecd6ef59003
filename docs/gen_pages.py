"""Generate the documentation pages that come from the spec and from the parity harness.

``write_variant_pages(docs_dir)`` writes ``variants/NAME.md``, ``variants/NAME.png``
and ``variants/index.md`` for every variant in ``relu_xf._variants.VARIANTS``.
``docs/hooks.py`` calls it before every ``mkdocs build``, and the generated
files are git-ignored. Files are rewritten only when their content changes, so
``mkdocs serve`` does not rebuild in a loop.

``python docs/gen_pages.py --parity`` runs the parity harness on every installed
backend and rewrites ``docs/parity.md``, which is committed, because a full run
takes minutes.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import relu_xf
from relu_xf import parity
from relu_xf._registry import installed_backends
from relu_xf._spec import Variant
from relu_xf._variants import PRELU_INIT, VARIANTS

DOCS_DIR = Path(__file__).resolve().parent

FRAMEWORK_TITLES = {
    "torch": "PyTorch",
    "tf": "TensorFlow",
    "keras": "Keras 3",
    "jax": "JAX",
    "onnx": "ONNX",
}

# Display names of the kernels that relu_xf.torch._native_forward returns for
# default parameters. check_native_tables raises when this table and the adapter
# disagree, so the pages cannot drift from the code.
TORCH_KERNELS = {
    "relu": "torch.relu (F.relu6 when max_value=6; composed for a slope or threshold)",
    "leaky_relu": "F.leaky_relu",
    "rrelu": "F.leaky_relu with the mean slope when training=False",
    "elu": "F.elu (composed under torch.compile)",
    "selu": "F.selu (composed under torch.compile)",
    "celu": "F.celu (composed under torch.compile)",
    "relu6": "F.relu6",
    "thresholded_relu": "F.threshold",
    "softplus": "F.softplus",
    "hard_sigmoid": "F.hardsigmoid",
    "hard_swish": "F.hardsigmoid(x) * max(x, -3), which avoids F.hardswish's overflow and "
    "its NaN at -inf",
    "squared_relu": "torch.relu(x).square_()",
    "mish": "F.mish, with -inf clamped to the lowest finite value",
    "silu": "F.silu when beta=1, with -inf clamped to the lowest finite value; composed otherwise",
    "gelu": "F.gelu, exact or tanh, with the input clamped so the kernel never sees inf",
}
# Variants that relu_xf.torch builds outside _native_forward from torch kernels.
TORCH_SPECIAL = {
    "prelu": "F.prelu when channel_axis=1 or the weight has one slope; composed otherwise",
    "crelu": "torch.cat of relu(x) and relu(-x), each on torch.relu",
}
# Display names of the kernels in relu_xf.tf._NATIVE_FORWARD.
TF_KERNELS = {"relu6": "tf.nn.relu6"}

COMPOSED = "composed from the spec"


def _write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless the file already contains it; return whether it wrote."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def check_native_tables() -> dict[str, dict[str, str]]:
    """Return, per backend, the variants whose forward value uses a native kernel.

    The torch and tf adapters are imported when their frameworks are installed,
    and their native-kernel tables are compared with ``TORCH_KERNELS`` and
    ``TF_KERNELS``. A backend whose framework is missing maps to an empty dict.

    Raises:
        RuntimeError: An adapter uses a native kernel that the table lacks, or
            the table names a kernel that the adapter no longer uses.
    """
    native: dict[str, dict[str, str]] = {"torch": {}, "tf": {}}
    if _installed("torch"):
        from relu_xf import torch as torch_adapter

        used = {
            v.name
            for v in VARIANTS
            if torch_adapter._native_forward(v, v.bind()) is not None  # noqa: SLF001
        }
        _compare("relu_xf.torch._native_forward", used, set(TORCH_KERNELS))
        native["torch"] = {**TORCH_KERNELS, **TORCH_SPECIAL}
    if _installed("tensorflow"):
        from relu_xf import tf as tf_adapter

        table = tf_adapter._NATIVE_FORWARD  # noqa: SLF001
        used = {name for name, (applies, _) in table.items() if applies(relu_xf.spec(name).bind())}
        _compare("relu_xf.tf._NATIVE_FORWARD", used, set(TF_KERNELS))
        native["tf"] = dict(TF_KERNELS)
    return native


def _compare(source: str, used: set[str], documented: set[str]) -> None:
    if used != documented:
        raise RuntimeError(
            f"{source} uses native kernels for {sorted(used)} but docs/gen_pages.py documents "
            f"{sorted(documented)}. Update the kernel table in docs/gen_pages.py."
        )


def _formula_block(variant: Variant) -> list[str]:
    lines = ["```text"]
    for i, case in enumerate(variant.cases):
        head = "f(x)  = " if i == 0 else "        "
        lines.append(f"{head}{case.value:<44}  if {case.condition}")
    for i, case in enumerate(variant.derivative_cases):
        head = "f'(x) = " if i == 0 else "        "
        lines.append(f"{head}{case.value:<44}  if {case.condition}")
    lines.append("```")
    return lines


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _forward_cell(variant: Variant, backend: str, native: dict[str, dict[str, str]]) -> str:
    if backend == "numpy":
        return "the float64 reference, " + COMPOSED
    if backend in native:
        framework = "torch" if backend == "torch" else "tensorflow"
        if not _installed(framework):
            return f"not determined: {framework} was not installed when this page was built"
        kernel = native[backend].get(variant.name)
        return f"native: {kernel}" if kernel else COMPOSED
    return COMPOSED


def variant_page(variant: Variant, native: dict[str, dict[str, str]]) -> str:
    """Return the Markdown page of one variant."""
    out = [f"# {variant.name}", "", variant.summary, ""]
    if variant.aliases:
        out += ["Aliases: " + ", ".join(f"`{a}`" for a in variant.aliases) + ".", ""]
    out += ["## Formula and derivative", ""]
    out += _formula_block(variant)
    if variant.symbols:
        out += ["", "Where " + ", ".join(f"`{s}` is {m}" for s, m in variant.symbols) + "."]
    out += [
        "",
        "The value and derivative at each breakpoint, at NaN and at the infinities are listed "
        f"in the [semantics contract](../semantics.md#{variant.name}).",
        "",
        f"![{variant.name} and its derivative]({variant.name}.png)",
        "",
        "The plot comes from the float64 NumPy reference with the default parameters "
        f"(`relu-xf plot {variant.name} -o {variant.name}.png`). Dots mark the value and "
        "derivative that the contract defines at each breakpoint.",
    ]
    if variant.learnable:
        out[-1] += f" The slope `weight` is {PRELU_INIT}."
    out += ["", "## Parameters", ""]
    if variant.params:
        out += ["| Parameter | Default | Valid values | Meaning |", "|---|---|---|---|"]
        for p in variant.params:
            out.append(
                f"| `{p.name}` | `{p.default!r}` | {_escape(p.describe_range())} | "
                f"{_escape(p.doc)} |"
            )
    else:
        out.append("No parameters.")
    if variant.learnable:
        out += [
            "",
            "Trainable tensors of the layer form: "
            + ", ".join(f"`{t}`" for t in variant.learnable)
            + f". The relu_xf layers initialize every slope to {PRELU_INIT}.",
        ]
    out += [
        "",
        "## Frameworks",
        "",
        "Each framework's own function for this variant, with its defaults, and how the relu_xf "
        "backend computes the forward value. Every relu_xf backend takes the gradient from the "
        "spec's derivative, whatever computes the value.",
        "",
        "| Backend | The framework's own name and default | relu_xf forward value |",
        "|---|---|---|",
        f"| NumPy | none | {_forward_cell(variant, 'numpy', native)} |",
    ]
    for key in ("torch", "tf", "keras", "jax"):
        own = _escape(variant.framework_defaults.get(key, "none"))
        out.append(f"| {FRAMEWORK_TITLES[key]} | {own} | {_forward_cell(variant, key, native)} |")
    onnx = variant.framework_defaults.get("onnx")
    if onnx:
        out += ["", f"ONNX operator: {onnx}."]
    out += [
        "",
        "## Accuracy",
        "",
        f"Parity bound against the float64 reference, float32 and float64: {variant.value_ulps} "
        f"ULPs for values and {variant.gradient_ulps} for gradients, measured on the "
        f"{variant.error_scale} scale. float16 and bfloat16: 1 ULP for both.",
    ]
    if variant.reference:
        out += ["", "## Reference", "", variant.reference]
    return "\n".join(out) + "\n"


def index_page() -> str:
    """Return the Markdown overview of every variant."""
    out = [
        "# Variants",
        "",
        "One page per variant, generated from the spec in `relu_xf/_variants.py` when the site "
        "is built.",
        "",
        "| Variant | Aliases | Parameters | Summary |",
        "|---|---|---|---|",
    ]
    for v in VARIANTS:
        aliases = ", ".join(f"`{a}`" for a in v.aliases) or "-"
        params = ", ".join(f"`{p.name}={p.default!r}`" for p in v.params) or "-"
        out.append(f"| [{v.name}]({v.name}.md) | {aliases} | {_escape(params)} | {v.summary} |")
    return "\n".join(out) + "\n"


def _png_bytes(name: str) -> bytes:
    from relu_xf.plot import plot_variant

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{name}.png"
        plot_variant(name, path)
        return path.read_bytes()


def write_variant_pages(docs_dir: Path = DOCS_DIR) -> list[Path]:
    """Write every variant's page and plot, and the index, under ``docs_dir/variants``.

    Returns the paths that were written because their content changed.
    """
    native = check_native_tables()
    target = docs_dir / "variants"
    written = []
    for variant in VARIANTS:
        page = target / f"{variant.name}.md"
        if _write_if_changed(page, variant_page(variant, native).encode()):
            written.append(page)
        image = target / f"{variant.name}.png"
        if _write_if_changed(image, _png_bytes(variant.name)):
            written.append(image)
    index = target / "index.md"
    if _write_if_changed(index, index_page().encode()):
        written.append(index)
    return written


def variant_nav() -> list[dict[str, str]]:
    """Return the navigation entries of the variant pages, in spec order."""
    return [{"Overview": "variants/index.md"}] + [
        {v.name: f"variants/{v.name}.md"} for v in VARIANTS
    ]


def _versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    for info in installed_backends():
        module = __import__(info.framework)
        parts.append(f"{info.framework_label} {getattr(module, '__version__', '?')}")
    return ", ".join(parts)


def parity_page(command: str, table: str, summary: str, seconds: float) -> str:
    """Return the Markdown parity results page for one harness run."""
    cpu = platform.processor() or platform.machine()
    return "\n".join(
        [
            "# Parity results",
            "",
            "Worst error of every backend against the float64 NumPy reference, in ULPs of the "
            "input dtype, for values and gradients. The [semantics contract](semantics.md) "
            "defines the input grid, the error measure and the bounds.",
            "",
            f"Command: `{command}`. It ran on {datetime.date.today().isoformat()} on "
            f"{platform.system()} {platform.machine()} ({cpu}, {os.cpu_count()} logical CPUs, "
            f"CPU only) with {_versions()}, and took {seconds:.0f} s.",
            "",
            "Each cell lists `value/gradient` per dtype, in the order of the first line. "
            "`relu-xf parity` prints the same table.",
            "",
            "```text",
            table,
            "",
            summary,
            "```",
            "",
        ]
    )


def write_parity_page(docs_dir: Path = DOCS_DIR, dtypes: list[str] | None = None) -> Path:
    """Run the parity harness on every installed backend and write ``parity.md``."""
    command = "python docs/gen_pages.py --parity" + "".join(f" --dtype {d}" for d in dtypes or [])
    start = time.perf_counter()
    results = parity.run(None, None, dtypes, None)
    seconds = time.perf_counter() - start
    unsupported = sum(r.unsupported is not None for r in results)
    failed = sum(not r.passed for r in results)
    checked = len(results) - unsupported
    summary = f"{checked - failed} passed, {failed} failed, {unsupported} unsupported"
    path = docs_dir / "parity.md"
    text = parity_page(command, parity.format_table(results), summary, seconds)
    path.write_text(text, encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """Write the variant pages, and with ``--parity`` also the parity page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--parity", action="store_true", help="also run the parity harness and write parity.md"
    )
    parser.add_argument(
        "--dtype",
        action="append",
        choices=parity.DTYPES,
        help="dtype for the parity run (repeatable; default: all four)",
    )
    args = parser.parse_args(argv)
    for path in write_variant_pages():
        print(f"wrote {path}")
    if args.parity:
        print(f"wrote {write_parity_page(dtypes=args.dtype)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
