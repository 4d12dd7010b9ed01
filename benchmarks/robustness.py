"""Which features keep a classifier accurate when test inputs go missing?

Every feature extractor and classifier is fitted on clean training rows; the
test rows then lose pixels, either at random (10% to 70% by default) or to an
occluding square at a random place in each image, and are classified as they
are. Features:

- raw pixels, behind a mean imputer (fitted on the training rows);
- PCA, behind the same mean imputer;
- DenoisingAutoencoderTransformer, NaN-native: a missing pixel enters as 0.

Each feeds an SVC (rbf, C=10) and a linear probe (logistic regression), on
standardized features.

Output: a markdown table of test accuracy per condition, the share of the clean
accuracy each keeps, ``robustness.json``, and ``robustness.png`` (accuracy
against the missing fraction).

    python benchmarks/robustness.py                              # digits
    python benchmarks/robustness.py --dataset fashion-mnist --n-train 10000
    python benchmarks/robustness.py --smoke                      # seconds
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

# Per dataset: the DAE (masking at 0.5, the middle of the range of missing
# fractions measured), the PCA width, and the occluding squares' sides.
SETTINGS = {
    "digits": {
        "dae": dict(
            hidden_layer_sizes=(100,),
            activation="sigmoid",
            corruption_level=0.5,
            max_epochs=30,
        ),
        "pca": 32,
        "blocks": [3, 4],
    },
    "fashion-mnist": {
        "dae": dict(
            hidden_layer_sizes=(2000,),
            activation="sigmoid",
            corruption_level=0.5,
            loss="bce",
            max_epochs=20,
        ),
        "pca": 100,
        "blocks": [10, 14],
    },
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits", choices=sorted(SETTINGS))
    parser.add_argument("--data-dir", help="Fashion-MNIST IDX folder")
    parser.add_argument("--n-train", type=int, help="seeded subset of training rows")
    parser.add_argument("--n-test", type=int, help="seeded subset of test rows")
    parser.add_argument(
        "--fractions", type=float, nargs="+", default=[0.1, 0.3, 0.5, 0.7]
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--max-epochs", type=int, help="override the DAE's epochs")
    parser.add_argument(
        "--dae-levels",
        type=float,
        nargs="+",
        help="masking levels of the DAE, one DAE each (default: the dataset's)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny settings")
    parser.add_argument("--out", default="results", help="output folder")
    args = parser.parse_args(argv)
    if args.smoke:
        args.fractions, args.max_epochs = [0.5], 2
        args.n_train, args.n_test = args.n_train or 300, args.n_test or 100
    return args


def extractors(args, settings):
    dae = dict(settings["dae"], random_state=args.seed, device=args.device)
    if args.max_epochs is not None:
        dae["max_epochs"] = args.max_epochs
    width = settings["pca"]
    out = {
        "raw pixels + mean imputer": SimpleImputer(),
        f"PCA({width}) + mean imputer": make_pipeline(
            SimpleImputer(), PCA(width, random_state=args.seed)
        ),
    }
    for level in args.dae_levels or [dae["corruption_level"]]:
        name = f"DAE({dae['hidden_layer_sizes'][-1]}, mask {level}), NaN-native"
        out[name] = DenoisingAutoencoderTransformer(
            **{**dae, "corruption_level": level}
        )
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
    for name, extractor in extractors(args, settings).items():
        start = time.perf_counter()
        F_train = extractor.fit(X_train).transform(X_train)
        fit_s = time.perf_counter() - start
        features = {c: extractor.transform(X) for c, X in tests.items()}
        for clf_name, make in classifiers().items():
            clf = make().fit(F_train, y_train)
            for condition, F in features.items():
                accuracy = float(clf.score(F, y_test))
                results.append(
                    {
                        "features": name,
                        "classifier": clf_name,
                        "condition": condition,
                        "accuracy": accuracy,
                        "extractor_fit_s": fit_s,
                    }
                )
            print(f"  {name} {clf_name} done", file=sys.stderr)
    return results, (len(X_train), len(X_test))


def markdown(results):
    conditions_ = list(dict.fromkeys(r["condition"] for r in results))
    rows = {}
    for r in results:
        rows.setdefault((r["features"], r["classifier"]), {})[r["condition"]] = r[
            "accuracy"
        ]
    lines = [
        "| features | classifier | " + " | ".join(conditions_) + " |",
        "|---|---|" + "---|" * len(conditions_),
    ]
    for (features, clf), row in rows.items():
        cells = [f"{row[c]:.3f}" for c in conditions_]
        lines.append(f"| {features} | {clf} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def kept_shares(results):
    """Accuracy under each condition over the clean accuracy, per (features,
    classifier)."""
    clean = {
        (r["features"], r["classifier"]): r["accuracy"]
        for r in results
        if r["condition"] == "clean"
    }
    return {
        f"{r['features']} / {r['classifier']} / {r['condition']}": r["accuracy"]
        / clean[(r["features"], r["classifier"])]
        for r in results
        if r["condition"] != "clean"
    }


def curves(results, fractions):
    """(features, classifier) -> [(missing fraction, accuracy)], clean as 0."""
    named = {"clean": 0.0, **{f"{f:.0%} at random": f for f in fractions}}
    out = {}
    for r in results:
        if r["condition"] in named:
            key = f"{r['features']} / {r['classifier']}"
            out.setdefault(key, []).append((named[r["condition"]], r["accuracy"]))
    return out


def main(argv=None):
    args = parse_args(argv)
    args.device = resolve_device(args.device)
    env = environment(args.device)
    out = Path(args.out) / args.dataset
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results, (n_train, n_test) = run(args)
    total_s = time.perf_counter() - start
    title = f"{args.dataset}, {n_train} training rows, {n_test} test rows"
    plots.accuracy_vs_missing(
        curves(results, args.fractions), out / "robustness.png", title
    )
    shares = kept_shares(results)
    report = {
        "dataset": args.dataset,
        "n_train": n_train,
        "n_test": n_test,
        "seed": args.seed,
        "settings": {k: v for k, v in SETTINGS[args.dataset].items() if k != "dae"},
        "dae": {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in SETTINGS[args.dataset]["dae"].items()
        },
        "max_epochs_override": args.max_epochs,
        "dae_levels": args.dae_levels,
        "total_s": total_s,
        "environment": env,
        "results": results,
        "kept_share_of_clean_accuracy": shares,
        "figures": ["robustness.png"],
    }
    (out / "robustness.json").write_text(json.dumps(report, indent=2))
    print(f"### Test accuracy with missing inputs: {title}\n")
    print(markdown(results))
    print("\nShare of the clean accuracy kept with half the inputs missing:")
    for key, share in shares.items():
        if key.endswith("/ 50% at random"):
            print(f"- {key.removesuffix(' / 50% at random')}: {share:.1%}")
    print(f"\n{machine_line(env)}; device {args.device}; total {total_s:.1f} s.")
    print(f"JSON and figure in {out}/")
    return report


if __name__ == "__main__":
    main()
