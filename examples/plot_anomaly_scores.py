"""
=========================================
Reconstruction error as an anomaly score
=========================================

An autoencoder trained on normal data rebuilds normal rows well and unusual
rows badly. :meth:`~sk_dae.DenoisingAutoencoderTransformer.score_samples`
returns minus each row's reconstruction loss, so, as with scikit-learn's
outlier detectors, *lower means more abnormal*.

Here the "normal" data are the digits 0 to 4 of scikit-learn's digits. The
model never sees a 5 to 9 in training; it must then tell held-out 0-4
images from two kinds of outlier: the digits 5 to 9, and 0-4 images with
20% of their pixels replaced by random values. The ROC AUC measures how well
the score separates them (1 is perfect, 0.5 is chance), against the same
score from PCA's reconstruction. The model is small (32 hidden units, 100
epochs), so this takes seconds.
"""

# %%
# Normal data and outliers
# ------------------------
#
# Pixels are scaled to [0, 1]. The training rows are 70% of the 0-4 images;
# the held-out 30% are the normal test rows.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from sk_dae import DenoisingAutoencoderTransformer

X, y = load_digits(return_X_y=True)
X = X / 16.0
is_normal = y <= 4
X_train, X_normal = train_test_split(X[is_normal], test_size=0.3, random_state=0)

rng = np.random.default_rng(0)
replaced = rng.random(X_normal.shape) < 0.2
outliers = {
    "digits 5-9": X[~is_normal],
    "0-4 with 20% random pixels": np.where(
        replaced, rng.random(X_normal.shape), X_normal
    ),
}
print(f"{len(X_train)} training rows, {len(X_normal)} normal test rows")
for name, rows in outliers.items():
    print(f"{len(rows)} outliers: {name}")

# %%
# Two scorers
# -----------
#
# A denoising autoencoder trained with masking noise, and PCA with 16
# components. For PCA the score is written the same way: minus the mean
# squared error of each row's reconstruction from its components.

dae = DenoisingAutoencoderTransformer(
    hidden_layer_sizes=(32,),
    corruption="mask",
    corruption_level=0.3,
    lr=1e-2,
    max_epochs=100,
    random_state=0,
).fit(X_train)

pca = PCA(n_components=16, random_state=0).fit(X_train)


def pca_score_samples(X):
    reconstructed = pca.inverse_transform(pca.transform(X))
    return -np.mean((X - reconstructed) ** 2, axis=1)


scorers = {"DAE": dae.score_samples, "PCA(16)": pca_score_samples}

# %%
# ROC AUC
# -------
#
# Outliers are the positive class; since a lower score is more abnormal, the
# AUC is computed on minus the score.

print(f"{'outliers':<28}" + "".join(f"{name:>10}" for name in scorers))
for outlier_name, rows in outliers.items():
    labels = np.r_[np.zeros(len(X_normal)), np.ones(len(rows))]
    aucs = [
        roc_auc_score(labels, -np.r_[score(X_normal), score(rows)])
        for score in scorers.values()
    ]
    print(f"{outlier_name:<28}" + "".join(f"{auc:>10.3f}" for auc in aucs))

# %%
# The scores
# ----------
#
# The DAE's reconstruction error (minus ``score_samples``) of each group, on
# a logarithmic axis; each histogram is normalized, as the groups differ in
# size. Where they overlap, no threshold separates normal rows from outliers.

bins = np.geomspace(3e-3, 0.5, 40)
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.hist(
    -dae.score_samples(X_normal),
    bins=bins,
    density=True,
    alpha=0.6,
    label="normal (0-4)",
)
for name, rows in outliers.items():
    ax.hist(-dae.score_samples(rows), bins=bins, density=True, alpha=0.6, label=name)
ax.set_xscale("log")
ax.set_xlabel("reconstruction error (minus score_samples)")
ax.set_ylabel("density")
ax.legend(fontsize=8)
plt.show()
