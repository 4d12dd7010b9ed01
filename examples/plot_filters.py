"""
=========================================
First-layer filters and the noise level
=========================================

Each hidden unit of a denoising autoencoder's first layer has a filter: its
row of the first encoder weight, one value per input pixel. Drawn as images,
the filters show what the units respond to. Vincent et al. (2008) showed
that masking noise turns the noise-like filters of a plain autoencoder into
localized stroke and edge detectors on MNIST.

This example draws the filters of three models trained on scikit-learn's
8 x 8 digits at corruption levels 0 (a plain autoencoder), 0.3 and 0.5, with
:class:`~sk_dae.inspection.FilterDisplay`, and their training curves with
:class:`~sk_dae.inspection.LossCurveDisplay`. It uses 100 hidden units,
cross-entropy and 100 epochs at a learning rate of 0.01 on 1,257 images, so
it takes seconds; 8 x 8 pixels leave little
room for strokes, so expect coarser filters than on 28 x 28 images. The
Fashion-MNIST filters of the full benchmark (``python
benchmarks/compare_features.py --dataset fashion-mnist --n-train 10000``) are
on :doc:`/user_guide/inspection`.
"""

# %%
# Three models
# ------------
#
# The pixels are scaled to [0, 1], so that a masked pixel (0) is a blank one.
# Each model has the same seed; only the corruption level differs.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae.inspection import FilterDisplay, LossCurveDisplay

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test = train_test_split(X, test_size=0.3, stratify=y, random_state=0)

levels = [0.0, 0.3, 0.5]
models = {
    level: DenoisingAutoencoderTransformer(
        hidden_layer_sizes=(100,),
        corruption="mask",
        corruption_level=level,
        loss="bce",  # a sigmoid decoder, for pixels in [0, 1]
        lr=1e-2,
        max_epochs=100,
        random_state=0,
    ).fit(X_train)
    for level in levels
}

# %%
# Some numbers first. ``score`` is minus the mean reconstruction loss (here
# the cross-entropy) of clean held-out images: higher is better. The
# *concentration* of a filter is the share of its squared weight held by its
# 8 largest pixels (of 64): 0.125 for a filter spread evenly, 1 for a filter
# that looks at 8 pixels only.


def concentration(filters, k=8):
    energy = np.sort(filters**2, axis=1)[:, ::-1]
    return (energy[:, :k].sum(axis=1) / energy.sum(axis=1)).mean()


for level, dae in models.items():
    filters = dae.coefs_[0].T  # (100 units, 64 pixels)
    print(
        f"level {level:.1f}: held-out score {dae.score(X_test):.4f}, "
        f"mean filter concentration {concentration(filters):.3f}"
    )

# %%
# The filters
# -----------
#
# The first 36 filters of each model. Each tile is scaled by its own largest
# magnitude, so mid-grey is 0, white a positive weight and black a negative
# one.

fig, axes = plt.subplots(1, 3, figsize=(9, 3.4), layout="constrained")
for ax, (level, dae) in zip(axes, models.items(), strict=True):
    FilterDisplay.from_estimator(dae, image_shape=(8, 8), n_filters=36, ax=ax)
    ax.set_title(f"corruption level {level}")
plt.show()

# %%
# The training curves
# -------------------
#
# :class:`~sk_dae.inspection.LossCurveDisplay` draws several models on one
# Axes. Each curve is the loss of reconstructing clean images from corrupted
# ones, so a higher level gives a harder task and a higher curve: compare the
# shapes (have they flattened?), not the heights.

display = None
for level, dae in models.items():
    display = LossCurveDisplay.from_estimator(
        dae, ax=None if display is None else display.ax_, name=f"level {level}"
    )
display.ax_.set_title("Denoising loss per epoch")
plt.show()
