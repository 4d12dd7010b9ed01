"""The package's structure: calls go down, from the estimators to the engine.

Issue #30 asked that ``X``'s path through ``fit`` go down through the
modules: the estimator hands X to the net, the net to its data and its
stages, and nothing below calls back up (the net once called the estimator
through a ``corrupter=`` hook, and the estimator reached into the net's
callbacks). A call can only go up through an import of a module above, or a
callable of the estimator handed down; these tests hold both out.
"""

import ast
from pathlib import Path

import numpy as np

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer

PACKAGE = Path(__file__).resolve().parents[1] / "sk_dae"

# The estimators, and the public modules built on them.
ESTIMATORS = {"_estimator", "_imputer"}
ON_TOP = {"__init__", "inspection", "onnx", "dask"}


def _imports(path):
    """The package's modules that ``path`` imports, at any depth of its code
    (a function's import is a call waiting to happen)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "sk_dae"
        ):
            found.add((node.module.split(".") + ["__init__"])[1])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "sk_dae":
                    found.add((parts + ["__init__"])[1])
    return found - {path.stem}


def _graph():
    return {path.stem: _imports(path) for path in PACKAGE.glob("*.py")}


def test_the_import_graph_finds_the_estimators():
    # The parser sees what it must: a test of the tests below.
    graph = _graph()
    assert "_estimator" in graph["_imputer"]
    assert {"_net", "_validation"} <= graph["_estimator"]
    assert {"_data", "_backprop"} <= graph["_net"]


def test_the_modules_import_one_another_without_a_cycle():
    # Acyclic: the modules have an order in which each one calls only those
    # below it. Remove, one at a time, a module that imports none of the rest.
    graph = _graph()
    while graph:
        leaves = {name for name, imports in graph.items() if not imports & graph.keys()}
        assert leaves, f"an import cycle among {sorted(graph)}"
        graph = {name: imports for name, imports in graph.items() if name not in leaves}


def test_nothing_below_the_estimators_imports_them():
    below = {
        name: imports & ESTIMATORS
        for name, imports in _graph().items()
        if name not in ESTIMATORS | ON_TOP
    }
    assert not {name: up for name, up in below.items() if up}


def test_the_public_modules_are_torch_alone():
    # sk_dae.modules is the protocol's home: a user's module sits beside it,
    # so it imports no scikit-learn and none of the estimators.
    tree = ast.parse((PACKAGE / "modules.py").read_text())
    named = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.level == 0
    }
    assert "sklearn" not in named and "skorch" not in named
    assert not _imports(PACKAGE / "modules.py") & ESTIMATORS


def test_the_estimators_read_neither_the_nets_callbacks_nor_the_stacks_layers():
    # What training found comes back as the net's TrainingResult and history;
    # the estimators once reached into net.callbacks_ and module_.layers[0].
    reached = {
        (name, node.attr)
        for name in ESTIMATORS
        for node in ast.walk(ast.parse((PACKAGE / f"{name}.py").read_text()))
        if isinstance(node, ast.Attribute) and node.attr in {"callbacks_", "layers"}
    }
    assert not reached


def _handed_down(net):
    """What the net holds: its attributes, and its callbacks' attributes."""
    held = list(vars(net).values())
    for _, callback in net.callbacks_:
        held += [callback, *vars(callback).values()]
    return held


def _is_of(value, estimator):
    return value is estimator or getattr(value, "__self__", None) is estimator


def test_the_trained_net_holds_nothing_to_call_the_estimator_back():
    rng = np.random.default_rng(0)
    X = rng.random((60, 6)).astype(np.float32)
    X[rng.random(X.shape) < 0.2] = np.nan
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(5, 4), max_epochs=2, random_state=0
    ).fit(X)
    imputer = DenoisingAutoencoderImputer(max_epochs=2, random_state=0).fit(X)
    for estimator, net in [
        (dae, dae.net_),
        (imputer.autoencoder_, imputer.autoencoder_.net_),
    ]:
        assert not [v for v in _handed_down(net) if _is_of(v, estimator)]
        assert not [v for v in _handed_down(net) if _is_of(v, imputer)]
