"""MkDocs hooks: generate the variant pages and plots before each build.

``mkdocs.yml`` names this file under ``hooks:``. The pages come from
``docs/gen_pages.py``, loaded by path because ``docs/`` is not a package.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

_SCRIPT = Path(__file__).resolve().parent / "gen_pages.py"
_spec = importlib.util.spec_from_file_location("relu_xf_docs_gen_pages", _SCRIPT)
assert _spec is not None and _spec.loader is not None
gen_pages = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_pages)

# The nav entry in mkdocs.yml that this hook replaces with one entry per variant.
_PLACEHOLDER = "variants/index.md"


def on_config(config: Any) -> Any:
    """Replace the nav's Variants entry with the overview and one page per variant."""
    for position, entry in enumerate(config["nav"] or []):
        if isinstance(entry, dict) and entry.get("Variants") == _PLACEHOLDER:
            config["nav"][position] = {"Variants": gen_pages.variant_nav()}
    return config


def on_pre_build(config: Any) -> None:
    """Write the variant pages and plots into the docs directory."""
    gen_pages.write_variant_pages(Path(config["docs_dir"]))
