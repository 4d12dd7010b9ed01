"""Sphinx configuration of the sk_dae documentation.

Build it with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``
after ``pip install -e ".[docs]"``. The build needs no network: there is no
intersphinx (CI has no internet, and an unreachable inventory is a warning,
which ``-W`` makes an error), so names from other projects are written as
plain text or links.
"""

import os
import re
import sys
from pathlib import Path

import sk_dae

# Local extensions and helpers (the gallery's order).
sys.path.insert(0, str(Path(__file__).parent / "sphinxext"))

project = "sk_dae"
author = "the sk_dae developers"
copyright = "the sk_dae developers"  # noqa: A001 (Sphinx's name)
release = sk_dae.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_copybutton",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]
nitpicky = True
# numpydoc writes the types of parameters as cross-references; names from
# numpy, scikit-learn, torch or the standard library have no target here
# without intersphinx, so they stay plain text.
nitpick_ignore_regex = [("py:(class|obj|data|exc)", r"(?!sk_dae\b).*")]

# -- autodoc and autosummary -------------------------------------------------
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
autodoc_typehints = "none"
# "fit" rather than "DenoisingAutoencoderTransformer.fit" in a page's contents.
toc_object_entries_show_parents = "hide"

# -- numpydoc ------------------------------------------------------------------
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = True
# Words of numpydoc's type phrases that are not names of types.
numpydoc_xref_ignore = {"of", "or", "and", "shape", "default", "optional"}
# numpydoc's default links for these point into Python's and numpy's sites
# through intersphinx labels and glossary terms; here they are plain names.
numpydoc_xref_aliases = {
    name: name
    for name in ("bool", "callable", "iterable", "sequence", "generator", "scalar")
} | {"boolean": "bool", "array-like": "array-like", "array_like": "array-like"}
# Validation runs on every docstring the build renders; with -W a failing
# check fails the build. Left out: a See Also section on every method (SA01),
# an extended summary (ES01), an Examples section on every method (EX01; each
# public class has one, which tests/test_docstrings.py checks), and a bare
# type on a single return value (RT02): the docstrings name it, as
# scikit-learn's do (``self : object``, ``X_new : ndarray``).
numpydoc_validation_checks = {"all", "SA01", "ES01", "EX01", "RT02"}

_SKLEARN_REF = re.compile(r":ref:`(?:([^`<]*?)\s*<[^`>]+>|([^`]+))`")


def _plain_sklearn_refs(app, what, name, obj, options, lines):
    """Turn the ``:ref:`` roles of inherited scikit-learn docstrings into text.

    They point at labels of scikit-learn's own site, which this build cannot
    resolve without intersphinx.
    """
    if getattr(obj, "__module__", "").startswith("sklearn."):
        lines[:] = [_SKLEARN_REF.sub(lambda m: m[1] or m[2], line) for line in lines]


def _skip_torch_members(app, what, name, obj, skip, options):
    """Leave out what a torch module inherits from ``torch.nn.Module``
    unchanged: dozens of methods documented on torch's own site, whose
    docstrings link into it (this offline build cannot) and are not numpydoc."""
    import torch

    inherited = getattr(torch.nn.Module, name, None)
    if what == "class" and inherited is not None and obj is inherited:
        return True
    return None


def setup(app):
    app.connect("autodoc-process-docstring", _plain_sklearn_refs)
    app.connect("autodoc-skip-member", _skip_torch_members)


# -- MyST ----------------------------------------------------------------------
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# -- sphinx-gallery -------------------------------------------------------------
os.environ.setdefault("MPLBACKEND", "Agg")
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "gallery_order.ExampleOrder",
    "show_memory": False,
    # The pages of execution times load DataTables from a CDN, which an
    # offline reader (and CI) cannot reach.
    "write_computation_times": False,
    "reference_url": {"sk_dae": None},
    "doc_module": ("sk_dae",),
    "backreferences_dir": "generated/backreferences",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
}

# -- HTML ------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sk_dae {release}"
html_static_path = ["_static"]
# The first "0" of scikit-learn's digits, 8 x 8 scaled to 32 x 32. Without an
# icon, browsers ask for /favicon.ico and log the 404 as a console error.
html_favicon = "_static/favicon.png"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
}
html_context = {"default_mode": "light"}
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True
