"""
===================================================
Imputing a mixed table inside a ColumnTransformer
===================================================

:class:`~sk_dae.DenoisingAutoencoderImputer` is a scikit-learn imputer: it
goes wherever :class:`~sklearn.impute.SimpleImputer` goes. Here it fills a
table that also has a categorical column, in front of a regressor, in two
ways: inside a :class:`~sklearn.compose.ColumnTransformer` on the numeric
columns only (the categorical one gets its most frequent value), and on the
whole table, categories included, where each column helps fill the others.
The pipelines are cross-validated against the first with the mean imputer
in place of the autoencoder.

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
# Three pipelines
# ---------------
#
# In the first two, the categorical column gets the most frequent value and
# a one-hot code, and the numeric columns get either the mean imputer or the
# DAE imputer,
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
# In the third, the DAE imputer takes the whole table: it finds ``sex`` from
# its dtype, models it with a softmax over its two values, and fills its
# holes with the more probable one given the rest of the row. With
# ``set_output(transform="pandas")`` it returns a DataFrame in which ``sex``
# is still categorical, so that the ColumnTransformer after it picks the
# columns by name.


def make_table_model():
    imputer = DenoisingAutoencoderImputer(
        add_indicator=True, max_epochs=100, random_state=0
    ).set_output(transform="pandas")
    columns = ColumnTransformer(
        [("numbers", StandardScaler(), numeric), ("sex", OneHotEncoder(), ["sex"])],
        remainder="passthrough",  # the indicator columns
    )
    return make_pipeline(imputer, columns, RidgeCV())


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
scores["DAE, whole table"] = cross_val_score(make_table_model(), frame, target, cv=cv)
reference = cross_val_score(
    make_pipeline(StandardScaler(), RidgeCV()), complete, target, cv=cv
)

for name, fold_scores in scores.items():
    print(
        f"{name:>16} imputer: R2 {fold_scores.mean():.3f} "
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
    print(f"{name:>16} imputer: RMSE on the holes {np.sqrt(np.mean(error**2)):.3f}")

whole = DenoisingAutoencoderImputer(max_epochs=100, random_state=0)
whole.set_output(transform="pandas")
filled = whole.fit_transform(frame)
error = (filled[numeric].to_numpy() - truth)[holes]
error /= np.broadcast_to(spread, truth.shape)[holes]
print(f"DAE, whole table imputer: RMSE on the holes {np.sqrt(np.mean(error**2)):.3f}")
sex_holes = frame["sex"].isna().to_numpy()
true_sex = complete["sex"].map({1.0: "1", 2.0: "2"}).to_numpy()[sex_holes]
most_frequent = frame["sex"].mode()[0]
print(
    f"sex holes right: {np.mean(filled['sex'].to_numpy()[sex_holes] == true_sex):.2f} "
    f"(DAE, whole table), {np.mean(true_sex == most_frequent):.2f} (most frequent)"
)

# %%
# The scores fold by fold
# -----------------------
#
# Each line joins the three pipelines' scores on one fold; the dashed line is
# the complete table's mean score. Compare the spread between folds with the
# gap between the imputers within a fold: that is why every pipeline is
# scored on the same folds.

fig, ax = plt.subplots(figsize=(5.5, 3.5), layout="constrained")
names = list(scores)
for fold in range(cv.get_n_splits()):
    ax.plot(
        range(len(names)),
        [scores[name][fold] for name in names],
        marker="o",
        color="tab:gray",
    )
ax.axhline(
    reference.mean(), linestyle="--", color="tab:green", label="complete table (mean)"
)
ax.set_xticks(range(len(names)), ["mean", "DAE, numbers", "DAE, whole table"])
ax.set_xlim(-0.3, len(names) - 0.7)
ax.set_ylabel("R² on the held-out fold")
ax.legend(fontsize=8)
plt.show()
