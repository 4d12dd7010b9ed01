"""Mixed-type tables: categorical, string and boolean columns in both
estimators, categories in and categories out."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer
from sk_dae._columns import CATEGORY_WEIGHTS, ColumnLayout
from sk_dae._functions import LOSSES
from sk_dae._loss import ReconstructionLoss, column_loss, row_losses
from sk_dae._missing import hold_out_entries
from sk_dae._noise import NOISE_FUNCTIONS, NoiseRNG
from sk_dae._table import TableColumns, categorical_mask


def on_cpu(**params):
    """A fresh autoencoder for an imputer here, on the CPU: fresh, so that a
    test's set_params(autoencoder__...) changes no other test's."""
    return DenoisingAutoencoderTransformer(device="cpu", **params)


def _table(n=240, seed=0):
    """A table whose category decides its numbers: the columns inform each
    other, so the network can fill one from the rest."""
    rng = np.random.default_rng(seed)
    kind = rng.choice(["a", "b", "c"], n)
    level = np.select([kind == "a", kind == "b"], [-1.0, 0.0], 1.0)
    x = level + 0.1 * rng.standard_normal(n)
    return pd.DataFrame(
        {
            "x": x,
            "y": 2 * x + 0.1 * rng.standard_normal(n),
            "kind": pd.Categorical(kind),
            "tag": pd.Series(np.where(kind == "a", "u", "v"), dtype=object),
            "flag": kind == "c",
        }
    )


def _with_holes(frame, share=0.2, seed=1):
    rng = np.random.default_rng(seed)
    holed = frame.astype({"flag": object}).copy()
    holes = rng.random(frame.shape) < share
    for j, name in enumerate(frame.columns):
        holed.loc[holes[:, j], name] = np.nan if j < 2 else None
    return holed, holes


def _dae(**params):
    params = {
        "hidden_layer_sizes": (8,),
        "max_epochs": 3,
        "random_state": 0,
        "device": "cpu",
        **params,
    }
    return DenoisingAutoencoderTransformer(**params)


def _imputer(**params):
    params = {"max_epochs": 40, "random_state": 0, "autoencoder": on_cpu(), **params}
    return DenoisingAutoencoderImputer(**params)


# -- which columns are categorical ------------------------------------------------


def test_from_dtype_finds_category_string_object_and_bool_columns():
    frame = _table()
    frame["count"] = pd.array(np.arange(len(frame)) % 5, dtype="Int64")
    dae = _dae().fit(frame)
    assert dae.is_categorical_.tolist() == [False, False, True, True, True, False]
    kinds, tags, flags = dae.categories_
    assert kinds.tolist() == ["a", "b", "c"]
    assert tags.tolist() == ["u", "v"]
    assert flags.tolist() == [False, True]
    # Numeric columns first, then 3 + 2 + 2 one-hot inputs.
    assert dae.input_fill_.shape == (3 + 7,)


def test_polars_categorical_enum_string_and_boolean_columns():
    pl = pytest.importorskip("polars")
    frame = _table()
    table = pl.DataFrame(
        {
            "x": frame["x"].to_numpy(),
            "kind": pl.Series(frame["kind"].astype(str).tolist(), dtype=pl.Categorical),
            "size": pl.Series(
                np.where(frame["flag"], "big", "small").tolist(),
                dtype=pl.Enum(["small", "big"]),
            ),
            "tag": frame["tag"].tolist(),
            "flag": frame["flag"].tolist(),
        }
    )
    dae = _dae().fit(table)
    assert dae.is_categorical_.tolist() == [False, True, True, True, True]
    back = dae.inverse_transform(dae.transform(table))
    assert isinstance(back, pl.DataFrame)
    assert back.schema["size"] == pl.Enum(["small", "big"])
    assert back.schema["flag"] == pl.Boolean
    assert set(back["kind"].to_list()) <= {"a", "b", "c"}


def test_object_arrays_mix_numbers_and_categories():
    frame = _table()
    X = frame.to_numpy(dtype=object)
    dae = _dae().fit(X)
    assert dae.is_categorical_.tolist() == [False, False, True, True, True]
    back = dae.inverse_transform(dae.transform(X))
    assert back.dtype == object and back.shape == X.shape
    assert set(back[:, 2]) <= {"a", "b", "c"}
    # An object array of numbers only is numeric, as scikit-learn reads it.
    numbers = frame[["x", "y"]].to_numpy().astype(object)
    assert not _dae().fit(numbers).is_categorical_.any()


@pytest.mark.parametrize(
    "declared", [["kind"], [2], [False, False, True, False, False]]
)
def test_categorical_features_by_name_index_or_mask(declared):
    frame = _table().drop(columns=["tag", "flag"])
    frame["kind"] = frame["kind"].cat.codes  # integer-coded
    frame["extra"] = 1.0
    frame = frame[["x", "y", "kind", "extra"]]
    if isinstance(declared[0], bool):
        declared = declared[:4]
    dae = _dae(categorical_features=declared).fit(frame)
    assert dae.is_categorical_.tolist() == [False, False, True, False]
    assert dae.categories_[0].tolist() == [0, 1, 2]


def test_categorical_features_none_keeps_every_column_numeric():
    frame = _table()[["x", "y"]]
    frame["kind"] = _table()["kind"]
    with pytest.raises(ValueError):
        _dae(categorical_features=None).fit(frame)
    codes = frame.assign(kind=frame["kind"].cat.codes)
    plain = _dae(categorical_features=None).fit(codes)
    assert not plain.is_categorical_.any()
    assert plain.input_fill_.shape == (3,)


def test_bad_categorical_features_are_refused_with_a_reason():
    frame = _table()
    with pytest.raises(ValueError, match="lacks"):
        _dae(categorical_features=["nope"]).fit(frame)
    with pytest.raises(ValueError, match="indices"):
        _dae(categorical_features=[9]).fit(frame)
    with pytest.raises(ValueError, match="one entry per column"):
        _dae(categorical_features=[True, False]).fit(frame)
    with pytest.raises(ValueError, match="no column names"):
        _dae(categorical_features=["kind"]).fit(frame.to_numpy(dtype=object))


def test_rare_categories_are_grouped_as_one_hot_encoder_groups_them():
    rng = np.random.default_rng(0)
    values = rng.choice(list("abcdefgh"), 400, p=[0.4, 0.3, 0.2] + [0.02] * 5)
    frame = pd.DataFrame({"x": rng.random(400), "letter": values})
    grouped = _dae(max_categories=4).fit(frame)
    assert grouped.input_fill_.shape == (1 + 4,)
    assert len(grouped.categories_[0]) == 8  # the categories seen, all of them
    by_count = _dae(min_frequency=20).fit(frame)
    assert by_count.input_fill_.shape == (1 + 4,)
    # The group decodes to its most frequent member, a category of the data.
    back = grouped.inverse_transform(grouped.transform(frame))
    assert set(back["letter"]) <= set("abcdefgh")


def test_a_column_of_very_many_levels_is_refused_with_the_remedy():
    frame = pd.DataFrame(
        {"x": np.arange(1500.0), "id": [f"id{i}" for i in range(1500)]}
    )
    with pytest.raises(ValueError, match="max_categories or min_frequency"):
        _dae().fit(frame)
    assert _dae(max_categories=10).fit(frame).input_fill_.shape == (11,)


# -- noise acts on columns ------------------------------------------------------


def _layout_batch(n=64, seed=0, weighting="column"):
    """A batch of 2 numeric columns and groups of 3 and 2 levels."""
    layout = ColumnLayout(2, [3, 2], weighting=weighting)
    rng = np.random.default_rng(seed)
    codes = [rng.integers(0, 3, n).astype(float), rng.integers(0, 2, n).astype(float)]
    numeric = [rng.random(n) + 1, rng.random(n) + 1]
    X = layout.one_hot(numeric, codes)
    return layout, torch.as_tensor(X, dtype=torch.float32), layout.on("cpu")


def _groups(X):
    return X[:, 2:5], X[:, 5:7]


@pytest.mark.parametrize("kind", ["mask", "swap", "salt_and_pepper"])
def test_noise_corrupts_whole_columns_and_keeps_categories_one_hot(kind):
    layout, X, columns = _layout_batch()
    noise = NOISE_FUNCTIONS[kind]
    extra = {}
    if kind == "salt_and_pepper":
        extra = {"low": torch.zeros(7), "high": torch.full((7,), 2.0)}
    rng = NoiseRNG(seed=0)
    X_tilde, corrupted = noise(X, 0.5, rng, columns=columns, **extra)
    # A group is corrupted whole or not at all.
    for start, stop in ((2, 5), (5, 7)):
        block = corrupted[:, start:stop]
        assert torch.equal(block.all(dim=1), block.any(dim=1))
        assert block.any(), "the level is high enough to touch each group"
    for group in _groups(X_tilde):
        sums = group.sum(dim=1)
        if kind == "mask":
            assert set(sums.tolist()) <= {0.0, 1.0}  # dropped, or kept whole
        else:
            assert torch.all(sums == 1)  # always one category
            assert set(group.unique().tolist()) <= {0.0, 1.0}


def test_swap_noise_takes_another_rows_category_in_the_batch():
    layout, X, columns = _layout_batch()
    X_tilde, corrupted = NOISE_FUNCTIONS["swap"](
        X, 0.5, NoiseRNG(seed=0), columns=columns
    )
    batch_rows = {tuple(row) for row in X[:, 2:5].tolist()}
    assert {tuple(row) for row in X_tilde[:, 2:5].tolist()} <= batch_rows
    untouched = ~corrupted
    assert torch.equal(X_tilde[untouched], X[untouched])


def test_gaussian_noise_leaves_categories_as_they_are():
    layout, X, columns = _layout_batch()
    X_tilde, _ = NOISE_FUNCTIONS["gaussian"](X, 0.5, NoiseRNG(seed=0), columns=columns)
    assert torch.equal(X_tilde[:, 2:], X[:, 2:])
    assert not torch.equal(X_tilde[:, :2], X[:, :2])


def test_a_missing_category_is_a_missing_column_everywhere():
    frame = _table()
    frame.loc[[0, 1], "kind"] = np.nan
    frame.loc[2, "tag"] = None
    columns = TableColumns(categorical_mask(frame, "from_dtype")).fit(frame)
    X = columns.encode(frame)
    kind, tag = slice(2, 5), slice(5, 7)
    assert np.isnan(X[[0, 1], kind]).all() and not np.isnan(X[[0, 1], tag]).any()
    assert np.isnan(X[2, tag]).all()
    # Held-out validation entries are whole columns too.
    entries = ColumnLayout(**columns.layout_.to_dict()).bit_columns()
    train, targets = hold_out_entries(X, 0.3, 0, columns=entries)
    for block in (kind, tag):
        held = ~np.isnan(targets[:, block])
        assert np.array_equal(held.all(axis=1), held.any(axis=1))


# -- the loss follows each column's type ----------------------------------------


def _logits_and_targets(seed=0, weighting="column"):
    layout, X, columns = _layout_batch(seed=seed, weighting=weighting)
    z = torch.randn(X.shape, generator=torch.Generator().manual_seed(seed))
    return layout, X, columns, z


def test_a_category_costs_its_softmax_cross_entropy():
    layout, X, columns, z = _logits_and_targets()
    losses = columns.column_losses(LOSSES["mse"], z, X)
    expected_kind = F.cross_entropy(z[:, 2:5], X[:, 2:5].argmax(1), reduction="none")
    expected_tag = F.cross_entropy(z[:, 5:7], X[:, 5:7].argmax(1), reduction="none")
    torch.testing.assert_close(losses[:, 2], expected_kind)
    torch.testing.assert_close(losses[:, 3], expected_tag)
    torch.testing.assert_close(losses[:, :2], (z[:, :2] - X[:, :2]).square())
    # Large logits stay finite: each group is shifted by its own maximum.
    assert torch.isfinite(columns.column_losses(LOSSES["mse"], z * 1e4, X)).all()


def test_each_column_weighs_once_and_only_observed_columns_count():
    layout, X, columns, z = _logits_and_targets()
    per_column = columns.column_losses(LOSSES["mse"], z, X)
    loss = column_loss(LOSSES["mse"], z, X, columns, emphasis=None)
    torch.testing.assert_close(loss, per_column.mean())
    observed = torch.ones_like(X, dtype=torch.bool)
    observed[:10, 2:5] = False  # the first rows lack their category
    with_holes = column_loss(LOSSES["mse"], z, X, columns, None, observed=observed)
    kept = torch.ones_like(per_column, dtype=torch.bool)
    kept[:10, 2] = False
    torch.testing.assert_close(with_holes, per_column[kept].mean())
    rows = row_losses(LOSSES["mse"], z, X, observed, columns)
    torch.testing.assert_close(rows[:10], per_column[:10][:, [0, 1, 3]].mean(1))


def test_the_levels_weighting_counts_a_category_once_per_level():
    layout, X, columns, z = _logits_and_targets(weighting="levels")
    per_column = columns.column_losses(LOSSES["mse"], z, X)
    weights = torch.tensor([1.0, 1.0, 3.0, 2.0])
    loss = column_loss(LOSSES["mse"], z, X, columns, emphasis=None)
    expected = (per_column * weights).sum() / (weights.sum() * len(X))
    torch.testing.assert_close(loss, expected)


def test_emphasis_weighs_corrupted_columns():
    layout, X, columns, z = _logits_and_targets()
    corrupted = torch.zeros_like(X, dtype=torch.bool)
    corrupted[:, 2:5] = True
    per_column = columns.column_losses(LOSSES["mse"], z, X)
    full = column_loss(LOSSES["mse"], z, X, columns, (1.0, 0.0), corrupted)
    torch.testing.assert_close(full, per_column[:, 2].sum() / per_column.numel())


def test_numeric_columns_alone_give_the_loss_over_entries():
    rng = torch.Generator().manual_seed(0)
    X, z = torch.rand((32, 5), generator=rng), torch.randn((32, 5), generator=rng)
    observed = torch.rand((32, 5), generator=rng) > 0.3
    columns = ColumnLayout(5, []).on("cpu")
    plain = ReconstructionLoss()(z, X, "bce", observed=observed)
    by_column = ReconstructionLoss()(z, X, "bce", observed=observed, columns=columns)
    torch.testing.assert_close(by_column, plain)


@pytest.mark.parametrize("weighting", sorted(CATEGORY_WEIGHTS))
def test_every_weighting_gives_one_weight_per_column(weighting):
    layout = ColumnLayout(2, [3, 1, 20], weighting=weighting)
    weights = layout.column_weights()
    assert weights.shape == (5,) and np.all(weights[:2] == 1) and np.all(weights > 0)


# -- output -----------------------------------------------------------------


def test_the_imputer_returns_the_tables_own_columns_and_values():
    frame = _table()
    holed, holes = _with_holes(frame)
    imputer = _imputer().fit(holed)
    out = imputer.transform(holed)
    assert out.dtype == object and out.shape == frame.shape
    observed = ~holes
    for j, name in enumerate(frame.columns):
        given = holed[name].to_numpy(dtype=object)
        assert list(out[observed[:, j], j]) == list(given[observed[:, j]])
    # Holes get categories of the column, and mostly the right ones: the
    # numbers tell the kind (the most frequent kind alone is right a third).
    kind_holes = holes[:, 2]
    assert set(out[kind_holes, 2]) <= {"a", "b", "c"}
    right = np.mean(out[kind_holes, 2] == frame["kind"].to_numpy()[kind_holes])
    assert right > 0.8
    assert set(out[holes[:, 4], 4]) <= {False, True}
    numeric = out[:, :2].astype(float)
    assert not np.isnan(numeric).any()


def test_set_output_keeps_categorical_dtypes():
    frame = _table()
    holed, _ = _with_holes(frame)
    imputer = _imputer(max_epochs=3).set_output(transform="pandas").fit(holed)
    out = imputer.transform(holed)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(frame.columns)
    assert isinstance(out["kind"].dtype, pd.CategoricalDtype)
    assert out["kind"].cat.categories.tolist() == ["a", "b", "c"]
    assert out.index.equals(holed.index)
    assert not out.isna().any().any()
    pl = pytest.importorskip("polars")
    polars_out = clone(imputer).set_output(transform="polars").fit(holed)
    out = polars_out.transform(holed)
    assert isinstance(out, pl.DataFrame) and out.schema["kind"] == pl.Categorical


def test_draws_of_categories_come_from_the_softmax():
    frame = _table(n=300)
    holed, holes = _with_holes(frame, share=0.3)
    imputer = _imputer(sample_posterior=True, max_epochs=20).fit(holed)
    assert np.isnan(imputer.residual_scale_[2:]).all()
    assert np.all(imputer.residual_scale_[:2] > 0)
    draws = imputer.sample(holed, n_draws=6, random_state=0)
    assert draws.shape == (6, *frame.shape)
    kinds = draws[:, holes[:, 2], 2]
    assert set(kinds.ravel()) <= {"a", "b", "c"}
    # Draws are seeded, and vary where the model is unsure.
    again = imputer.sample(holed, n_draws=6, random_state=0)
    assert np.array_equal(draws, again)
    assert len(set(map(tuple, kinds.T.tolist()))) > 1


def test_the_draws_temperature_is_fitted_per_categorical_column():
    from sk_dae._imputer import _TEMPERATURES, _tempered

    frame = _table(n=300)
    holed, _ = _with_holes(frame, share=0.3)
    imputer = _imputer(sample_posterior=True, max_epochs=10).fit(holed)
    temperature = imputer.temperature_
    assert np.isnan(temperature[:2]).all()
    assert np.isin(temperature[2:], _TEMPERATURES).all()
    assert _imputer(max_epochs=2).fit(holed).temperature_ is None
    p = np.array([[0.7, 0.2, 0.1]])
    np.testing.assert_allclose(_tempered(p, 1.0), p)
    assert _tempered(p, 4.0).max() < 0.7 < _tempered(p, 0.25).max()


def test_an_ensemble_averages_its_members_probabilities():
    from sk_dae._imputer import _member_reconstructions

    frame = _table()
    holed, holes = _with_holes(frame)
    imputer = _imputer(n_estimators=2).fit(holed)
    network = imputer.autoencoder_
    # A copy is 2 numeric entries and 3 + 2 + 2 one-hot ones; the numeric
    # entries of both copies come first.
    module = network.net_.module_
    assert module.member_columns(1).tolist() == [2, 3, *range(11, 18)]
    Z = imputer._standardized(imputer._validate_input(holed, reset=False)[0])
    members = _member_reconstructions(network, Z)
    kinds = [probabilities[0] for _, probabilities, _ in members]
    assert len(kinds) == 2 and not np.allclose(kinds[0], kinds[1])
    np.testing.assert_allclose(kinds[0].sum(axis=1), 1.0, rtol=1e-5)
    _, groups = imputer._mean_reconstruction(Z)
    np.testing.assert_allclose(groups[2], (kinds[0] + kinds[1]) / 2, rtol=1e-6)
    # The category decides x: the holes of kind are filled from it.
    out = imputer.transform(holed)
    filled = out[holes[:, 2], 2]
    assert np.mean(filled == frame["kind"].to_numpy()[holes[:, 2]]) > 0.8


def test_inverse_transform_returns_the_table_and_scores_count_categories():
    frame = _table()
    dae = _dae(max_epochs=60, lr=1e-2).fit(frame)
    back = dae.inverse_transform(dae.transform(frame))
    assert isinstance(back, pd.DataFrame) and list(back.columns) == list(frame.columns)
    assert isinstance(back["kind"].dtype, pd.CategoricalDtype)
    assert np.mean(back["kind"] == frame["kind"]) > 0.8
    scores = dae.score_samples(frame)
    flipped = frame.copy()
    flipped["kind"] = frame["kind"].map({"a": "c", "b": "a", "c": "b"})
    assert np.mean(dae.score_samples(flipped)) < np.mean(scores)


def test_learned_fill_learns_one_fill_per_group():
    frame, _ = _with_holes(_table())
    dae = _dae(input_fill="learned", max_epochs=5).fit(frame)
    fill = dae.input_fill_
    mean = _dae(input_fill="mean").fit(frame).input_fill_
    kind = slice(2, 5)
    # The mean fill of a group is its categories' frequencies; the learned
    # one starts there and moves.
    assert mean[kind].sum() == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(fill[kind], mean[kind])


@pytest.mark.parametrize("stacking", ["greedy", "joint"])
def test_stacks_and_early_stopping_train_on_tables(stacking):
    frame, _ = _with_holes(_table())
    dae = _dae(hidden_layer_sizes=(8, 4), stacking=stacking, early_stopping=True)
    dae.fit(frame)
    assert dae.transform(frame).shape == (len(frame), 4)
    if stacking == "joint":
        by_entries = clone(dae).set_params(validation="entries").fit(frame)
        assert by_entries.validation_scores_ is not None


def test_warm_start_and_partial_fit_keep_the_fitted_encoding():
    frame = _table()
    dae = _dae(warm_start=True).fit(frame)
    width = dae.input_fill_.shape
    dae.fit(frame.iloc[:50])  # fewer categories seen here: the same inputs
    assert dae.input_fill_.shape == width
    dae.partial_fit(frame)
    assert dae.n_iter_ == 3 + 3 + 1


# -- bad and surprising input ---------------------------------------------------


def test_an_unseen_category_is_missing_with_a_warning():
    frame = _table()
    dae = _dae().fit(frame)
    new = frame.iloc[:5].copy()
    new["tag"] = ["u", "w", "u", "v", "w"]
    with pytest.warns(UserWarning, match="unseen at fit.*'tag'"):
        codes = dae.transform(new)
    missing = new.copy()
    missing.loc[[1, 4], "tag"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        expected = dae.transform(missing)
    np.testing.assert_array_equal(codes, expected)
    imputer = _imputer(max_epochs=3).fit(frame)
    with pytest.warns(UserWarning, match="unseen"):
        out = imputer.transform(new)
    assert out[1, 3] == "w"  # observed entries come back as they are


def test_a_categorical_column_missing_at_fit_warns():
    frame = _table()
    frame["empty"] = pd.Series([None] * len(frame), dtype=object)
    with pytest.warns(UserWarning, match="'empty' has no observed value"):
        dae = _dae().fit(frame)
    back = dae.inverse_transform(dae.transform(frame))
    assert back["empty"].isna().all()


def _assert_unchanged(model, fitted_codes, X):
    np.testing.assert_array_equal(model.transform(X), fitted_codes)


def test_a_column_that_changes_kind_is_refused_and_the_model_kept():
    frame = _table()
    dae = _dae().fit(frame)
    codes = dae.transform(frame)
    changed = frame.assign(x=frame["x"].astype(str))
    with pytest.raises(ValueError, match="'x' was float64 \\(numeric\\) at fit"):
        dae.transform(changed)
    with pytest.raises(ValueError, match="'x' was float64 \\(numeric\\) at fit"):
        dae.partial_fit(changed)
    _assert_unchanged(dae, codes, frame)
    numeric = _dae().fit(frame[["x", "y"]])
    # pandas 3 gives the column its str dtype, pandas 2 an object one.
    with pytest.raises(ValueError, match="'x' holds (string|object) values"):
        numeric.transform(frame[["x", "y"]].assign(x="a"))


def test_a_categorical_column_all_missing_as_floats_is_missing():
    frame = _table()
    dae = _dae().fit(frame)
    new = frame.iloc[:3].assign(kind=np.nan)  # pandas makes it float64
    assert new["kind"].dtype == np.float64
    missing = frame.iloc[:3].assign(kind=pd.Categorical([None] * 3))
    np.testing.assert_array_equal(dae.transform(new), dae.transform(missing))


def test_a_missing_or_renamed_column_is_refused():
    frame = _table()
    dae = _dae().fit(frame)
    with pytest.raises(ValueError, match="flag"):
        dae.transform(frame.drop(columns=["flag"]))
    with pytest.raises(ValueError, match="kind"):
        dae.transform(frame.rename(columns={"kind": "sort"}))


def test_an_unhashable_value_is_refused_with_the_column_named():
    frame = _table()
    dae = _dae().fit(frame)
    codes = dae.transform(frame)
    bad = frame.assign(tag=frame["tag"].astype(object))
    bad.at[3, "tag"] = ["u"]
    with pytest.raises(TypeError, match="'tag' holds an unhashable value"):
        dae.transform(bad)
    with pytest.raises(TypeError, match="'tag' holds an unhashable value"):
        dae.fit(bad)
    _assert_unchanged(dae, codes, frame)
    with pytest.raises(TypeError, match="'tag' holds an unhashable value"):
        _imputer().fit(bad)


def test_a_column_mixing_strings_and_numbers_is_refused():
    frame = _table()
    frame["tag"] = frame["tag"].astype(object)
    frame.at[0, "tag"] = 7
    with pytest.raises(TypeError, match="'tag' mixes kinds of values"):
        _dae().fit(frame)


def test_image_noise_and_callables_are_refused_on_tables():
    frame = _table()
    with pytest.raises(ValueError, match="no images"):
        _dae(corruption="block_mask", image_shape=(1, 5)).fit(frame)
    with pytest.raises(ValueError, match="callable corruption"):
        _dae(corruption=lambda X, level, generator: X).fit(frame)


# -- the rest of the product ----------------------------------------------------


def test_pipeline_and_grid_search_on_a_table():
    frame = _table()
    y = (frame["kind"] == "c").to_numpy().astype(int)
    pipe = Pipeline([("dae", _dae()), ("clf", LogisticRegression())])
    search = GridSearchCV(pipe, {"dae__corruption_level": [0.1, 0.3]}, cv=2)
    search.fit(frame, y)
    assert search.best_estimator_.score(frame, y) > 0.5
    columns = ColumnTransformer(
        [("numbers", StandardScaler(), ["x", "y"])], remainder="passthrough"
    )
    columns.set_output(transform="pandas")
    features = Pipeline([("columns", columns), ("dae", _dae())]).fit(frame)
    assert features.transform(frame).shape == (len(frame), 8)


def test_pickle_and_skops_keep_the_encoding():
    sio = pytest.importorskip("skops.io")
    frame, _ = _with_holes(_table())
    for model in (_dae().fit(frame), _imputer(max_epochs=3).fit(frame)):
        expected = model.transform(frame)
        loaded = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(loaded.transform(frame), expected)
        blob = sio.dumps(model)
        untrusted = sio.get_untrusted_types(data=blob)
        assert all(
            name.startswith(("sk_dae.", "skorch.", "torch.")) for name in untrusted
        )
        assert not any("_table" in name or "_columns" in name for name in untrusted)
        again = sio.loads(blob, trusted=untrusted)
        np.testing.assert_array_equal(again.transform(frame), expected)


def test_dask_transforms_a_table_blockwise():
    dd = pytest.importorskip("dask.dataframe")
    from sk_dae.dask import transform_blocks

    frame = _table()
    dae = _dae().fit(frame)
    parts = dd.from_pandas(frame, npartitions=3)
    codes = transform_blocks(dae, parts).compute()
    np.testing.assert_allclose(codes.to_numpy(), dae.transform(frame), rtol=1e-6)


def test_onnx_and_the_image_displays_refuse_a_table():
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx

    import sk_dae.onnx  # noqa: F401  (registers the converters)
    from sk_dae.inspection import FilterDisplay, LossCurveDisplay, ReconstructionDisplay

    frame = _table()
    dae = _dae().fit(frame)
    with pytest.raises(TypeError, match="categorical columns"):
        to_onnx(dae, frame[["x", "y"]].to_numpy()[:1].astype(np.float32))
    pytest.importorskip("matplotlib")
    with pytest.raises(ValueError, match="categorical columns"):
        FilterDisplay.from_estimator(dae, image_shape=(1, 2))
    with pytest.raises(ValueError, match="categorical columns"):
        ReconstructionDisplay.from_estimator(dae, frame, image_shape=(1, 5))
    assert LossCurveDisplay.from_estimator(dae).ax_ is not None


def test_numeric_tables_take_the_plain_path():
    X = _table()[["x", "y"]].to_numpy()
    dae = _dae().fit(X)
    assert dae._spec["columns"] is None and dae.corruption_.columns is None
    assert type(dae.inverse_transform(dae.transform(X))) is np.ndarray


@pytest.mark.parametrize("estimator", ["transformer", "imputer"])
def test_inf_in_a_tables_numeric_column_is_refused(estimator):
    # NaN is a missing value; inf never is, and in a table it can only come
    # from a numeric column, which the message says (one check, both estimators).
    params = dict(hidden_layer_sizes=(4,), max_epochs=2, random_state=0)
    if estimator == "imputer":
        model = DenoisingAutoencoderImputer(autoencoder=on_cpu(), **params)
    else:
        model = on_cpu(**params)
    holed, _ = _with_holes(_table(60))
    bad = holed.copy()
    bad.loc[3, "y"] = np.inf
    with pytest.raises(ValueError, match="a numeric column holds inf"):
        model.fit(bad)
    model.fit(holed)
    with pytest.raises(ValueError, match="a numeric column holds inf"):
        model.transform(bad)
