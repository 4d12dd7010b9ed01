"""
=====================================
Reconstructing noisy and holed digits
=====================================

A denoising autoencoder is trained to rebuild clean inputs from corrupted
ones. :class:`~sk_dae.inspection.ReconstructionDisplay` shows it at work:
clean images, the same images corrupted, and what the model rebuilds from
the corrupted ones (``inverse_transform(transform(corrupted))``).

Two kinds of corruption are shown: the noise a model was trained with
(masking, then Gaussian), and pixels made *missing* (NaN), which the
estimators take as they are. This example uses scikit-learn's 8 x 8 digits,
100 hidden units and 100 epochs, so it takes seconds. The Fashion-MNIST
reconstructions of the full benchmark (``python
benchmarks/compare_features.py --dataset fashion-mnist --n-train 10000``)
are on :doc:`/user_guide/inspection`.
"""

# %%
# Two models
# ----------
#
# Both see pixels scaled to [0, 1]. The first is trained with masking noise
# (each pixel dropped with probability 0.3, afresh at every step), the
# second with additive Gaussian noise of standard deviation 0.2. A missing
# pixel enters the encoder as a masked one does: as ``input_fill``, 0 by
# default.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae.inspection import ReconstructionDisplay

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test = train_test_split(X, test_size=0.3, stratify=y, random_state=0)

params = dict(hidden_layer_sizes=(100,), lr=1e-2, max_epochs=100, random_state=0)
masking = DenoisingAutoencoderTransformer(
    corruption="mask", corruption_level=0.3, **params
).fit(X_train)
gaussian = DenoisingAutoencoderTransformer(
    corruption="gaussian", corruption_level=0.2, **params
).fit(X_train)

# %%
# The reconstructions
# -------------------
#
# The top panel corrupts the test images with the masking model's own noise,
# the middle one with the Gaussian model's; the bottom one removes 30% of the
# pixels (red) and asks the masking model to fill them in. Every tile shares
# the grey scale of the clean images.

fig, axes = plt.subplots(3, 1, figsize=(6, 6.5), layout="constrained")
ReconstructionDisplay.from_estimator(
    masking, X_test, image_shape=(8, 8), random_state=0, ax=axes[0]
)
axes[0].set_title("trained with masking noise")
ReconstructionDisplay.from_estimator(
    gaussian, X_test, image_shape=(8, 8), random_state=0, ax=axes[1]
)
axes[1].set_title("trained with Gaussian noise")
ReconstructionDisplay.from_estimator(
    masking,
    X_test,
    image_shape=(8, 8),
    corruption="missing",
    level=0.3,
    random_state=0,
    ax=axes[2],
)
axes[2].set_title("masking model, 30% of the pixels missing")
plt.show()

# %%
# How close are the reconstructions?
# ----------------------------------
#
# The same corruptions on the whole test set, drawn with numpy's seeded
# generator (not the displays' own draws). The error is the root mean squared
# difference from the clean pixels, which range over [0, 1]. For missing
# pixels it is measured on the holes only, against a baseline that fills each
# hole with the pixel's mean over the training images.

rng = np.random.default_rng(0)


def rmse(a, b):
    return np.sqrt(np.mean((a - b) ** 2))


def rebuild(dae, X):
    return dae.inverse_transform(dae.transform(X))


masked = np.where(rng.random(X_test.shape) < 0.3, 0.0, X_test)
noisy = X_test + rng.normal(0.0, 0.2, X_test.shape)
holes = rng.random(X_test.shape) < 0.3
holed = np.where(holes, np.nan, X_test)

column_means = np.broadcast_to(X_train.mean(axis=0), X_test.shape)
mean_fill_error = rmse(column_means[holes], X_test[holes])
dae_fill_error = rmse(rebuild(masking, holed)[holes], X_test[holes])

print("corruption     corrupted RMSE  reconstructed RMSE")
print(f"masked 30%     {rmse(masked, X_test):14.3f}  ", end="")
print(f"{rmse(rebuild(masking, masked), X_test):18.3f}")
print(f"Gaussian 0.2   {rmse(noisy, X_test):14.3f}  ", end="")
print(f"{rmse(rebuild(gaussian, noisy), X_test):18.3f}")
print()
print("missing 30%, on the holes only:")
print(f"  filled with the training means  {mean_fill_error:.3f}")
print(f"  reconstructed by the DAE        {dae_fill_error:.3f}")

# %%
# To fill the holes of a table, rather than look at reconstructions, use
# :class:`~sk_dae.DenoisingAutoencoderImputer`
# (:ref:`sphx_glr_auto_examples_plot_imputer_column_transformer.py`). For
# features that stay useful when test pixels go missing, see
# :ref:`sphx_glr_auto_examples_plot_missing_pixels.py`.
