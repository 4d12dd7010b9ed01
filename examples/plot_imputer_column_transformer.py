"""
===================================================
Imputing a mixed table inside a ColumnTransformer
===================================================

:class:`~sk_dae.DenoisingAutoencoderImputer` is a scikit-learn imputer: it
goes wherever :class:`~sklearn.impute.SimpleImputer` goes. Here it fills the
numeric columns of a table that also has a categorical column, inside a
:class:`~sklearn.compose.ColumnTransformer`, in front of a regressor; the
whole pipeline is cross-validated against the same pipeline with the mean
imputer.

The table is scikit-learn's diabetes data (442 patients, 9 numeric columns
and a two-valued ``sex`` column) with about 30% of its numbers and 10% of
the ``sex`` values removed at random. The imputer trains for 100 epochs (its
default for this many rows is about twice that) so that the five folds take
seconds. The full imputation benchmark (``python benchmarks/impute.py``,
five tables, more imputers and missing fractions) is on
:doc:`/user_guide/benchmarks`.
"""

# %%
# A table with holes
# ------------------
#
# ``sex`` becomes a categorical column of strings; the holes are drawn with a
# seeded numpy generator.

import matplotlib.pyplot as plt
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes
from sklearn.impute import SimpleImputer
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import KFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sk_dae import DenoisingAutoencoderImputer

frame = load_diabetes(as_frame=True, scaled=False).frame
target = frame.pop("target")
complete = frame.copy()
frame["sex"] = frame["sex"].map({1.0: "1", 2.0: "2"}).astype("category")

numeric = ["age", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
rng = np.random.default_rng(0)
holes = rng.random((len(frame), len(numeric))) < 0.3
frame[numeric] = frame[numeric].mask(holes)
frame.loc[rng.random(len(frame)) < 0.1, "sex"] = np.nan

print(frame.head())
print(f"\nmissing share per column:\n{frame.isna().mean().round(2).to_string()}")

# %%
# Two pipelines
# -------------
#
# The categorical column gets the most frequent value and a one-hot code in
# both. The numeric columns get either the mean imputer or the DAE imputer,
# each with ``add_indicator=True`` (a 0/1 column per numeric column that had
# holes, so the regressor can tell a filled value from an observed one),
# then a standard scaler, and a ridge regression whose penalty is chosen by
# efficient leave-one-out (:class:`~sklearn.linear_model.RidgeCV`).


def make_model(numeric_imputer):
    columns = ColumnTransformer(
        [
            ("numbers", make_pipeline(numeric_imputer, StandardScaler()), numeric),
            (
                "sex",
                make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder()),
                ["sex"],
            ),
        ]
    )
    return make_pipeline(columns, RidgeCV())


imputers = {
    "mean": SimpleImputer(strategy="mean", add_indicator=True),
    "DAE": DenoisingAutoencoderImputer(
        add_indicator=True, max_epochs=100, random_state=0
    ),
}

# %%
# Cross-validation
# ----------------
#
# Five folds: each imputer is fitted on the training rows of a fold only, and
# fills the holes of the held-out rows, as it would for new data. The score
# is R². The same pipeline on the complete table (without holes) gives the
# score that imputation tries to recover.

cv = KFold(n_splits=5, shuffle=True, random_state=0)
scores = {
    name: cross_val_score(make_model(imputer), frame, target, cv=cv)
    for name, imputer in imputers.items()
}
reference = cross_val_score(
    make_pipeline(StandardScaler(), RidgeCV()), complete, target, cv=cv
)

for name, fold_scores in scores.items():
    print(
        f"{name:>5} imputer: R2 {fold_scores.mean():.3f} "
        f"(std {fold_scores.std():.3f} over the folds)"
    )
print(f"complete table: R2 {reference.mean():.3f} (std {reference.std():.3f})")

# %%
# How close are the fills?
# ------------------------
#
# Fitted on the whole table, each imputer fills its holes; the error is
# measured against the removed values, in units of each column's standard
# deviation.

truth = complete[numeric].to_numpy()
spread = truth.std(axis=0)
for name, imputer in imputers.items():
    filled = imputer.fit_transform(frame[numeric])[:, : len(numeric)]
    error = (filled - truth)[holes] / np.broadcast_to(spread, truth.shape)[holes]
    print(f"{name:>5} imputer: RMSE on the holes {np.sqrt(np.mean(error**2)):.3f}")

# %%
# The scores fold by fold
# -----------------------
#
# Each line joins the two pipelines' scores on one fold; the dashed line is
# the complete table's mean score. Compare the spread between folds with the
# gap between the imputers within a fold: that is why both pipelines are
# scored on the same folds.

fig, ax = plt.subplots(figsize=(4.5, 3.5), layout="constrained")
for fold in range(cv.get_n_splits()):
    ax.plot(
        [0, 1],
        [scores["mean"][fold], scores["DAE"][fold]],
        marker="o",
        color="tab:gray",
    )
ax.axhline(
    reference.mean(), linestyle="--", color="tab:green", label="complete table (mean)"
)
ax.set_xticks([0, 1], ["mean imputer", "DAE imputer"])
ax.set_xlim(-0.3, 1.3)
ax.set_ylabel("R² on the held-out fold")
ax.legend(fontsize=8)
plt.show()
