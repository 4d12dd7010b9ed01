"""Try DenoisingAutoencoderImputer settings: the search behind its defaults.

Each setting (a JSON object of imputer parameters; under ``"autoencoder"``, a
JSON object of its DenoisingAutoencoderTransformer's) imputes the benchmark's five
tables (entries removed completely at random, as in ``impute.py``) once per
seed of the imputer; printed per table: the mean RMSE over the seeds ± half
their range, and its ratio to the better of KNNImputer and IterativeImputer,
run here on the same holes. Then the geometric mean of the RMSE over
IterativeImputer's, and the seconds taken. One line per setting.

``--variant`` tries ideas that are not parameters:

- ``average-maskings``: average the reconstructions of 10 copies of each row
  with a further 30% of its entries masked, at inference;
- ``refeed``: fill the holes, then reconstruct the filled rows 3 more times;
- ``indicator``: the missingness indicator as extra (complete) input columns;
- ``code-neighbours``: fill each hole with 0.7 times its reconstruction and
  0.3 times the mean of its row's 10 nearest rows in code space (their
  observed values, or their own fills), where KNN's local structure wins;
- ``subsample``: with ``n_estimators`` > 1, each member trains on its own
  random 63.2% of the rows (a bootstrap's distinct share; its copy of the
  other rows is missing to it);
- ``linear-skip``: the "auto" stack (untied, relu) as the autoencoder's own
  ``module``, plus a linear map from the corrupted input to the output with
  a zero diagonal (each column regressed on the others, as
  IterativeImputer's regressions do), where linear models win;
  ``own-module`` is the same module without the map, the fair baseline
  (both train through autograd, at ``lr`` 5e-3 unless the setting gives one).

    python benchmarks/try_imputer.py '{}' '{"lr": 0.003}' --seeds 0 1 2
    python benchmarks/try_imputer.py '{"autoencoder": {"corruption_level": 0.2}}'
    python benchmarks/try_imputer.py '{"epochs_scale": 0.5}' --tables iris linear

``"epochs_scale": s`` sets ``max_epochs`` to ``s`` times the "auto" budget of
each table's rows; ``"width_scale": s`` sets ``hidden_layer_sizes`` to ``s``
times the "auto" widths of each table's columns (at least 8 units), and
``"depth": d`` keeps the first ``d`` of the "auto" layers.
"""

import argparse
import json
import sys
import time
import warnings

import numpy as np
import torch
from impute import (
    KINDS,
    TABLES,
    UNSEEN,
    dae_imputer,
    holes,
    load_tables,
    load_unseen,
    rmse,
    warm_up,
)
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer
from sklearn.neighbors import NearestNeighbors
from torch import nn

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._imputer import _auto_epochs, _auto_layers, _ensemble_params, n_members


def plain(imputer, X_holed, mask):
    return imputer.fit_transform(X_holed)


def average_maskings(imputer, X_holed, mask, copies=10, level=0.3):
    imputer.fit(X_holed)
    rng = np.random.default_rng(0)
    Z = imputer._standardized(X_holed)
    total = 0.0
    for _ in range(copies):
        masked = np.where(rng.random(Z.shape) < level, np.nan, Z)
        masked = np.where(np.isnan(masked).all(axis=1, keepdims=True), Z, masked)
        # The mean of the members' reconstructions, as transform takes it.
        total = total + imputer._mean_reconstruction(masked)[0]
    filled = total / copies * imputer.scale_ + imputer.mean_
    return np.where(mask, filled, X_holed)


def refeed(imputer, X_holed, mask, rounds=3):
    filled = imputer.fit_transform(X_holed)
    for _ in range(rounds):
        Z = imputer._standardized(filled)
        recon = imputer._mean_reconstruction(Z)[0]
        filled = np.where(mask, recon * imputer.scale_ + imputer.mean_, X_holed)
    return filled


def code_neighbours(imputer, X_holed, mask, k=10, weight=0.3):
    filled = imputer.fit_transform(X_holed)
    # An ensemble trained together reads its columns once per member; its
    # codes are the members' codes side by side.
    autoencoder = imputer.autoencoder_
    Z = np.tile(imputer._standardized(X_holed), n_members(autoencoder))
    codes = autoencoder.transform(Z)
    _, rows = NearestNeighbors(n_neighbors=k + 1).fit(codes).kneighbors(codes)
    rows = rows[:, 1:]  # a row is its own nearest
    # Each neighbour's value: observed where it has one, else its own fill.
    values = np.where(np.isnan(X_holed[rows]), filled[rows], X_holed[rows])
    return np.where(mask, (1 - weight) * filled + weight * values.mean(axis=1), filled)


def subsample(imputer, X_holed, mask, share=0.632):
    """An ensemble trained together (``n_estimators`` > 1), each member on
    its own random share of the rows (0.632, a bootstrap's distinct rows):
    its copy of the other rows is missing, so its loss never reads them."""

    def fit_autoencoders(params, X_train):
        m, d = imputer.n_estimators, X_train.shape[1]
        rng = np.random.default_rng(imputer.random_state)
        tiled = np.tile(X_train, (1, m))
        for k in range(m):
            tiled[rng.random(len(X_train)) >= share, k * d : (k + 1) * d] = np.nan
        ensemble = DenoisingAutoencoderTransformer(**_ensemble_params(params, m))
        return [ensemble.fit(tiled)]

    imputer._fit_autoencoders = fit_autoencoders
    return imputer.fit_transform(X_holed)


class _SkipStack(nn.Module):
    """The imputer's "auto" layers as a user's module; with ``skip``, the
    decoder's output plus ``x A^T``, ``A`` with a zero diagonal. The protocol
    hands ``decode`` only the codes, so ``encode`` returns the map's output
    beside them."""

    def __init__(self, n_features, skip=False):
        super().__init__()
        sizes = [n_features, *_auto_layers(n_features)]
        pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
        self.encoders = nn.ModuleList(nn.Linear(a, b) for a, b in pairs)
        self.decoders = nn.ModuleList(nn.Linear(b, a) for a, b in reversed(pairs))
        self.n_features = n_features
        self.skip = nn.Linear(n_features, n_features, bias=False) if skip else None
        if skip:
            nn.init.zeros_(self.skip.weight)
            self.register_buffer("off_diagonal", 1 - torch.eye(n_features))

    def encode(self, x):
        h = x
        for layer in self.encoders:
            h = torch.relu(layer(h))
        if self.skip is None:
            return h
        return torch.cat([h, x @ (self.skip.weight * self.off_diagonal).t()], 1)

    def decode(self, h):
        linear = 0
        if self.skip is not None:
            h, linear = h[:, : -self.n_features], h[:, -self.n_features :]
        for k, layer in enumerate(self.decoders):
            h = layer(h)
            if k + 1 < len(self.decoders):
                h = torch.relu(h)
        return h + linear


def own_module(imputer, X_holed, mask, skip=False):
    template = clone(imputer.autoencoder).set_params(
        module=_SkipStack, module__skip=skip
    )
    lr = 5e-3 if imputer.lr == "auto" else imputer.lr
    return imputer.set_params(autoencoder=template, lr=lr).fit_transform(X_holed)


def linear_skip(imputer, X_holed, mask):
    return own_module(imputer, X_holed, mask, skip=True)


def indicator(imputer, X_holed, mask):
    mean, std = np.nanmean(X_holed, axis=0), np.nanstd(X_holed, axis=0)
    both = np.hstack([(X_holed - mean) / std, mask.astype(float)])
    filled = imputer.fit_transform(both)[:, : X_holed.shape[1]]
    return filled * std + mean


VARIANTS = {
    "plain": plain,
    "average-maskings": average_maskings,
    "refeed": refeed,
    "indicator": indicator,
    "code-neighbours": code_neighbours,
    "subsample": subsample,
    "own-module": own_module,
    "linear-skip": linear_skip,
}


def _resolved(setting, shape):
    """A setting's imputer parameters; ``"epochs_scale": s`` stands for
    ``max_epochs`` at ``s`` times the "auto" budget of the table's rows,
    ``"width_scale": s`` for ``s`` times the "auto" widths of its columns, and
    ``"depth": d`` for the first ``d`` of the "auto" layers."""
    setting = dict(setting)
    n_rows, n_columns = shape
    scale = setting.pop("epochs_scale", None)
    if scale is not None:
        setting["max_epochs"] = max(1, round(scale * _auto_epochs(n_rows)))
    scale, depth = setting.pop("width_scale", None), setting.pop("depth", None)
    if scale is not None or depth is not None:
        layers = _auto_layers(n_columns)[:depth] if depth else _auto_layers(n_columns)
        scale = 1.0 if scale is None else scale
        setting["hidden_layer_sizes"] = tuple(max(8, round(scale * w)) for w in layers)
    return setting


def peers(data, fraction, seed):
    """RMSE of KNNImputer and IterativeImputer on each table's holes."""
    out = {}
    for name, (X, _, _) in data.items():
        mask = holes(X.shape, fraction, seed)
        X_holed = np.where(mask, np.nan, X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            knn = KNNImputer().fit_transform(X_holed)
            iterative = IterativeImputer(random_state=seed).fit_transform(X_holed)
        out[name] = {"KNN": rmse(knn, X, mask), "iterative": rmse(iterative, X, mask)}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("settings", nargs="+", help="JSON: imputer parameters")
    parser.add_argument(
        "--tables",
        nargs="+",
        default=TABLES,
        choices=[*TABLES, *KINDS, *UNSEEN],
        help="scikit-learn's, the synthetic kinds (1,000 rows) or R's unseen "
        "tables (which the defaults must not be searched on)",
    )
    parser.add_argument("--fraction", type=float, default=0.3)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--holes-seed", type=int, default=0)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="plain")
    args = parser.parse_args(argv)
    data = load_tables([t for t in args.tables if t in TABLES])
    data.update(
        (name, (KINDS[name](1000, 0), None, False))
        for name in args.tables
        if name in KINDS
    )
    data.update(load_unseen([t for t in args.tables if t in UNSEEN]))
    reference = peers(data, args.fraction, args.holes_seed)
    warm_up()  # so that the first setting's seconds carry no torch import
    for setting in map(json.loads, args.settings):
        start, cells, ratios = time.perf_counter(), [], []
        for name, (X, _, _) in data.items():
            mask = holes(X.shape, args.fraction, args.holes_seed)
            X_holed = np.where(mask, np.nan, X)
            scores = []
            for seed in args.seeds:
                imputer = dae_imputer(_resolved(setting, X.shape), random_state=seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    filled = VARIANTS[args.variant](imputer, X_holed, mask)
                scores.append(rmse(filled, X, mask))
            mean, half = float(np.mean(scores)), (max(scores) - min(scores)) / 2
            best = min(reference[name].values())
            ratios.append(mean / reference[name]["iterative"])
            cells.append(f"{name} {mean:.3f} ± {half:.3f} ({mean / best:.2f}x best)")
        geo = float(np.exp(np.mean(np.log(ratios))))
        seconds = time.perf_counter() - start
        line = " | ".join(cells)
        print(
            f"{json.dumps(setting)} {args.variant}: {line} | geo/iterative "
            f"{geo:.3f} | {seconds:.0f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
