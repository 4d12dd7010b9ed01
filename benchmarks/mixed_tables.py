"""How well does DenoisingAutoencoderImputer fill mixed-type tables, and how
should a categorical column weigh in its loss?

Entries are removed completely at random (30% by default) from real tables
that mix numbers and categories; each imputer fits the holed table and fills
it. Reported, per table:

- the error rate of the categorical holes (1 - accuracy), pooled over the
  table's categorical columns;
- the RMSE of the numeric holes, in units of each column's standard deviation
  (over the table before holes were made);
- the wall time of ``fit_transform``,

for ``SimpleImputer`` (the most frequent category, the column mean;
"mode/mean"); ``KNNImputer`` on the one-hot, standardized table, each hole's
category its group's largest filled value ("KNN one-hot"); the same one-hot
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
never sees; both are printed.

Calibration: the draws of ``sample_posterior=True`` (100 per hole, with the
chosen default weighting) give each categorical hole a frequency for each of
its column's categories; pooled over every table, those frequencies are
binned and set against how often the category was the true one (a
reliability table, and the expected calibration error).

Tables: palmerpenguins' ``penguins`` (Debian's ``r-cran-palmerpenguins``
ships it as CSV) and ten of carData's (``r-cran-cardata``; exported through
``Rscript``), plus iris and wine with their class as a categorical column
(always present). A table whose package is missing is skipped, with a line
saying so. Tables are cut to ``--max-rows`` rows.

Output: markdown tables on stdout and ``mixed_tables.json``.

    python benchmarks/mixed_tables.py            # every table present
    python benchmarks/mixed_tables.py --smoke    # seconds: iris, 2 epochs
"""

import argparse
import json
import math
import shutil
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
from sklearn import datasets
from sklearn.impute import KNNImputer, SimpleImputer

import sk_dae._columns
from sk_dae import DenoisingAutoencoderImputer
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
]
# A third of the tables, fixed before any run: the weighting is never chosen
# on them.
HELD_OUT = ["Chile", "Cowles", "Womenlf", "wine"]
TABLES = ["penguins", *CARDATA, "iris", "wine"]
SEARCH = [name for name in TABLES if name not in HELD_OUT]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fraction", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-rows", type=int, default=2000)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--device", default="cpu", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--tables", nargs="*", default=TABLES, choices=TABLES)
    parser.add_argument("--max-epochs", default="auto")
    parser.add_argument("--smoke", action="store_true", help="iris, 2 epochs")
    parser.add_argument("--out", type=Path, default=Path("benchmark_results"))
    args = parser.parse_args(argv)
    if args.smoke:
        args.tables, args.max_epochs, args.draws = ["iris"], "2", 5
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
    script = "library(carData); " + "; ".join(
        f'write.csv(get("{n}"), "{folder / n}.csv", row.names = FALSE)' for n in names
    )
    done = subprocess.run(
        ["Rscript", "-e", script], capture_output=True, text=True, check=False
    )
    if done.returncode:
        return {}
    return {n: pd.read_csv(folder / f"{n}.csv") for n in names}


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


def with_holes(frame, fraction, seed):
    """The table with ``fraction`` of its observed entries set missing, and
    the mask of those entries."""
    rng = np.random.default_rng(seed)
    observed = frame.notna().to_numpy()
    removed = observed & (rng.random(frame.shape) < fraction)
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
    """The most frequent category, the column mean."""

    def fit_transform(self, frame):
        out = frame.copy()
        for column in frame.columns:
            if column in categorical_columns(frame):
                mode = frame[column].dropna().astype(str).mode().iloc[0]
                out[column] = frame[column].astype(object).where(
                    frame[column].notna(), mode
                )
            else:
                out[column] = frame[column].fillna(frame[column].mean())
        return out


def dae(args, **params):
    return DenoisingAutoencoderImputer(
        max_epochs=args.max_epochs,
        device=args.device,
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
            wrong += int((truth.astype(str).to_numpy() != guess.astype(str).to_numpy()).sum())
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
    for name, frame in tables.items():
        holed, removed = with_holes(frame, args.fraction, args.seed)
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
    for name, frame in tables.items():
        holed, removed = with_holes(frame, args.fraction, args.seed)
        for method, make in imputers(args).items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                filled = make().fit_transform(holed)
            seconds = time.perf_counter() - start
            error, rmse = scores(frame, filled, removed)
            results.append(
                {
                    "table": name,
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


def _geomean(values):
    values = [v for v in values if np.isfinite(v) and v > 0]
    return float(np.exp(np.mean(np.log(values)))) if values else math.nan


def relative_scores(results, tables, method, base="mode/mean"):
    """Geometric means over ``tables`` of the error and RMSE ratios against
    ``base``, and of their product's square root (the selection score)."""
    by = {(r["table"], r["method"]): r for r in results}
    errors, rmses, both = [], [], []
    for table in tables:
        if (table, method) not in by:
            continue
        r, b = by[(table, method)], by[(table, base)]
        e = r["error"] / b["error"] if b["error"] else math.nan
        s = r["rmse"] / b["rmse"] if b["rmse"] else math.nan
        errors.append(e)
        rmses.append(s)
        both.append(math.sqrt(e * s) if np.isfinite(e) and np.isfinite(s) else e)
    return {"error": _geomean(errors), "rmse": _geomean(rmses), "score": _geomean(both)}


def markdown(results, key, fmt):
    methods = list(dict.fromkeys(r["method"] for r in results))
    tables = list(dict.fromkeys(r["table"] for r in results))
    by = {(r["table"], r["method"]): r[key] for r in results}
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


def main(argv=None):
    args = parse_args(argv)
    args.device = resolve_device(args.device)
    tables, missing = load_tables(args.tables, args.max_rows, args.seed)
    info = environment(args.device)
    print(f"Machine: {machine_line(info)}")
    if missing:
        print(f"Skipped (package not installed): {', '.join(missing)}")
    results = run_tables(args, tables)
    summary_table, summary = summary_markdown(results, set(tables))
    weightings = {w: summary[f"DAE {w}"]["search"]["score"] for w in CATEGORY_WEIGHTS}
    chosen = min(weightings, key=lambda w: weightings[w])
    calibrated = calibration(args, tables)
    print(f"\n## Categorical error rate at {args.fraction:.0%} missing\n")
    print(markdown(results, "error", "{:.3f}"))
    print(f"\n## Numeric RMSE (sd units) at {args.fraction:.0%} missing\n")
    print(markdown(results, "rmse", "{:.3f}"))
    print("\n## Seconds (fit_transform)\n")
    print(markdown(results, "seconds", "{:.2f}"))
    print("\n## Against mode/mean (geometric means of the ratios; lower is better)\n")
    print(f"Search tables: {', '.join(t for t in SEARCH if t in tables)}.")
    print(f"Held-out tables: {', '.join(t for t in HELD_OUT if t in tables)}.\n")
    print(summary_table)
    print(f"\nChosen on the search tables: weighting {chosen!r}.")
    print(f"\n## Calibration of the draws ({args.draws} per hole)\n")
    print("| predicted | holes x categories | mean predicted | observed |")
    print("|---|---|---|---|")
    for row in calibrated["bins"]:
        print(
            f"| {row['bin']} | {row['n']} | {row['predicted']:.3f} | "
            f"{row['observed']:.3f} |"
        )
    print(f"\nExpected calibration error: {calibrated['ece']:.3f}")
    report = {
        "environment": info,
        "args": {k: str(v) for k, v in vars(args).items()},
        "skipped": missing,
        "results": results,
        "summary": summary,
        "chosen_weighting": chosen,
        "calibration": calibrated,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "mixed_tables.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
