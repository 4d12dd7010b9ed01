"""
=======================================
Choosing the corruption level by search
=======================================

The corruption level is a hyperparameter like any other: put
:class:`~sk_dae.DenoisingAutoencoderTransformer` in a
:class:`~sklearn.pipeline.Pipeline` with a classifier and let
:class:`~sklearn.model_selection.GridSearchCV` pick it by cross-validated
accuracy. Level 0 is the plain (not denoising) autoencoder, so the search
also tells whether denoising helps on the data at hand.

This example runs on scikit-learn's 8 x 8 digits, with 64 hidden units,
20 epochs and four levels, so that it takes seconds. The full measurement,
with more levels, every kind of noise and longer training, is
``python benchmarks/corruption_grid.py`` (see :doc:`/user_guide/benchmarks`).
"""

# %%
# The pipeline
# ------------
#
# The pixels are scaled to [0, 1]: with masking noise, a dropped pixel enters
# the encoder as 0, which is then a blank pixel. The DAE's codes feed an SVC.
# ``random_state`` makes every fit of the search repeatable.

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC

from sk_dae import DenoisingAutoencoderTransformer

X, y = load_digits(return_X_y=True)

pipe = Pipeline(
    [
        ("scale", MinMaxScaler()),
        (
            "dae",
            DenoisingAutoencoderTransformer(
                hidden_layer_sizes=(64,),
                corruption="mask",
                max_epochs=20,
                random_state=0,
            ),
        ),
        ("svm", SVC(C=10)),
    ]
)

# %%
# The search
# ----------
#
# The step's parameters are reached as ``dae__<name>``. Three stratified folds
# and four levels make twelve fits, and one more on all rows for the best
# level.

levels = [0.0, 0.1, 0.3, 0.5]
search = GridSearchCV(
    pipe,
    {"dae__corruption_level": levels},
    cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0),
)
search.fit(X, y)

print("best parameters:", search.best_params_)
print(f"best mean accuracy: {search.best_score_:.3f}")

# %%
# The cross-validation table, one row per level:

table = pd.DataFrame(search.cv_results_)[
    [
        "param_dae__corruption_level",
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
        "mean_fit_time",
    ]
]
print(table.to_string(index=False, float_format="{:.3f}".format))

# %%
# Accuracy against corruption level
# ---------------------------------
#
# The error bars are the standard deviation over the three folds. With only
# 64 pixels and a short training, the differences between levels can be of
# the order of that spread: read the plot with the bars in mind. The
# benchmark runs the same search on digits and on Fashion-MNIST, where the
# denoising criterion behaves differently.

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
ax.errorbar(
    levels,
    search.cv_results_["mean_test_score"],
    yerr=search.cv_results_["std_test_score"],
    marker="o",
    capsize=3,
)
ax.set_xlabel("corruption level (fraction of pixels masked)")
ax.set_ylabel("mean CV accuracy")
ax.set_title("DAE(64) + SVC on digits")
plt.show()
