"""How well does DenoisingAutoencoderImputer fill mixed-type tables, and how
should a categorical column weigh in its loss?

Entries are removed from real tables that mix numbers and categories, 30%
of them by default, completely at random (MCAR), or at random given one
observed column (``--mechanism mar``: :func:`hole_probabilities`); each
imputer fits the holed table and fills it. Reported, per table:

- the error rate of the categorical holes (1 - accuracy), pooled over the
  table's categorical columns;
- the RMSE of the numeric holes, in units of each column's standard deviation
  (over the table before holes were made);
- the wall time of ``fit_transform``,

for ``SimpleImputer`` (the most frequent category, the column mean;
"mode/mean"); ``KNNImputer`` on the one-hot, standardized table, each hole's
category its group's largest filled value ("KNN one-hot"); ``IterativeImputer``
on that table, with its default linear model ("Iterative one-hot") and with
extremely randomized trees, as ``impute.py`` runs it (MissForest's scheme;
"forest one-hot"); the numeric autoencoder on the
numeric columns alone, the categories by their mode ("DAE numeric part":
what sk_dae gave such a table before); the same one-hot
table handed to the numeric autoencoder ("DAE one-hot": the workaround that
mixed-type support replaces, where masking drops single entries of a group
and the category is read off rounded numbers); and the autoencoder on the
table itself, with each of the three weightings of a categorical column's
cross-entropy in the loss (:data:`sk_dae._columns.CATEGORY_WEIGHTS`:
"column", every column counts once; "log_levels", divided by log k;
"levels", k times, as its one-hot entries would count).

The weighting is chosen on two thirds of the tables (``SEARCH``), by the
geometric mean over them of ``sqrt(error ratio * RMSE ratio)`` against
mode/mean, and confirmed on the other third (``HELD_OUT``), which the choice
never sees; both are printed. The default weighting is then set against
issue #31's targets, table by table: its categorical error over the best
peer's, and its numeric RMSE over Iterative one-hot's.

Calibration: the draws of ``sample_posterior=True`` (100 per hole, with the
chosen default weighting) give each categorical hole a frequency for each of
its column's categories; pooled over every table, those frequencies are
binned and set against how often the category was the true one (a
reliability table, and the expected calibration error).

Tables: palmerpenguins' ``penguins`` (Debian's ``r-cran-palmerpenguins``
ships it as CSV) and fourteen of carData's (``r-cran-cardata``; exported
through ``Rscript``; four of them have a column of 8 to 20 categories), plus
iris and wine with their class as a categorical column (always present). A
table whose package is missing is skipped, with a line saying so. Tables are
cut to ``--max-rows`` rows.

Speed: a synthetic table of ``--scale-rows`` rows (impute.py's, its last six
of 20 columns cut into 3 to 10 categories; 30% MCAR) is filled by the
autoencoder, whole, and by ``IterativeImputer`` on its numeric part; the
ratio of their times is printed.

Downstream (``--downstream``): on the tables with a categorical response
(``TARGETS``), gradient-boosted trees' 5-fold accuracy predicting it from
the other columns, as they are and as each imputer fills them after holes
(the response is never holed nor seen by an imputer). Features
(``--features``): the autoencoder's codes of those tables against one-hot
columns and their PCA, under logistic regression and gradient-boosted trees,
each representation fitted on a fold's training rows.

Output: markdown tables on stdout and ``mixed_tables.json``.

    python benchmarks/mixed_tables.py            # every table present
    python benchmarks/mixed_tables.py --mechanism mar --seeds 0 --scale-rows 0
    python benchmarks/mixed_tables.py --tables --seeds 0   # the speed table alone
    python benchmarks/mixed_tables.py --seeds 0 --scale-rows 0 --downstream --features
    python benchmarks/mixed_tables.py --smoke    # seconds: iris, 2 epochs
"""

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
from env_info import environment, machine_line
from impute import synthetic_table
from sklearn import datasets
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingClassifier
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import sk_dae._columns
from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer
from sk_dae._columns import CATEGORY_WEIGHTS
from sk_dae._device import resolve_device

PENGUINS = Path("/usr/lib/R/site-library/palmerpenguins/extdata/penguins.csv")
CARDATA = [
    "Salaries",
    "Mroz",
    "TitanicSurvival",
    "Chile",
    "Prestige",
    "Arrests",
    "Cowles",
    "Womenlf",
    "Wells",
    "SLID",
    # Columns of many categories: sector (10), province (10), year (20),
    # region (8).
    "Ornstein",
    "CES11",
    "GSSvocab",
    "UN",
]
# A third of the tables, fixed before any run: the weighting is never chosen
# on them.
HELD_OUT = ["Chile", "Cowles", "Womenlf", "wine", "CES11", "UN"]
TABLES = ["penguins", *CARDATA, "iris", "wine"]
SEARCH = [name for name in TABLES if name not in HELD_OUT]
# The class that the downstream classifier predicts (--downstream): the
# categorical response that carData's documentation gives the table, or the
# table's class. SLID, Ornstein and GSSvocab have a numeric response only and
# are left out.
TARGETS = {
    "penguins": "species",
    "Salaries": "rank",
    "Mroz": "lfp",
    "TitanicSurvival": "survived",
    "Chile": "vote",
    "Prestige": "type",
    "Arrests": "released",
    "Cowles": "volunteer",
    "Womenlf": "partic",
    "Wells": "switch",
    "CES11": "abortion",
    "UN": "group",
    "iris": "target",
    "wine": "target",
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fraction", type=float, default=0.3)
    parser.add_argument(
        "--mechanism",
        choices=["mcar", "mar"],
        default="mcar",
        help="holes completely at random, or at random given a column",
    )
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="holes and models"
    )
    parser.add_argument("--max-rows", type=int, default=2000)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument(
        "--scale-rows",
        type=int,
        default=100_000,
        help="rows of the synthetic mixed table that times imputation (0: none)",
    )
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--tables", nargs="*", default=TABLES, choices=TABLES)
    parser.add_argument("--max-epochs", default="auto")
    parser.add_argument(
        "--downstream",
        action="store_true",
        help="also a classifier's cross-validated accuracy on each imputed table",
    )
    parser.add_argument(
        "--features",
        action="store_true",
        help="also the autoencoder's features of each table against one-hot "
        "columns and PCA, for two classifiers",
    )
    parser.add_argument("--smoke", action="store_true", help="iris, 2 epochs")
    parser.add_argument("--out", type=Path, default=Path("benchmark_results"))
    args = parser.parse_args(argv)
    if args.mechanism == "mar" and args.fraction > 0.5:
        parser.error("--mechanism mar removes up to 2 * --fraction: give at most 0.5")
    if args.smoke:
        args.tables, args.max_epochs, args.draws = ["iris"], "2", 5
        args.seeds, args.scale_rows = args.seeds[:1], 2000
    if args.max_epochs != "auto":
        args.max_epochs = int(args.max_epochs)
    return args


# -- tables ---------------------------------------------------------------------


def _class_table(loader, name):
    bunch = loader(as_frame=True)
    frame = bunch.frame.copy()
    labels = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    frame["target"] = pd.Categorical(labels)
    return frame


def _cardata(names):
    """carData's tables, written to CSV by R (pyreadr reads no lazy-load
    data); {} without Rscript or the package."""
    if shutil.which("Rscript") is None:
        return {}
    folder = Path(tempfile.mkdtemp())
    # R's factors stay categorical (GSSvocab's year is a factor of numbers).
    script = "library(carData); " + "; ".join(
        f'd <- get("{n}"); write.csv(d, "{folder / n}.csv", row.names = FALSE); '
        f'writeLines(names(d)[sapply(d, is.factor)], "{folder / n}.factors")'
        for n in names
    )
    done = subprocess.run(
        ["Rscript", "-e", script], capture_output=True, text=True, check=False
    )
    if done.returncode:
        return {}
    # CES11's respondent id is no feature.
    tables = {}
    for n in names:
        factors = (folder / f"{n}.factors").read_text().split()
        tables[n] = pd.read_csv(folder / f"{n}.csv", dtype=dict.fromkeys(factors, str))
    return {n: t.drop(columns=["id"], errors="ignore") for n, t in tables.items()}


def load_tables(names, max_rows, seed):
    tables, missing = {}, []
    wanted = [n for n in names if n in CARDATA]
    cardata = _cardata(wanted) if wanted else {}
    for name in names:
        if name == "penguins":
            frame = pd.read_csv(PENGUINS) if PENGUINS.exists() else None
        elif name in CARDATA:
            frame = cardata.get(name)
        else:
            frame = _class_table(getattr(datasets, f"load_{name}"), name)
        if frame is None:
            missing.append(name)
            continue
        if len(frame) > max_rows:
            frame = frame.sample(max_rows, random_state=seed).reset_index(drop=True)
        tables[name] = frame
    return tables, missing


def categorical_columns(frame):
    return [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]


def mar_driver(frame):
    """The column that drives MAR holes: the first numeric column with the
    fewest missing entries (the first column of any kind without one)."""
    numeric = [c for c in frame.columns if c not in categorical_columns(frame)]
    candidates = numeric or list(frame.columns)
    return min(candidates, key=lambda c: frame[c].isna().sum())


def hole_probabilities(frame, fraction, mechanism):
    """Each entry's chance of being removed. MCAR: ``fraction`` everywhere.
    MAR: the driver column (:func:`mar_driver`) is never removed, and every
    other entry of a row is removed with a chance that rises linearly with
    the row's rank in the driver, from 0 to ``2 * fraction`` (``fraction`` on
    average), so that which entries are missing depends on an observed value."""
    p = np.full(frame.shape, fraction)
    if mechanism == "mar":
        driver = mar_driver(frame)
        rank = frame[driver].rank(method="first").to_numpy()
        share = (rank - 1) / max(np.nanmax(rank) - 1, 1)
        share = np.where(np.isnan(share), 0.5, share)
        p = np.repeat(2 * fraction * share[:, None], frame.shape[1], axis=1)
        p[:, list(frame.columns).index(driver)] = 0.0
    return p


def with_holes(frame, fraction, seed, mechanism="mcar"):
    """The table with ``fraction`` of its observed entries set missing (by
    ``mechanism``: :func:`hole_probabilities`), and the mask of those
    entries."""
    rng = np.random.default_rng(seed)
    observed = frame.notna().to_numpy()
    p = hole_probabilities(frame, fraction, mechanism)
    removed = observed & (rng.random(frame.shape) < p)
    holed = frame.copy()
    for j, column in enumerate(frame.columns):
        if removed[:, j].any():
            if column in categorical_columns(frame):
                holed[column] = holed[column].astype(object)
                holed.loc[removed[:, j], column] = None
            else:
                holed[column] = holed[column].astype(float)
                holed.loc[removed[:, j], column] = np.nan
    return holed, removed


# -- imputers -------------------------------------------------------------------


class OneHotImputer:
    """A numeric imputer on the one-hot, standardized table; each
    categorical hole gets its group's largest filled value."""

    def __init__(self, imputer):
        self.imputer = imputer

    def fit_transform(self, frame):
        categorical = categorical_columns(frame)
        numeric = [c for c in frame.columns if c not in categorical]
        values = frame[numeric].to_numpy(dtype=float)
        mean, scale = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        blocks, groups = [(values - mean) / scale], {}
        for column in categorical:
            series = frame[column]
            levels = sorted(series.dropna().astype(str).unique())
            block = np.zeros((len(frame), len(levels)))
            for k, level in enumerate(levels):
                block[:, k] = series.astype(str).to_numpy() == level
            block[series.isna().to_numpy()] = np.nan
            groups[column] = (sum(b.shape[1] for b in blocks), levels)
            blocks.append(block)
        filled = self.imputer.fit_transform(np.hstack(blocks))
        out = frame.copy()
        out[numeric] = filled[:, : len(numeric)] * scale + mean
        for column, (start, levels) in groups.items():
            group = filled[:, start : start + len(levels)]
            out[column] = np.asarray(levels, dtype=object)[group.argmax(axis=1)]
        return out


class SimpleTableImputer:
    """scikit-learn's SimpleImputer: the most frequent category, the column
    mean."""

    def fit_transform(self, frame):
        out = frame.copy()
        for column in frame.columns:
            categorical = column in categorical_columns(frame)
            values = frame[[column]].astype(object if categorical else float)
            if categorical:  # SimpleImputer's missing marker for objects
                values = values.where(values.notna(), np.nan)
            strategy = "most_frequent" if categorical else "mean"
            filled = SimpleImputer(strategy=strategy).fit_transform(values)
            out[column] = filled[:, 0]
        return out


class NumericPartImputer:
    """An imputer of numbers on the numeric columns alone, the categorical
    columns filled with their most frequent category: what a numeric-only
    imputer gives a mixed table."""

    def __init__(self, imputer):
        self.imputer = imputer

    def fit_transform(self, frame):
        out = SimpleTableImputer().fit_transform(frame)
        numeric = [c for c in frame.columns if c not in categorical_columns(frame)]
        if numeric:
            values = frame[numeric].to_numpy(dtype=float)
            out[numeric] = self.imputer.fit_transform(values)
        return out


def forest(args):
    """MissForest's scheme, as impute.py runs it: IterativeImputer with
    extremely randomized trees."""
    trees = ExtraTreesRegressor(
        n_estimators=10, min_samples_leaf=3, random_state=args.seed, n_jobs=1
    )
    return IterativeImputer(estimator=trees, random_state=args.seed)


def dae(args, **params):
    return DenoisingAutoencoderImputer(
        max_epochs=args.max_epochs,
        autoencoder=DenoisingAutoencoderTransformer(device=args.device),
        random_state=args.seed,
        **params,
    )


class NativeImputer:
    """The autoencoder on the table itself, with a weighting of its
    categorical columns' loss (the default's module-level choice, patched
    for the run: the fitted layout records it)."""

    def __init__(self, args, weighting):
        self.args, self.weighting = args, weighting

    def fit_transform(self, frame):
        with mock.patch.object(sk_dae._columns, "DEFAULT_WEIGHTING", self.weighting):
            imputer = dae(self.args).set_output(transform="pandas")
            return imputer.fit_transform(frame)


def imputers(args):
    makers = {
        "mode/mean": lambda: SimpleTableImputer(),
        "KNN one-hot": lambda: OneHotImputer(KNNImputer()),
        "Iterative one-hot": lambda: OneHotImputer(
            IterativeImputer(random_state=args.seed)
        ),
        "forest one-hot": lambda: OneHotImputer(forest(args)),
        "DAE numeric part": lambda: NumericPartImputer(dae(args)),
        "DAE one-hot": lambda: OneHotImputer(dae(args, categorical_features=None)),
    }
    for weighting in CATEGORY_WEIGHTS:
        makers[f"DAE {weighting}"] = lambda w=weighting: NativeImputer(args, w)
    return makers


# -- scores ---------------------------------------------------------------------


def scores(frame, filled, removed):
    """``(categorical error rate, numeric RMSE in sd units)`` over the
    removed entries; NaN where the table has none of that kind."""
    categorical = categorical_columns(frame)
    wrong = total = 0
    squared, count = 0.0, 0
    for j, column in enumerate(frame.columns):
        rows = removed[:, j]
        if not rows.any():
            continue
        truth, guess = frame[column][rows], filled[column][rows]
        if column in categorical:
            wrong += int(
                (truth.astype(str).to_numpy() != guess.astype(str).to_numpy()).sum()
            )
            total += int(rows.sum())
        else:
            sd = frame[column].std() or 1.0
            diff = (truth.to_numpy(float) - guess.to_numpy(float)) / sd
            squared += float(np.sum(diff**2))
            count += int(rows.sum())
    error = wrong / total if total else math.nan
    rmse = math.sqrt(squared / count) if count else math.nan
    return error, rmse


def calibration(args, tables, n_bins=10):
    """The draws' frequency of each category against its truth, pooled."""
    frequencies, hits = [], []
    for frame in tables.values():
        holed, removed = with_holes(frame, args.fraction, args.seed, args.mechanism)
        imputer = dae(args, sample_posterior=True).fit(holed)
        draws = imputer.sample(holed, n_draws=args.draws, random_state=args.seed)
        for j, column in enumerate(frame.columns):
            if column not in categorical_columns(frame) or not removed[:, j].any():
                continue
            rows = np.flatnonzero(removed[:, j])
            drawn = draws[:, rows, j].astype(str)  # (draws, holes)
            truth = frame[column].to_numpy()[rows].astype(str)
            for level in np.unique(frame[column].dropna().astype(str)):
                frequencies.append((drawn == level).mean(axis=0))
                hits.append(truth == level)
    p, hit = np.concatenate(frequencies), np.concatenate(hits)
    edges = np.linspace(0, 1, n_bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    rows = []
    for b in range(n_bins):
        inside = index == b
        if inside.any():
            rows.append(
                {
                    "bin": f"{edges[b]:.1f}-{edges[b + 1]:.1f}",
                    "n": int(inside.sum()),
                    "predicted": float(p[inside].mean()),
                    "observed": float(hit[inside].mean()),
                }
            )
    ece = sum(r["n"] * abs(r["predicted"] - r["observed"]) for r in rows) / len(p)
    return {"bins": rows, "ece": ece, "n": int(len(p))}


def run_tables(args, tables):
    results = []
    for seed in args.seeds:
        args.seed = seed
        for name, frame in tables.items():
            results.extend(run_table(args, name, frame))
    args.seed = args.seeds[0]
    return results


def timed_fill(make, holed, frame, removed):
    """Seconds of ``make().fit_transform(holed)``, and the fill's categorical
    error and numeric RMSE on the removed entries."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        filled = make().fit_transform(holed)
    seconds = time.perf_counter() - start
    return (seconds, *scores(frame, filled, removed))


def run_table(args, name, frame):
    results = []
    holed, removed = with_holes(frame, args.fraction, args.seed, args.mechanism)
    for method, make in imputers(args).items():
        seconds, error, rmse = timed_fill(make, holed, frame, removed)
        results.append(
            {
                "table": name,
                "seed": args.seed,
                "rows": len(frame),
                "categorical": len(categorical_columns(frame)),
                "columns": frame.shape[1],
                "method": method,
                "error": error,
                "rmse": rmse,
                "seconds": seconds,
            }
        )
        print(
            f"  {name:16s} {method:16s} error {error:.3f} rmse {rmse:.3f} "
            f"{seconds:.1f} s",
            file=sys.stderr,
        )
    return results


# -- downstream ------------------------------------------------------------------


def classifier(seed):
    """Gradient-boosted trees that read the categorical columns natively (no
    one-hot step to choose), and missing entries where the table has them."""
    return HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=seed
    )


def as_categories(filled, categorical):
    """The imputed table with its categorical columns as pandas categories,
    whatever kind of column each imputer returned them in."""
    out = filled.copy()
    for column in categorical:
        out[column] = out[column].astype(object).astype("category")
    return out


def downstream_table(args, name, frame):
    """5-fold accuracy of :func:`classifier` predicting the table's class
    (``TARGETS``) from its other columns, on the table as it is ("complete
    table") and as each imputer fills it after holes were made in those
    columns (the class is never holed and no imputer sees it: Jager et al.
    2021's downstream score). Imputation is fitted on the whole table, the
    folds split the filled rows."""
    target = TARGETS[name]
    frame = frame[frame[target].notna()].reset_index(drop=True)
    y = frame[target].astype(str).to_numpy()
    features = frame.drop(columns=target)
    holed, _ = with_holes(features, args.fraction, args.seed, args.mechanism)
    categorical = categorical_columns(features)
    folds = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    kept = [*PEERS, f"DAE {sk_dae._columns.DEFAULT_WEIGHTING}"]  # the default last
    makers = {m: make for m, make in imputers(args).items() if m in kept}
    rows = []
    for method in ["complete table", *makers]:
        if method == "complete table":
            filled = features
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                filled = makers[method]().fit_transform(holed)
        table = as_categories(filled, categorical)
        accuracy = cross_val_score(classifier(args.seed), table, y, cv=folds).mean()
        rows.append(
            {
                "table": name,
                "seed": args.seed,
                "target": target,
                "method": method,
                "accuracy": float(accuracy),
            }
        )
        print(f"  {name:16s} {method:17s} accuracy {accuracy:.3f}", file=sys.stderr)
    return rows


def classified_tables(args, tables, per_table):
    """``per_table(args, name, frame)``'s rows over the seeds, for each table
    with a class to predict (``TARGETS``)."""
    rows = []
    for seed in args.seeds:
        args.seed = seed
        for name, frame in tables.items():
            if name in TARGETS:
                rows.extend(per_table(args, name, frame))
    args.seed = args.seeds[0]
    return rows


def mean_accuracy(rows):
    """Each method's mean accuracy over the tables and seeds, in run order."""
    methods = dict.fromkeys(r["method"] for r in rows)
    return {
        m: statistics.mean(r["accuracy"] for r in rows if r["method"] == m)
        for m in methods
    }


def downstream_report(args, tables):
    """The downstream section over the seeds: its rows, and its printout."""
    rows = classified_tables(args, tables, downstream_table)
    holes = f"{args.fraction:.0%} missing, {args.mechanism.upper()}"
    print(
        f"\n## Downstream: a classifier's 5-fold accuracy on the imputed table "
        f"({holes} in the features; the class is never holed)\n"
    )
    print(markdown(rows, "accuracy", "{:.3f}"))
    mean = mean_accuracy(rows)
    methods = list(mean)
    best = {}
    for r in rows:
        key = (r["table"], r["seed"])
        if r["method"] != "complete table":
            best[key] = max(best.get(key, -1.0), r["accuracy"])
    default = methods[-1]
    wins = sum(
        r["accuracy"] >= best[(r["table"], r["seed"])] - 1e-12
        for r in rows
        if r["method"] == default
    )
    print("\n| method | mean accuracy over tables and seeds |\n|---|---|")
    for m in methods:
        print(f"| {m} | {mean[m]:.3f} |")
    print(
        f"\n{default} is the best imputer (or tied) on {wins} of {len(best)} "
        "table-seeds."
    )
    return {"rows": rows, "mean": mean, "default_best_on": wins}


# -- features ------------------------------------------------------------------

# The autoencoder's setting for --features, fixed before any run (not tuned):
# an overcomplete code of 32 units, small batches for tables of a few hundred
# rows, and early stopping on held-out rows to end training.
FEATURE_DAE = dict(
    hidden_layer_sizes=(32,),
    batch_size=32,
    max_epochs=200,
    early_stopping=True,
)


def _split_kinds(features):
    categorical = categorical_columns(features)
    return [c for c in features.columns if c not in categorical], categorical


def one_hot_columns(features):
    """The numeric columns mean-imputed and standardized, the categorical ones
    one-hot after a most-frequent fill: the usual way to hand such a table to
    a linear model."""
    numeric, categorical = _split_kinds(features)
    encoder = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    return ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            (
                "categorical",
                make_pipeline(SimpleImputer(strategy="most_frequent"), encoder),
                categorical,
            ),
        ]
    )


def representations(features, seed, max_epochs="auto"):
    """Makers of each representation of a table (fitted on the training rows
    of a fold): one-hot columns; their PCA at 95% of the variance; and the
    autoencoder's codes of the table itself, its numeric columns standardized
    in front, missing entries and categories read as they are."""
    numeric, _ = _split_kinds(features)

    def dae():
        scale = ColumnTransformer(
            [("numeric", StandardScaler(), numeric)],
            remainder="passthrough",
            verbose_feature_names_out=False,
        ).set_output(transform="pandas")
        params = dict(FEATURE_DAE, device="cpu", random_state=seed)
        if max_epochs != "auto":  # --max-epochs (--smoke) caps the run
            params["max_epochs"] = max_epochs
        model = DenoisingAutoencoderTransformer(**params)
        return make_pipeline(scale, model)

    return {
        "one-hot columns": lambda: one_hot_columns(features),
        "PCA (95%)": lambda: make_pipeline(
            one_hot_columns(features), PCA(0.95, svd_solver="full")
        ),
        "DAE(32) codes": dae,
    }


CLASSIFIERS = {
    "logistic": lambda seed: LogisticRegression(max_iter=5000),
    "HistGB": classifier,
}


def _with_nan(features):
    """Missing categories as NaN (SimpleImputer does not read None as missing
    in an object column)."""
    out = features.copy()
    for column in categorical_columns(features):
        out[column] = out[column].astype(object).where(out[column].notna(), np.nan)
    return out


def features_table(args, name, frame):
    """5-fold accuracy of each classifier on each representation of the
    table's other columns, predicting its class (``TARGETS``); every
    representation is fitted on the fold's training rows only."""
    target = TARGETS[name]
    frame = frame[frame[target].notna()].reset_index(drop=True)
    y = frame[target].astype(str).to_numpy()
    features = _with_nan(frame.drop(columns=target))
    folds = StratifiedKFold(5, shuffle=True, random_state=args.seed)
    makers = representations(features, args.seed, args.max_epochs)
    hits = {(r, c): [] for r in makers for c in CLASSIFIERS}
    for train, test in folds.split(features, y):
        for rep, make in makers.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fitted = make().fit(features.iloc[train])
                A, B = (
                    fitted.transform(features.iloc[train]),
                    fitted.transform(features.iloc[test]),
                )
            for clf, make_clf in CLASSIFIERS.items():
                model = make_clf(args.seed).fit(A, y[train])
                hits[(rep, clf)].append(float((model.predict(B) == y[test]).mean()))
    rows = []
    for (rep, clf), accuracies in hits.items():
        accuracy = float(np.mean(accuracies))
        rows.append(
            {
                "table": name,
                "seed": args.seed,
                "method": f"{rep}, {clf}",
                "accuracy": accuracy,
            }
        )
        line = f"  {name:16s} {rep:16s} {clf:9s} accuracy {accuracy:.3f}"
        print(line, file=sys.stderr)
    return rows


def features_report(args, tables):
    """The features section over the seeds: its rows, and its printout."""
    rows = classified_tables(args, tables, features_table)
    print(
        "\n## Features: a classifier's 5-fold accuracy on each representation "
        "of the table (as it is, missing entries included)\n"
    )
    print(markdown(rows, "accuracy", "{:.3f}"))
    mean = mean_accuracy(rows)
    print("\n| representation, classifier | mean accuracy over tables and seeds |")
    print("|---|---|")
    for m, accuracy in mean.items():
        print(f"| {m} | {accuracy:.3f} |")
    return {"rows": rows, "mean": mean}


# The synthetic table's categorical columns: its last six, cut into this many
# levels at quantiles.
SCALE_LEVELS = (3, 4, 5, 6, 8, 10)


def scale_frame(n_rows, seed):
    """impute.py's synthetic table (20 smooth functions of 5 factors, plus
    noise) with its last six columns cut into categories."""
    X = synthetic_table(n_rows, seed)
    n_numeric = X.shape[1] - len(SCALE_LEVELS)
    frame = pd.DataFrame(X[:, :n_numeric], columns=[f"x{j}" for j in range(n_numeric)])
    for j, levels in enumerate(SCALE_LEVELS, start=n_numeric):
        cuts = np.quantile(X[:, j], np.linspace(0, 1, levels + 1)[1:-1])
        labels = np.array([f"level {k}" for k in range(levels)], dtype=object)
        frame[f"c{j}"] = pd.Categorical(labels[np.digitize(X[:, j], cuts)])
    return frame


def scale_run(args):
    """Seconds of fit_transform on the synthetic mixed table at 30% MCAR:
    the autoencoder on the whole table, IterativeImputer (BayesianRidge) on
    its numeric part, as issue #31 sets the target (within 3x)."""
    frame = scale_frame(args.scale_rows, args.seed)
    holed, removed = with_holes(frame, 0.3, args.seed)
    numeric = [c for c in frame.columns if c not in categorical_columns(frame)]
    runs = {
        "DAE, whole table": lambda: dae(args).set_output(transform="pandas"),
        "IterativeImputer, numeric part": lambda: NumericPartImputer(
            IterativeImputer(random_state=args.seed)
        ),
    }
    rows = []
    for method, make in runs.items():
        seconds, error, rmse = timed_fill(make, holed, frame, removed)
        rows.append(
            {"method": method, "seconds": seconds, "error": error, "rmse": rmse}
        )
        print(f"  scale {method}: {seconds:.1f} s", file=sys.stderr)
    rows[0]["over_iterative"] = rows[0]["seconds"] / rows[1]["seconds"]
    return {"rows": args.scale_rows, "numeric": len(numeric), "runs": rows}


def scale_markdown(scale):
    lines = [
        f"\n## Time on a synthetic mixed table ({scale['rows']} rows, "
        f"{scale['numeric']} numeric and {len(SCALE_LEVELS)} categorical columns "
        f"of {min(SCALE_LEVELS)} to {max(SCALE_LEVELS)} levels, 30% MCAR)\n",
        "| method | seconds | categorical error | numeric RMSE |",
        "|---|---|---|---|",
    ]
    for r in scale["runs"]:
        lines.append(
            f"| {r['method']} | {r['seconds']:.1f} | {r['error']:.3f} | "
            f"{r['rmse']:.3f} |"
        )
    ratio = scale["runs"][0]["over_iterative"]
    lines.append(f"\nThe autoencoder's time over IterativeImputer's: {ratio:.2f}x.")
    return "\n".join(lines)


def _geomean(values):
    values = [v for v in values if np.isfinite(v) and v > 0]
    return float(np.exp(np.mean(np.log(values)))) if values else math.nan


def relative_scores(results, tables, method, base="mode/mean"):
    """Geometric means over ``tables`` of the error and RMSE ratios against
    ``base``, and of their product's square root (the selection score)."""
    by = {(r["table"], r["seed"], r["method"]): r for r in results}
    errors, rmses, both = [], [], []
    for table, seed, name in list(by):
        if name != method or table not in tables:
            continue
        r, b = by[(table, seed, method)], by[(table, seed, base)]
        e = r["error"] / b["error"] if b["error"] else math.nan
        s = r["rmse"] / b["rmse"] if b["rmse"] else math.nan
        errors.append(e)
        rmses.append(s)
        both.append(math.sqrt(e * s) if np.isfinite(e) and np.isfinite(s) else e)
    return {"error": _geomean(errors), "rmse": _geomean(rmses), "score": _geomean(both)}


def markdown(results, key, fmt):
    methods = list(dict.fromkeys(r["method"] for r in results))
    tables = list(dict.fromkeys(r["table"] for r in results))
    by = {}
    for r in results:  # the mean over the seeds
        by.setdefault((r["table"], r["method"]), []).append(r[key])
    by = {k: float(np.mean(v)) for k, v in by.items()}
    lines = [
        "| table | " + " | ".join(methods) + " |",
        "|---|" + "---|" * len(methods),
    ]
    for table in tables:
        cells = [fmt.format(by[(table, m)]) for m in methods]
        lines.append(f"| {table} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summary_markdown(results, present):
    methods = list(dict.fromkeys(r["method"] for r in results))
    search = [t for t in SEARCH if t in present]
    held = [t for t in HELD_OUT if t in present]
    lines = [
        "| method | search: error | search: RMSE | search: score | held out: error "
        "| held out: RMSE | held out: score |",
        "|---|---|---|---|---|---|---|",
    ]
    summary = {}
    for method in methods:
        s = relative_scores(results, search, method)
        h = relative_scores(results, held, method)
        summary[method] = {"search": s, "held_out": h}
        cells = [s["error"], s["rmse"], s["score"], h["error"], h["rmse"], h["score"]]
        lines.append(f"| {method} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines), summary


PEERS = ["mode/mean", "KNN one-hot", "Iterative one-hot", "forest one-hot"]


def targets_markdown(results, method):
    """``method`` against issue #31's targets, table by table: its
    categorical error over the best peer's (of :data:`PEERS`), and its
    numeric RMSE over Iterative one-hot's (means over the seeds)."""
    by = {}
    for r in results:
        by.setdefault((r["table"], r["method"]), []).append(r)
    mean = {
        k: {m: float(np.mean([r[m] for r in v])) for m in ("error", "rmse")}
        for k, v in by.items()
    }
    lines = [
        f"| table | best peer | its error | {method} error | ratio | "
        f"RMSE over Iterative's |",
        "|---|---|---|---|---|---|",
    ]
    ratios, rmse_ratios = [], []
    for table in dict.fromkeys(r["table"] for r in results):
        best = min(PEERS, key=lambda m: mean[(table, m)]["error"])
        peer, own = mean[(table, best)]["error"], mean[(table, method)]["error"]
        ratio = own / peer if peer else math.nan
        rmse = (
            mean[(table, method)]["rmse"] / mean[(table, "Iterative one-hot")]["rmse"]
        )
        ratios.append(ratio)
        rmse_ratios.append(rmse)
        lines.append(
            f"| {table} | {best} | {peer:.3f} | {own:.3f} | {ratio:.2f} | {rmse:.2f} |"
        )
    within = sum(r <= 1.1 for r in ratios if np.isfinite(r))
    lines.append(
        f"\nError over the best peer's: geometric mean {_geomean(ratios):.3f}, "
        f"within 1.1x on {within} of {len(ratios)} tables. Numeric RMSE over "
        f"Iterative one-hot's: geometric mean {_geomean(rmse_ratios):.3f}, at "
        f"most 1 on {sum(r <= 1 for r in rmse_ratios)} of {len(rmse_ratios)}."
    )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    args.device = resolve_device(args.device)
    args.seed = args.seeds[0]
    tables, missing = load_tables(args.tables, args.max_rows, args.seed)
    info = environment(args.device)
    print(f"Machine: {machine_line(info)}")
    if missing:
        print(f"Skipped (package not installed): {', '.join(missing)}")
    report = {
        "environment": info,
        "args": {k: str(v) for k, v in vars(args).items()},
        "skipped": missing,
    }
    if tables:
        report.update(table_report(args, tables))
    if tables and args.downstream:
        report["downstream"] = downstream_report(args, tables)
    if tables and args.features:
        report["features"] = features_report(args, tables)
    if args.scale_rows:
        report["scale"] = scale_run(args)
        print(scale_markdown(report["scale"]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mixed_tables.json").write_text(json.dumps(report, indent=2))


def table_report(args, tables):
    """Runs and prints the tables' sections; their results, for the JSON."""
    results = run_tables(args, tables)
    summary_table, summary = summary_markdown(results, set(tables))
    weightings = {w: summary[f"DAE {w}"]["search"]["score"] for w in CATEGORY_WEIGHTS}
    chosen = min(weightings, key=lambda w: weightings[w])
    calibrated = calibration(args, tables)
    seeds = ", ".join(map(str, args.seeds))
    holes = f"{args.fraction:.0%} missing, {args.mechanism.upper()}"
    print(f"\nMeans over seeds {seeds} (holes and models).")
    print(f"\n## Categorical error rate at {holes}\n")
    print(markdown(results, "error", "{:.3f}"))
    print(f"\n## Numeric RMSE (sd units) at {holes}\n")
    print(markdown(results, "rmse", "{:.3f}"))
    print("\n## Seconds (fit_transform)\n")
    print(markdown(results, "seconds", "{:.2f}"))
    print(
        "\n## Against mode/mean (geometric means of the ratios over tables and "
        "seeds; lower is better)\n"
    )
    print(f"Search tables: {', '.join(t for t in SEARCH if t in tables)}.")
    print(f"Held-out tables: {', '.join(t for t in HELD_OUT if t in tables)}.\n")
    print(summary_table)
    print(f"\nChosen on the search tables: weighting {chosen!r}.")
    default = f"DAE {sk_dae._columns.DEFAULT_WEIGHTING}"
    print(f"\n## The default ({default}) against the peers\n")
    print(targets_markdown(results, default))
    print(
        f"\n## Calibration of the draws ({args.draws} per hole, seed {args.seed}, "
        f"weighting {sk_dae._columns.DEFAULT_WEIGHTING!r})\n"
    )
    print("| predicted | holes x categories | mean predicted | observed |")
    print("|---|---|---|---|")
    for row in calibrated["bins"]:
        print(
            f"| {row['bin']} | {row['n']} | {row['predicted']:.3f} | "
            f"{row['observed']:.3f} |"
        )
    print(f"\nExpected calibration error: {calibrated['ece']:.3f}")
    return {
        "results": results,
        "summary": summary,
        "chosen_weighting": chosen,
        "calibration": calibrated,
    }


if __name__ == "__main__":
    main()
