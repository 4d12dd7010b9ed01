"""Figures of benchmark results shared by the scripts (matplotlib, PNG files).

Figures of a fitted model (filters, reconstructions, loss curves) are drawn by
the displays of sk_dae.inspection instead.
"""

import math

import matplotlib

matplotlib.use("Agg")  # no display needed: the scripts only write files

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def image_side(n_features):
    """The side of a square image of ``n_features`` pixels, or None."""
    side = math.isqrt(n_features)
    return side if side * side == n_features else None


def accuracy_bars(results, path, title):
    """Grouped bars: test accuracy of each extractor under each classifier."""
    extractors = list(dict.fromkeys(r["extractor"] for r in results))
    classifiers = list(dict.fromkeys(r["classifier"] for r in results))
    acc = {(r["extractor"], r["classifier"]): r["accuracy"] for r in results}
    fig, ax = plt.subplots(figsize=(1.6 * len(extractors) + 2, 4))
    width = 0.8 / len(classifiers)
    for k, clf in enumerate(classifiers):
        x = np.arange(len(extractors)) + k * width
        values = [acc[(e, clf)] for e in extractors]
        bars = ax.bar(x, values, width, label=clf)
        ax.bar_label(bars, fmt="%.3f", fontsize=7, rotation=90, padding=2)
    all_values = list(acc.values())
    ax.set_ylim(max(0.0, min(all_values) - 0.05), max(all_values) + 0.04)
    ax.set_xticks(np.arange(len(extractors)) + width * (len(classifiers) - 1) / 2)
    ax.set_xticklabels(extractors, rotation=15, fontsize=8)
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def accuracy_vs_level(cv_results, path, title):
    """Cross-validated accuracy against corruption level, one line per noise."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for noise, points in cv_results.items():
        points = sorted(points)
        levels = [p[0] for p in points]
        means = np.array([p[1] for p in points])
        stds = np.array([p[2] for p in points])
        ax.errorbar(levels, means, yerr=stds, marker="o", capsize=3, label=noise)
    ax.set_xlabel("corruption level (fraction corrupted; std for gaussian)")
    ax.set_ylabel("cross-validated accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def inpainting(images, path, fraction, n=8):
    """Rows of images: masked (holes in red), each imputer's fill, original."""
    side = image_side(images["original"].shape[1])
    labels = ["masked", *[k for k in images if k not in ("masked", "original")]]
    labels.append("original")
    fig, axes = plt.subplots(len(labels), n, figsize=(n * 0.9, len(labels) * 0.95))
    for row, label in enumerate(labels):
        for k in range(n):
            ax = axes[row, k]
            image = images[label][k].reshape(side, side)
            if label == "masked":
                rgb = np.repeat(np.nan_to_num(image)[..., None], 3, axis=2)
                rgb[np.isnan(image)] = (0.8, 0.1, 0.1)
                ax.imshow(rgb)
            else:
                ax.imshow(np.clip(image, 0, 1), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(label, fontsize=7)
    fig.suptitle(f"Fashion-MNIST, {fraction:.0%} of pixels missing", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def scaling(rows, path):
    """Seconds of fit_transform against rows, log-log, one line per imputer."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in dict.fromkeys(r["imputer"] for r in rows):
        points = [(r["rows"], r["seconds"]) for r in rows if r["imputer"] == name]
        ax.plot(*zip(*points, strict=True), marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows")
    ax.set_ylabel("seconds of fit_transform")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def accuracy_vs_missing(curves, path, title):
    """Test accuracy against the fraction of missing inputs, one line per
    (features, classifier)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, points in curves.items():
        ax.plot(*zip(*sorted(points), strict=True), marker="o", label=name)
    ax.set_xlabel("fraction of test inputs missing")
    ax.set_ylabel("test accuracy")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
