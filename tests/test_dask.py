"""Scale-out on a real ``distributed.LocalCluster`` (worker processes on loopback):
grid search through joblib's dask backend, dask-ml's ``Incremental``, and the
user guide's blockwise-transform recipe (docs/user_guide/dask.md), each against
the in-process result."""

import dask.array as da
import dask.dataframe as dd
import distributed
import joblib
import numpy as np
import pandas as pd
import pytest
from dask_ml.wrappers import Incremental
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae.dask import transform_blocks
from sk_dae.datasets import load_digits_split

X_TRAIN, Y_TRAIN, X_TEST, Y_TEST = load_digits_split()
X_TRAIN = X_TRAIN.astype(np.float64)


def _dae(**kwargs):
    params = dict(device="cpu", hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    with cluster, distributed.Client(cluster, timeout="60s") as dask_client:
        yield dask_client


def test_grid_search_on_dask_workers_matches_the_in_process_one(client):
    pipe = Pipeline([("dae", _dae()), ("svm", SVC())])
    grid = {"dae__corruption_level": [0.0, 0.3], "dae__corruption": ["mask", "swap"]}
    local = GridSearchCV(pipe, grid, cv=2, n_jobs=1).fit(X_TRAIN, Y_TRAIN)
    with joblib.parallel_backend("dask"):
        remote = GridSearchCV(pipe, grid, cv=2, n_jobs=-1).fit(X_TRAIN, Y_TRAIN)
    # The workers train with one thread each: the same models up to float32
    # rounding, which may flip a borderline prediction, not the scores' sense.
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"],
        local.cv_results_["mean_test_score"],
        atol=0.01,
    )


def test_incremental_over_a_dask_array_equals_partial_fit_over_its_chunks(client):
    X = da.from_array(X_TRAIN, chunks=(300, 64))
    wrapper = Incremental(_dae(), shuffle_blocks=False).fit(X)
    local = _dae()
    for start in range(0, len(X_TRAIN), 300):
        local.partial_fit(X_TRAIN[start : start + 300])
    # Trained in a worker with one thread: equal up to float32 rounding.
    np.testing.assert_allclose(
        wrapper.estimator_.transform(X_TRAIN),
        local.transform(X_TRAIN),
        rtol=1e-4,
        atol=1e-5,
    )


def test_blockwise_transform_of_a_dask_array_and_frame(client):
    model = _dae().fit(X_TRAIN)
    expected = model.transform(X_TRAIN)
    X = da.from_array(X_TRAIN, chunks=(200, 32))  # columns split too
    codes = transform_blocks(model, X)
    assert codes.shape == (len(X_TRAIN), 16) and codes.dtype == np.float64
    # Other blocks, one thread per worker: float64 rounding apart at most.
    np.testing.assert_allclose(codes.compute(), expected, rtol=1e-10, atol=1e-12)

    frame = dd.from_pandas(pd.DataFrame(X_TRAIN).add_prefix("px"), npartitions=4)
    model_df = _dae().fit(frame.compute())
    out = transform_blocks(model_df, frame).compute()
    assert list(out.columns) == list(model_df.get_feature_names_out())
    np.testing.assert_allclose(
        out.to_numpy(), model_df.transform(frame.compute()), rtol=1e-10, atol=1e-12
    )


def test_blockwise_transform_ships_the_model_as_one_graph_node():
    model = _dae().fit(X_TRAIN)
    codes = transform_blocks(model, da.from_array(X_TRAIN, chunks=(100, 64)))
    graph = dict(codes.__dask_graph__())
    holders = [
        key
        for key, task in graph.items()
        if task is model or (hasattr(task, "value") and task.value is model)
    ]
    assert len(holders) == 1


def test_partial_fit_over_chunks_learns_features_as_good_as_fit_in_memory():
    def probe_accuracy(model):
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        clf.fit(model.transform(X_TRAIN), Y_TRAIN)
        return clf.score(model.transform(X_TEST), Y_TEST)

    params = dict(hidden_layer_sizes=(64,), lr=1e-2, random_state=0, device="cpu")
    in_memory = DenoisingAutoencoderTransformer(max_epochs=20, **params).fit(X_TRAIN)
    chunked = DenoisingAutoencoderTransformer(**params)
    for _ in range(20):  # 20 passes over 4 chunks: 20 epochs' worth of data
        for rows in np.array_split(np.arange(len(X_TRAIN)), 4):
            chunked.partial_fit(X_TRAIN[rows])
    assert abs(probe_accuracy(chunked) - probe_accuracy(in_memory)) <= 0.01


@pytest.mark.usefixtures("one_thread")
def test_partial_fit_reads_a_memmap_chunk_by_chunk(tmp_path):
    path = tmp_path / "rows.f32"
    mm = np.memmap(path, dtype=np.float32, mode="w+", shape=X_TRAIN.shape)
    mm[:] = X_TRAIN
    mm.flush()
    rows = np.memmap(path, dtype=np.float32, mode="r", shape=X_TRAIN.shape)
    from_disk, in_memory = _dae(), _dae()
    for start in range(0, len(rows), 256):
        from_disk.partial_fit(rows[start : start + 256])
        in_memory.partial_fit(X_TRAIN[start : start + 256].astype(np.float32))
    np.testing.assert_array_equal(
        from_disk.transform(X_TRAIN), in_memory.transform(X_TRAIN)
    )
