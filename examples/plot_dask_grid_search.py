"""
==================================
Grid search and features on Dask
==================================

Two ways to spread the work of :class:`~sk_dae.DenoisingAutoencoderTransformer`
over `Dask <https://distributed.dask.org>`_ workers:

- a scikit-learn grid search whose fits run on the workers, through joblib's
  ``"dask"`` backend;
- :func:`sk_dae.dask.transform_blocks`, which maps a fitted model's
  ``transform`` over a Dask array block by block, the model sent once to
  each worker.

To run anywhere, including in a documentation build, the cluster here is a
single worker with two threads inside this Python process. On a real
cluster only the ``LocalCluster(...)`` line changes (there, use worker
processes with one thread each, so that the workers' torch threads do not
compete). The search is small (2 x 2 settings, 3 folds, 20 epochs on
scikit-learn's digits); the full scaling measurement is ``python
benchmarks/scale.py`` (see :doc:`/user_guide/dask`). It needs the
``dask`` extra: ``pip install -e ".[dask]"`` in a clone of the repository.
"""

# %%
# The pipeline and the grid
# -------------------------

import time

import dask.array as da
import joblib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae.dask import transform_blocks

X, y = load_digits(return_X_y=True)

pipe = Pipeline(
    [
        ("scale", MinMaxScaler()),
        (
            "dae",
            DenoisingAutoencoderTransformer(
                hidden_layer_sizes=(64,), max_epochs=20, random_state=0
            ),
        ),
        ("svm", SVC(C=10)),
    ]
)
grid = {
    "dae__corruption": ["mask", "swap"],
    "dae__corruption_level": [0.0, 0.3],
}

# %%
# In-process, for reference
# -------------------------
#
# The same search with ``n_jobs=1``, to compare the scores with.

start = time.perf_counter()
local = GridSearchCV(pipe, grid, cv=3, n_jobs=1).fit(X, y)
local_seconds = time.perf_counter() - start

# %%
# On the cluster
# --------------
#
# Inside ``joblib.parallel_backend("dask")``, scikit-learn's ``n_jobs=-1``
# sends the twelve fits to the cluster's workers. The ``with`` blocks close
# the client and the cluster at the end, even on an error. The featurization
# runs on the same cluster: ``transform_blocks`` returns a lazy Dask array
# that ``.compute()`` evaluates on the workers (or that can be reduced or
# stored block by block, for data larger than memory).

with (
    LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster,
    Client(cluster) as client,
):
    print(f"workers: {len(client.scheduler_info()['workers'])}")

    start = time.perf_counter()
    with joblib.parallel_backend("dask"):
        search = GridSearchCV(pipe, grid, cv=3, n_jobs=-1).fit(X, y)
    dask_seconds = time.perf_counter() - start

    # The fitted scaler and DAE of the best pipeline, as one transformer.
    featurizer = search.best_estimator_[:-1]
    X_dask = da.from_array(X, chunks=(400, X.shape[1]))
    codes = transform_blocks(featurizer, X_dask)
    print(f"lazy codes: shape {codes.shape}, {codes.npartitions} blocks")
    codes = codes.compute()

# %%
# The results
# -----------
#
# The workers train with the same seeds, so the scores are the in-process
# ones up to float32 rounding (a borderline prediction may flip).

table = pd.DataFrame(search.cv_results_)[
    ["param_dae__corruption", "param_dae__corruption_level", "mean_test_score"]
]
table["in-process score"] = local.cv_results_["mean_test_score"]
print(table.to_string(index=False, float_format="{:.4g}".format))
print("best parameters:", search.best_params_)
difference = np.abs(
    search.cv_results_["mean_test_score"] - local.cv_results_["mean_test_score"]
).max()
print(f"largest score difference from the in-process search: {difference:.4f}")
print(f"seconds: in-process {local_seconds:.1f}, on the cluster {dask_seconds:.1f}")

# %%
# The codes computed on the cluster are the in-memory ``transform``'s, up to
# float32 rounding:

in_memory = featurizer.transform(X)
print(
    f"codes: {codes.shape}, max |blockwise - in memory| = "
    f"{np.abs(codes - in_memory).max():.2e}"
)

# %%
# The mean CV accuracy of each setting, from the cluster's search. At level 0
# no noise is applied, so both kinds of noise give the same plain
# autoencoder, and the same score.

fig, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
for noise in grid["dae__corruption"]:
    rows = table[table["param_dae__corruption"] == noise]
    ax.plot(
        rows["param_dae__corruption_level"],
        rows["mean_test_score"],
        marker="o",
        label=noise,
    )
ax.set_xlabel("corruption level")
ax.set_ylabel("mean CV accuracy")
ax.legend(title="corruption", fontsize=8)
plt.show()
