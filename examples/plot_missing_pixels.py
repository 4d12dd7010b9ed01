"""
=======================================
Features that survive missing pixels
=======================================

A model is trained on clean images, and then the images it must classify
lose pixels: a dead sensor, a failed transfer, an occlusion. Which features
keep the classifier accurate?

:class:`~sk_dae.DenoisingAutoencoderTransformer` takes missing values (NaN)
as they are: a missing pixel enters the encoder as one that masking noise
dropped in training. Raw pixels and PCA need an imputer first; here they get
scikit-learn's mean imputer. Every extractor and classifier is fitted on
clean training images only; the test images then lose a growing fraction of
their pixels at random.

This is a small version of ``python benchmarks/robustness.py`` (see
:doc:`/user_guide/benchmarks`): digits only, one seed, one classifier,
random holes only (no occluding squares), and 150 epochs for the DAEs
instead of 300.
"""

# %%
# Data and feature extractors
# ---------------------------
#
# :func:`sk_dae.datasets.load_digits_split` gives the benchmarks' split of
# scikit-learn's digits: 70% for training, 30% for testing, stratified,
# pixels scaled to [0, 1].
#
# Two DAEs: the package's *recipe* for inputs that go missing (the setting
# that ``benchmarks/robustness.py`` uses for digits, with fewer epochs), and
# a *plain* DAE without its missing-data parts. The recipe drops either
# scattered pixels or a square of them (``"block_mask"``), lets a missing
# pixel enter as a learned value rather than as black
# (``input_fill="learned"``), counts in the loss only the pixels the network
# saw (``emphasis=(0.0, 1.0)``) and pulls the codes of a holed image towards
# those of the clean one (``consistency``). The plain DAE masks scattered
# pixels, and holes enter as 0.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae.datasets import load_digits_split

X_train, y_train, X_test, y_test = load_digits_split()

dae_params = dict(
    hidden_layer_sizes=(100,),
    corruption_level=0.5,
    loss="bce",
    max_epochs=150,
    random_state=0,
)
recipe = DenoisingAutoencoderTransformer(
    corruption="block_mask",
    image_shape=(8, 8),
    input_fill="learned",
    emphasis=(0.0, 1.0),
    consistency=0.2,
    **dae_params,
)
plain = DenoisingAutoencoderTransformer(corruption="mask", **dae_params)

features = {
    "raw pixels + mean imputer": SimpleImputer(strategy="mean"),
    "PCA(32) + mean imputer": make_pipeline(
        SimpleImputer(strategy="mean"), PCA(n_components=32, random_state=0)
    ),
    "DAE(100), plain": plain,
    "DAE(100), recipe": recipe,
}

# %%
# One classifier per feature set
# ------------------------------
#
# Each feature set feeds a standard scaler and an SVC, fitted on the clean
# training images.

models = {
    name: make_pipeline(extractor, StandardScaler(), SVC(C=10)).fit(X_train, y_train)
    for name, extractor in features.items()
}

# %%
# Test images with holes
# ----------------------
#
# For each fraction, every test pixel goes missing with that probability
# (one seeded draw per fraction, the same for every model). The pipelines
# predict from the holed images directly: the mean imputers fill the holes
# with the training means, the DAEs take the NaN.

fractions = [0.0, 0.1, 0.3, 0.5, 0.7]
rng = np.random.default_rng(0)
holed_tests = [
    np.where(rng.random(X_test.shape) < fraction, np.nan, X_test)
    for fraction in fractions
]
accuracy = {
    name: [model.score(X_holed, y_test) for X_holed in holed_tests]
    for name, model in models.items()
}

print(f"{'features':<28}" + "".join(f"{f:>7.0%}" for f in fractions))
for name, scores in accuracy.items():
    print(f"{name:<28}" + "".join(f"{s:>7.3f}" for s in scores))

# %%
# Accuracy against the missing fraction
# -------------------------------------
#
# Read the plot together with the table above: with 540 test images, one
# image is about 0.2 points of accuracy, and this is a single seed. The
# benchmark repeats the DAEs over seeds and adds occluding squares, where
# the recipe's block masking matters most.

fig, ax = plt.subplots(figsize=(5.5, 4), layout="constrained")
for name, scores in accuracy.items():
    ax.plot(fractions, scores, marker="o", label=name)
ax.set_xlabel("fraction of test pixels missing")
ax.set_ylabel("test accuracy (SVC)")
ax.set_title("Digits: trained clean, tested with holes")
ax.legend(fontsize=8)
plt.show()
