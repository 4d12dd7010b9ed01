"""Which features keep a classifier accurate when test inputs go missing?

Every feature extractor and classifier is fitted on clean training rows; the
test rows then lose pixels, either at random (10% to 70% by default) or to an
occluding square at a random place in each image (two sizes), and are
classified as they are. Features:

- raw pixels, behind a mean imputer (fitted on the training rows);
- PCA, behind the same mean imputer;
- DenoisingAutoencoderTransformer with the recipe for missing data
  (``SETTINGS[dataset]["dae"]``), NaN-native;
- the same DAE without the recipe (``PLAIN``: a hole enters as 0, i.i.d.
  masking, no consistency term), to show what the recipe buys.

Each feeds an SVC (rbf, C=10) and a linear probe (logistic regression), on
standardized features. The DAEs are fitted with each seed of ``--seeds``;
their cells give the mean over seeds and, after ``±``, half the range.

Output: markdown tables of test accuracy per condition and of the share of the
clean accuracy kept, ``robustness.json``, and ``robustness.png`` (accuracy
against the missing fraction).

    python benchmarks/robustness.py                              # digits
    python benchmarks/robustness.py --dataset fashion-mnist --n-train 10000 \\
        --n-test 3000
    python benchmarks/robustness.py --smoke                      # seconds

One part of the recipe changed, on one seed and one missing fraction:

    python benchmarks/robustness.py --dataset fashion-mnist --n-train 10000 \\
        --n-test 3000 --fractions 0.5 --seeds 0 --no-plain \\
        --dae-params '{"consistency": 1.0}'
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import plots
from env_info import environment, machine_line
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._device import resolve_device
from sk_dae.datasets import load_dataset

# Per dataset: the recommended DAE for inputs that go missing (the estimator's
# keyword arguments), the PCA width, and the occluding squares' sides. The
# recipe: holes (missing, or dropped by the noise) enter as a learned value per
# pixel; the noise drops i.i.d. pixels or a square; the loss counts the pixels
# the network saw (emphasis (0, 1)), and a light consistency term keeps the
# codes of a holed image near those of the clean one. benchmarks/README.md
# says what each part is worth, and what else was tried.
SETTINGS = {
    "digits": {
        "dae": dict(
            hidden_layer_sizes=(100,),
            activation="sigmoid",
            corruption="block_mask",
            image_shape=(8, 8),
            corruption_level=0.5,
            input_fill="learned",
            emphasis=(0.0, 1.0),
            consistency=0.2,
            loss="bce",
            max_epochs=300,
        ),
        "pca": 32,
        "blocks": [3, 4],
    },
    "fashion-mnist": {
        "dae": dict(
            hidden_layer_sizes=(2000,),
            activation="sigmoid",
            corruption="block_mask",
            image_shape=(28, 28),
            corruption_level=0.5,
            input_fill="learned",
            emphasis=(0.0, 1.0),
            consistency=0.2,
            loss="bce",
            max_epochs=20,
        ),
        "pca": 100,
        "blocks": [10, 14],
    },
}

# The DAE without the recipe, as the package trained it before input_fill,
# block masking and the consistency term: holes enter as 0, i.i.d. masking,
# every pixel a target.
PLAIN = dict(
    corruption="mask",
    image_shape=None,
    input_fill="zero",
    emphasis=None,
    consistency=0.0,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits", choices=sorted(SETTINGS))
    parser.add_argument("--data-dir", help="Fashion-MNIST IDX folder")
    parser.add_argument("--n-train", type=int, help="seeded subset of training rows")
    parser.add_argument("--n-test", type=int, help="seeded subset of test rows")
    parser.add_argument(
        "--fractions", type=float, nargs="+", default=[0.1, 0.3, 0.5, 0.7]
    )
    parser.add_argument("--seed", type=int, default=0, help="data and holes")
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="the DAEs' seeds"
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--max-epochs", type=int, help="override the DAE's epochs")
    parser.add_argument(
        "--dae-params",
        type=json.loads,
        default={},
        help="JSON of DAE parameters over the recipe, e.g. '{\"consistency\": 1}'",
    )
    parser.add_argument(
        "--no-plain", action="store_true", help="leave out the DAE without recipe"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny settings")
    parser.add_argument("--out", default="results", help="output folder")
    args = parser.parse_args(argv)
    if args.smoke:
        args.fractions, args.max_epochs, args.seeds = [0.5], 2, [0, 1]
        args.n_train, args.n_test = args.n_train or 300, args.n_test or 100
    return args


def dae_params(args, settings):
    """The recipe's DAE parameters, with the overrides of the command line."""
    # JSON has no tuples; the estimator takes these two as tuples.
    given = {
        k: tuple(v) if k in ("emphasis", "image_shape") and v else v
        for k, v in args.dae_params.items()
    }
    dae = {**settings["dae"], **given}
    if args.max_epochs is not None:
        dae["max_epochs"] = args.max_epochs
    return dae


def extractors(args, settings):
    """Name -> list of extractors (one per seed for the DAEs)."""
    dae = dict(dae_params(args, settings), device=args.device)
    width, units = settings["pca"], dae["hidden_layer_sizes"][-1]
    out = {
        "raw pixels + mean imputer": [SimpleImputer()],
        f"PCA({width}) + mean imputer": [
            make_pipeline(SimpleImputer(), PCA(width, random_state=args.seed))
        ],
    }
    variants = {f"DAE({units}), recipe": dae}
    if not args.no_plain:
        variants[f"DAE({units}), plain"] = {**dae, **PLAIN}
    for name, params in variants.items():
        out[name] = [
            DenoisingAutoencoderTransformer(**params, random_state=seed)
            for seed in args.seeds
        ]
    return out


def classifiers():
    return {
        "SVC": lambda: make_pipeline(StandardScaler(), SVC(C=10)),
        "linear probe": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=1000)
        ),
    }


def conditions(X, args, blocks, rng):
    """Condition name -> the test rows with NaN where inputs are missing."""
    out = {"clean": X}
    for fraction in args.fractions:
        out[f"{fraction:.0%} at random"] = np.where(
            rng.random(X.shape) < fraction, np.nan, X
        )
    side = math.isqrt(X.shape[1])
    for block in blocks if side * side == X.shape[1] else []:
        out[f"{block}x{block} square"] = occlude(X, side, block, rng)
    return out


def occlude(X, side, block, rng):
    """Each image loses a block x block square at a random place."""
    images = X.reshape(len(X), side, side).copy()
    corners = rng.integers(0, side - block + 1, size=(len(X), 2))
    for image, (top, left) in zip(images, corners, strict=True):
        image[top : top + block, left : left + block] = np.nan
    return images.reshape(len(X), -1)


def evaluate(extractor, X_train, y_train, tests, y_test):
    """{classifier: {condition: accuracy}} of one fitted-here extractor, and
    its fit time."""
    start = time.perf_counter()
    F_train = extractor.fit(X_train).transform(X_train)
    fit_s = time.perf_counter() - start
    features = {c: extractor.transform(X) for c, X in tests.items()}
    scores = {}
    for clf_name, make in classifiers().items():
        clf = make().fit(F_train, y_train)
        scores[clf_name] = {c: float(clf.score(F, y_test)) for c, F in features.items()}
    return scores, fit_s


def run(args):
    X_train, y_train, X_test, y_test = load_dataset(
        args.dataset, args.data_dir, n_train=args.n_train, random_state=args.seed
    )
    rng = np.random.default_rng(args.seed)
    if args.n_test is not None and args.n_test < len(X_test):
        rows = np.sort(rng.choice(len(X_test), args.n_test, replace=False))
        X_test, y_test = X_test[rows], y_test[rows]
    settings = SETTINGS[args.dataset]
    tests = conditions(X_test, args, settings["blocks"], rng)
    results = []
    for name, fits in extractors(args, settings).items():
        for extractor in fits:
            scores, fit_s = evaluate(extractor, X_train, y_train, tests, y_test)
            seed = getattr(extractor, "random_state", None)
            for clf_name, accuracies in scores.items():
                for condition, accuracy in accuracies.items():
                    results.append(
                        {
                            "features": name,
                            "seed": seed,
                            "classifier": clf_name,
                            "condition": condition,
                            "accuracy": accuracy,
                            "extractor_fit_s": fit_s,
                        }
                    )
            print(f"  {name} (seed {seed}) done in {fit_s:.1f} s", file=sys.stderr)
    return results, (len(X_train), len(X_test))


def summary(results, value="accuracy"):
    """(features, classifier) -> {condition: (mean, half range)} over seeds."""
    cells = {}
    for r in results:
        key = (r["features"], r["classifier"])
        cells.setdefault(key, {}).setdefault(r["condition"], []).append(r[value])
    return {
        key: {c: (float(np.mean(v)), float(np.ptp(v)) / 2) for c, v in row.items()}
        for key, row in cells.items()
    }


def kept_shares(results):
    """Each result with ``kept``: its accuracy over the clean accuracy of the
    same features, seed and classifier."""
    clean = {
        (r["features"], r["seed"], r["classifier"]): r["accuracy"]
        for r in results
        if r["condition"] == "clean"
    }
    return [
        {
            **r,
            "kept": r["accuracy"] / clean[(r["features"], r["seed"], r["classifier"])],
        }
        for r in results
    ]


def markdown(table, percent=False):
    conditions_ = list(dict.fromkeys(c for row in table.values() for c in row))
    best = {
        (clf, c): max(row[c][0] for (_, k), row in table.items() if k == clf)
        for (_, clf) in table
        for c in conditions_
    }
    lines = [
        "| features | classifier | " + " | ".join(conditions_) + " |",
        "|---|---|" + "---|" * len(conditions_),
    ]
    for (features, clf), row in table.items():
        cells = []
        for c in conditions_:
            mean, spread = row[c]
            text = f"{mean:.1%}" if percent else f"{mean:.3f}"
            if spread:
                text += f" ± {spread:.1%}" if percent else f" ± {spread:.3f}"
            cells.append(f"**{text}**" if mean == best[(clf, c)] else text)
        lines.append(f"| {features} | {clf} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curves(table, fractions):
    """(features, classifier) -> [(missing fraction, mean accuracy)], clean as 0."""
    named = {"clean": 0.0, **{f"{f:.0%} at random": f for f in fractions}}
    return {
        f"{features} / {clf}": [
            (named[c], mean) for c, (mean, _) in row.items() if c in named
        ]
        for (features, clf), row in table.items()
    }


def main(argv=None):
    args = parse_args(argv)
    args.device = resolve_device(args.device)
    env = environment(args.device)
    out = Path(args.out) / args.dataset
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results, (n_train, n_test) = run(args)
    total_s = time.perf_counter() - start
    results = kept_shares(results)
    accuracy, kept = summary(results), summary(results, "kept")
    title = f"{args.dataset}, {n_train} training rows, {n_test} test rows"
    plots.accuracy_vs_missing(
        curves(accuracy, args.fractions), out / "robustness.png", title
    )
    settings = SETTINGS[args.dataset]
    report = {
        "dataset": args.dataset,
        "n_train": n_train,
        "n_test": n_test,
        "seed": args.seed,
        "dae_seeds": args.seeds,
        "settings": {k: v for k, v in settings.items() if k != "dae"},
        "dae": dae_params(args, settings),
        "plain": PLAIN,
        "max_epochs_override": args.max_epochs,
        "dae_params_override": args.dae_params,
        "total_s": total_s,
        "environment": env,
        "results": results,
        "figures": ["robustness.png"],
    }
    (out / "robustness.json").write_text(json.dumps(report, indent=2))
    seeds = ", ".join(map(str, args.seeds))
    print(f"### Test accuracy with missing inputs: {title}\n")
    print(f"DAE cells: mean over seeds {seeds} ± half the range; best in bold.\n")
    print(markdown(accuracy))
    print("\n### Share of the clean accuracy kept\n")
    print(
        markdown(
            {
                k: {c: v for c, v in row.items() if c != "clean"}
                for k, row in kept.items()
            },
            percent=True,
        )
    )
    print(f"\n{machine_line(env)}; device {args.device}; total {total_s:.1f} s.")
    print(f"JSON and figure in {out}/")
    return report


if __name__ == "__main__":
    main()
