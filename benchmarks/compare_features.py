"""Do denoising-autoencoder features help a classifier? The main benchmark.

For one dataset, each feature extractor is fitted on the training rows only:
raw pixels (no extractor), PCA and scikit-learn's BernoulliRBM at the DAE's
width, the DAE with its recommended settings, and the DAE with the reference
setting of Vincent et al. (n-100-n, sigmoid, masking 0.3, squared error, Adam,
batch 100). Two classifiers are trained on each extractor's standardized
features and scored on the test set: an SVC (rbf, C=10) and a linear probe
(logistic regression).

Output: a markdown table on stdout; ``compare_features.json`` with every number,
the settings, package versions and machine; PNG figures: accuracy bars, and the
sk_dae.inspection displays of the recommended DAE (first-layer filters; clean,
corrupted and reconstructed images, with its own noise and with missing pixels;
loss curves).

    python benchmarks/compare_features.py                      # digits, < 1 min
    python benchmarks/compare_features.py --dataset fashion-mnist --n-train 10000
"""

import argparse
import json
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import plots
from env_info import environment, machine_line
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import BernoulliRBM
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._device import resolve_device
from sk_dae.datasets import load_dataset
from sk_dae.inspection import FilterDisplay, LossCurveDisplay, ReconstructionDisplay

# The recommended DAE per dataset: the settings that the benchmarks page reports. On
# digits the reference setting was the best one tried.
RECOMMENDED = {
    "digits": dict(
        hidden_layer_sizes=(100,),
        activation="sigmoid",
        corruption="mask",
        corruption_level=0.3,
        loss="mse",
        max_epochs=30,
    ),
    # Best of 10 settings tried on 10,000 training rows (benchmarks/README.md).
    "fashion-mnist": dict(
        hidden_layer_sizes=(2000,),
        activation="sigmoid",
        corruption="mask",
        corruption_level=0.3,
        loss="bce",
        max_epochs=30,
    ),
}
RECOMMENDED["mnist"] = RECOMMENDED["fashion-mnist"]

REFERENCE = dict(
    hidden_layer_sizes=(100,),
    activation="sigmoid",
    corruption="mask",
    corruption_level=0.3,
    loss="mse",
    batch_size=100,
    lr=1e-3,
    max_epochs=30,
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset", default="digits", choices=["digits", "fashion-mnist", "mnist"]
    )
    parser.add_argument("--data-dir", help="folder with the IDX files")
    parser.add_argument(
        "--download", action="store_true", help="MNIST only: fetch it from OpenML"
    )
    parser.add_argument(
        "--n-train", type=int, help="seeded subset of the training rows (default: all)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument(
        "--max-epochs",
        type=int,
        help="override the DAEs' epochs (e.g. for a smoke run)",
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["svc", "linear"],
        help="classifiers to leave out",
    )
    parser.add_argument("--out", default="results", help="output folder")
    return parser.parse_args(argv)


def load(args):
    return load_dataset(
        args.dataset,
        args.data_dir,
        download=args.download,
        n_train=args.n_train,
        random_state=args.seed,
    )


def extractors(args, n_samples, n_features):
    """Name -> (unfitted extractor or None for raw pixels, its settings)."""
    epochs = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    best = {**RECOMMENDED[args.dataset], **epochs}
    reference = {**REFERENCE, **epochs}
    common = dict(random_state=args.seed, device=args.device)
    width = best["hidden_layer_sizes"][-1]
    # PCA at each DAE's width, capped by the data: at a width near n_features the
    # standardized components amplify noise, so the narrower one is shown too.
    cap = min(n_samples, n_features)
    pca_widths = sorted(
        {min(width, cap), min(REFERENCE["hidden_layer_sizes"][-1], cap)}
    )
    pcas = {
        f"PCA({w})": (PCA(w, random_state=args.seed), {"n_components": w})
        for w in reversed(pca_widths)
    }
    rbm = dict(n_components=width, learning_rate=0.05, n_iter=20, batch_size=20)
    return {
        "raw pixels": (None, {}),
        **pcas,
        f"RBM({width})": (BernoulliRBM(random_state=args.seed, **rbm), rbm),
        "DAE recommended": (DenoisingAutoencoderTransformer(**best, **common), best),
        "DAE reference": (
            DenoisingAutoencoderTransformer(**reference, **common),
            reference,
        ),
    }


def classifiers(skip):
    out = {
        "SVC(rbf, C=10)": lambda: make_pipeline(StandardScaler(), SVC(C=10)),
        "linear probe": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=1000)
        ),
    }
    names = {"svc": "SVC(rbf, C=10)", "linear": "linear probe"}
    for key in skip:
        out.pop(names[key])
    return out


def featurize(extractor, X_train, X_test):
    """Fit on the training rows only; return features and timings."""
    if extractor is None:
        return X_train, X_test, 0.0, 0.0
    start = time.perf_counter()
    extractor.fit(X_train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    F_train, F_test = extractor.transform(X_train), extractor.transform(X_test)
    return F_train, F_test, fit_s, time.perf_counter() - start


def run(args):
    X_train, y_train, X_test, y_test = load(args)
    results, fitted = [], {}
    for name, (extractor, settings) in extractors(args, *X_train.shape).items():
        F_train, F_test, fit_s, transform_s = featurize(extractor, X_train, X_test)
        fitted[name] = extractor
        for clf_name, make in classifiers(args.skip).items():
            start = time.perf_counter()
            accuracy = make().fit(F_train, y_train).score(F_test, y_test)
            results.append(
                {
                    "extractor": name,
                    "classifier": clf_name,
                    "accuracy": float(accuracy),
                    "n_features_out": int(F_train.shape[1]),
                    "extractor_fit_s": fit_s,
                    "transform_s": transform_s,
                    "classifier_s": time.perf_counter() - start,
                    "settings": _jsonable(settings),
                }
            )
            print(f"  {name:16s} {clf_name:16s} {accuracy:.4f}", file=sys.stderr)
    return (X_train, X_test), results, fitted


def _jsonable(settings):
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}


def markdown_table(results):
    classifiers_ = list(dict.fromkeys(r["classifier"] for r in results))
    rows = {}
    for r in results:
        row = rows.setdefault(r["extractor"], {"r": r})
        row[r["classifier"]] = r["accuracy"]
    header = ["features", "width", *classifiers_, "fit (s)", "transform (s)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in rows.items():
        r = row["r"]
        cells = [name, str(r["n_features_out"])]
        cells += [f"{row[c]:.4f}" for c in classifiers_]
        cells += [f"{r['extractor_fit_s']:.1f}", f"{r['transform_s']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _save(display, path, title):
    display.ax_.set_title(title, fontsize=9)
    display.figure_.savefig(path, dpi=110)
    plt.close(display.figure_)
    return path.name


def figures(out, data, fitted, args):
    """The displays of sk_dae.inspection, for the recommended DAE."""
    X_test = data[1]
    best, reference = fitted["DAE recommended"], fitted["DAE reference"]
    name = args.dataset
    curves = LossCurveDisplay.from_estimator(best, name="recommended")
    LossCurveDisplay.from_estimator(reference, ax=curves.ax_, name="reference")
    written = [_save(curves, out / "loss_curve.png", f"{name}: training loss")]
    side = plots.image_side(X_test.shape[1])
    if side is None:
        return written  # not square images
    shape = (side, side)
    filters = FilterDisplay.from_estimator(best, image_shape=shape)
    written.append(_save(filters, out / "filters.png", f"{name}: DAE filters"))
    for corruption, suffix in (("noise", ""), ("missing", "_missing")):
        display = ReconstructionDisplay.from_estimator(
            best,
            X_test,
            image_shape=shape,
            corruption=corruption,
            random_state=args.seed,
        )
        path = out / f"reconstructions{suffix}.png"
        written.append(_save(display, path, f"{name}: recommended DAE"))
    return written


def main(argv=None):
    args = parse_args(argv)
    out = Path(args.out) / args.dataset
    out.mkdir(parents=True, exist_ok=True)
    args.device = resolve_device(args.device)
    env = environment(args.device)
    start = time.perf_counter()
    data, results, fitted = run(args)
    total_s = time.perf_counter() - start
    title = f"{args.dataset}, {len(data[0])} training rows, {len(data[1])} test rows"
    plots.accuracy_bars(results, out / "accuracy.png", title)
    written = ["accuracy.png", *figures(out, data, fitted, args)]
    report = {
        "dataset": args.dataset,
        "n_train": len(data[0]),
        "n_test": len(data[1]),
        "seed": args.seed,
        "total_s": total_s,
        "environment": env,
        "results": results,
        "figures": written,
    }
    (out / "compare_features.json").write_text(json.dumps(report, indent=2))
    print(f"### {title}\n")
    print(markdown_table(results))
    print(f"\n{machine_line(env)}; device {args.device}; total {total_s:.1f} s.")
    print(f"JSON and figures in {out}/")
    return report


if __name__ == "__main__":
    main()
