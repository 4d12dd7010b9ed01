"""Does the denoising criterion help? Accuracy against corruption level.

A ``GridSearchCV`` over ``corruption_level`` (0 included: the plain autoencoder)
and ``corruption`` on a ``Pipeline`` of the DAE, a ``StandardScaler`` and a
classifier, cross-validated on the training rows. Prints a markdown table of
mean accuracy per (noise, level), writes ``corruption_grid.json`` and
``corruption_grid.png`` (accuracy against level, one line per noise).

    python benchmarks/corruption_grid.py                       # digits, ~2 min
    python benchmarks/corruption_grid.py --dataset fashion-mnist --n-train 5000
"""

import argparse
import json
import time
from pathlib import Path

import plots
from env_info import environment, machine_line
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._device import resolve_device
from sk_dae.datasets import load_dataset

LEVELS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
NOISES = ["mask", "gaussian", "salt_and_pepper", "swap"]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset", default="digits", choices=["digits", "fashion-mnist", "mnist"]
    )
    parser.add_argument("--data-dir", help="folder with the IDX files")
    parser.add_argument("--download", action="store_true", help="MNIST from OpenML")
    parser.add_argument("--n-train", type=int, help="seeded subset of training rows")
    parser.add_argument("--levels", type=float, nargs="+", default=LEVELS)
    parser.add_argument("--noises", nargs="+", default=NOISES, choices=NOISES)
    parser.add_argument("--width", type=int, default=100, help="DAE code width")
    parser.add_argument("--activation", default="sigmoid")
    parser.add_argument("--loss", default="mse", choices=["mse", "bce"])
    parser.add_argument("--max-epochs", type=int, default=50)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--classifier", default="svc", choices=["svc", "linear"])
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default="results", help="output folder")
    return parser.parse_args(argv)


def pipeline(args):
    dae = DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(args.width,),
        activation=args.activation,
        loss=args.loss,
        max_epochs=args.max_epochs,
        lr=args.lr,
        random_state=args.seed,
        device=args.device,
    )
    if args.classifier == "svc":
        clf = SVC(C=10)
    else:
        clf = LogisticRegression(max_iter=1000)
    return Pipeline([("dae", dae), ("scale", StandardScaler()), ("clf", clf)])


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out) / args.dataset
    out.mkdir(parents=True, exist_ok=True)
    args.device = resolve_device(args.device)
    X, y, _, _ = load_dataset(
        args.dataset,
        args.data_dir,
        download=args.download,
        n_train=args.n_train,
        random_state=args.seed,
    )
    grid = [
        {"dae__corruption": [noise], "dae__corruption_level": args.levels}
        for noise in args.noises
    ]
    cv = StratifiedKFold(args.cv, shuffle=True, random_state=args.seed)
    search = GridSearchCV(pipeline(args), grid, cv=cv, n_jobs=args.n_jobs)
    start = time.perf_counter()
    search.fit(X, y)
    total_s = time.perf_counter() - start
    res = search.cv_results_
    points = {}
    for params, mean, std in zip(
        res["params"], res["mean_test_score"], res["std_test_score"], strict=True
    ):
        points.setdefault(params["dae__corruption"], []).append(
            (params["dae__corruption_level"], float(mean), float(std))
        )
    title = (
        f"{args.dataset}, {len(X)} rows, {args.cv}-fold CV, DAE({args.width}) + "
        f"{args.classifier}"
    )
    plots.accuracy_vs_level(points, out / "corruption_grid.png", title)
    env = environment(args.device)
    report = {
        "dataset": args.dataset,
        "n_rows": len(X),
        "settings": {k: v for k, v in vars(args).items() if k != "out"},
        "total_s": total_s,
        "environment": env,
        "points": points,
        "best_params": search.best_params_,
        "best_score": float(search.best_score_),
    }
    (out / "corruption_grid.json").write_text(json.dumps(report, indent=2))
    print(f"### {title}\n")
    print("| noise | " + " | ".join(f"{lv:g}" for lv in args.levels) + " |")
    print("|---|" + "---|" * len(args.levels))
    for noise, pts in points.items():
        cells = [f"{m:.4f} ± {s:.4f}" for _, m, s in sorted(pts)]
        print(f"| {noise} | " + " | ".join(cells) + " |")
    print(f"\nbest: {search.best_params_} at {search.best_score_:.4f}")
    print(f"{machine_line(env)}; device {args.device}; total {total_s:.1f} s.")
    return report


if __name__ == "__main__":
    main()
