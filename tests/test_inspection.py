"""The Display objects of sk_dae.inspection: what they compute, and that they
draw it where they are told."""

import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sk_dae import DenoisingAutoencoderImputer, DenoisingAutoencoderTransformer
from sk_dae.inspection import FilterDisplay, LossCurveDisplay, ReconstructionDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

X_UNIT = load_digits().data[:400] / 16


def _dae(**kwargs):
    params = dict(hidden_layer_sizes=(20,), max_epochs=3, device="cpu", random_state=0)
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


@pytest.fixture(scope="module")
def dae():
    return _dae().fit(X_UNIT)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


# -- FilterDisplay ------------------------------------------------------------------


def test_filters_are_the_rows_of_the_first_encoder_weight(dae):
    display = FilterDisplay.from_estimator(dae, image_shape=(8, 8), n_filters=12)
    weight = dae.net_.module_.layers[0].weight.detach().numpy()
    np.testing.assert_array_equal(display.filters, weight[:12])
    assert display.figure_ is display.ax_.figure


def test_each_filter_is_scaled_by_its_own_peak(dae):
    display = FilterDisplay.from_estimator(dae, image_shape=(8, 8), n_cols=5)
    grid = display.image_.get_array()
    assert grid.shape == (4 * 9 - 1, 5 * 9 - 1)  # 20 tiles, 1-pixel borders
    first = np.asarray(grid[:8, :8])
    expected = display.filters[0] / np.abs(display.filters[0]).max()
    np.testing.assert_allclose(first.ravel(), expected)
    assert np.ma.getmaskarray(grid)[8].all()  # a border row: not a pixel


def test_a_display_draws_on_the_axes_it_is_given(dae):
    _, (left, right) = plt.subplots(1, 2)
    display = FilterDisplay.from_estimator(dae, image_shape=(8, 8), ax=left)
    assert display.ax_ is left
    display.plot(ax=right, n_cols=4)
    assert display.ax_ is right and display.image_ in right.images


def test_an_imputers_filters_act_on_its_columns():
    X = np.where(np.random.default_rng(0).random(X_UNIT.shape) < 0.2, np.nan, X_UNIT)
    X[:, 0] = 0.5  # every column observed: 64 columns, an 8 x 8 image
    imputer = DenoisingAutoencoderImputer(
        hidden_layer_sizes=(16,), max_epochs=2, random_state=0
    ).fit(X)
    display = FilterDisplay.from_estimator(imputer, image_shape=(8, 8))
    assert display.filters.shape == (16, 64)
    # An ensemble trained as one network shows its first member's filters.
    ensemble = clone(imputer).set_params(n_estimators=3).fit(X)
    display = FilterDisplay.from_estimator(ensemble, image_shape=(8, 8))
    first = ensemble.autoencoder_.net_.module_.encoder_weights[0][0]
    np.testing.assert_array_equal(display.filters, first.detach().numpy().T)


def test_an_image_shape_that_does_not_fit_the_features_is_refused(dae):
    with pytest.raises(ValueError, match="height \\* width equal to the 64"):
        FilterDisplay.from_estimator(dae, image_shape=(8, 9))


def test_other_estimators_and_unfitted_ones_are_refused(dae):
    with pytest.raises(TypeError, match="named_steps"):
        FilterDisplay.from_estimator(
            make_pipeline(MinMaxScaler(), dae), image_shape=(8, 8)
        )
    with pytest.raises(TypeError, match="not PCA"):
        LossCurveDisplay.from_estimator(PCA())
    with pytest.raises(NotFittedError):
        FilterDisplay.from_estimator(_dae(), image_shape=(8, 8))


# -- ReconstructionDisplay -----------------------------------------------------------


def test_missing_entries_are_reconstructed_through_transform(dae):
    display = ReconstructionDisplay.from_estimator(
        dae,
        X_UNIT,
        image_shape=(8, 8),
        n_images=6,
        corruption="missing",
        level=0.4,
        random_state=0,
    )
    np.testing.assert_array_equal(display.clean, X_UNIT[:6])
    holes = np.isnan(display.corrupted)
    assert 0.25 < holes.mean() < 0.55
    np.testing.assert_array_equal(display.corrupted[~holes], X_UNIT[:6][~holes])
    expected = dae.inverse_transform(dae.transform(display.corrupted))
    np.testing.assert_array_equal(display.reconstructed, expected)
    assert display.corruption_label == "missing (40%)"


def test_the_estimators_own_noise_at_its_own_level_by_default(dae):
    display = ReconstructionDisplay.from_estimator(
        dae, X_UNIT, image_shape=(8, 8), random_state=0
    )
    changed = display.corrupted != display.clean
    np.testing.assert_array_equal(display.corrupted[changed], 0)  # masking noise
    assert 0.15 < changed.sum() / (X_UNIT[:10] != 0).sum() < 0.45  # level 0.3
    assert display.corruption_label == "mask (0.3)"
    again = ReconstructionDisplay.from_estimator(
        dae, X_UNIT, image_shape=(8, 8), random_state=0
    )
    np.testing.assert_array_equal(again.corrupted, display.corrupted)


def test_sparse_rows_are_shown_as_dense_ones(dae):
    dense = ReconstructionDisplay.from_estimator(
        dae, X_UNIT, image_shape=(8, 8), random_state=0
    )
    sparse = ReconstructionDisplay.from_estimator(
        dae, sp.csr_matrix(X_UNIT), image_shape=(8, 8), random_state=0
    )
    np.testing.assert_array_equal(sparse.corrupted, dense.corrupted)
    np.testing.assert_allclose(
        sparse.reconstructed, dense.reconstructed, rtol=1e-10, atol=1e-12
    )


def test_salt_and_pepper_uses_the_ranges_learned_at_fit():
    X = X_UNIT * 3 - 1  # features in [-1, 2]
    dae = _dae(corruption="salt_and_pepper", corruption_level=0.5).fit(X)
    display = ReconstructionDisplay.from_estimator(
        dae, X, image_shape=(8, 8), random_state=0
    )
    changed = display.corrupted != display.clean
    assert changed.any()
    low, high = X.min(axis=0), X.max(axis=0)
    columns = np.nonzero(changed)[1]
    values = display.corrupted[changed]
    assert np.all(np.isclose(values, low[columns]) | np.isclose(values, high[columns]))


def test_entries_the_noise_leaves_alone_are_the_rows_own():
    X = X_UNIT * 0.1 + 0.013  # not exact in float32, the noise's precision
    dae = _dae().fit(X)
    display = ReconstructionDisplay.from_estimator(
        dae, X, image_shape=(8, 8), random_state=0
    )
    changed = display.corrupted != display.clean
    assert 0.15 < changed.mean() < 0.45
    np.testing.assert_array_equal(display.corrupted[changed], 0)


def test_swap_noise_draws_donors_from_a_batch_even_for_one_image():
    dae = _dae(corruption="swap", corruption_level=0.5).fit(X_UNIT)
    display = ReconstructionDisplay.from_estimator(
        dae, X_UNIT, image_shape=(8, 8), n_images=1, random_state=0
    )
    assert display.corrupted.shape == (1, 64)
    assert (display.corrupted != display.clean).any()


def test_missing_entries_default_to_a_fraction_after_gaussian_noise():
    dae = _dae(corruption="gaussian", corruption_level=1.0).fit(X_UNIT)
    display = ReconstructionDisplay.from_estimator(
        dae, X_UNIT, image_shape=(8, 8), corruption="missing", random_state=0
    )
    assert display.corruption_label == "missing (30%)"
    noisy = ReconstructionDisplay.from_estimator(dae, X_UNIT, image_shape=(8, 8))
    assert noisy.corruption_label == "gaussian (1)"


def test_a_corruption_callable_is_used_as_in_training():
    def flip(X, level, generator):
        return 1 - X

    dae = _dae(corruption=flip).fit(X_UNIT)
    display = ReconstructionDisplay.from_estimator(dae, X_UNIT, image_shape=(8, 8))
    np.testing.assert_allclose(display.corrupted, 1 - X_UNIT[:10], atol=1e-7)
    assert display.corruption_label == "flip (0.3)"


def test_missing_entries_are_drawn_in_their_own_color(dae):
    display = ReconstructionDisplay.from_estimator(
        dae,
        X_UNIT,
        image_shape=(8, 8),
        n_images=3,
        corruption="missing",
        random_state=0,
    )
    rgb = display.image_.get_array()
    hole = np.argwhere(np.isnan(display.corrupted[0].reshape(8, 8)))[0]
    top = 9  # the corrupted row of tiles starts below one tile and its border
    red = matplotlib.colors.to_rgba("tab:red")
    np.testing.assert_allclose(rgb[top + hole[0], hole[1]], red)
    assert [t.get_text() for t in display.ax_.get_yticklabels()][1] == "missing (30%)"


def test_reconstruction_needs_a_known_corruption_and_a_fraction(dae):
    with pytest.raises(ValueError, match='"noise" or "missing"'):
        ReconstructionDisplay.from_estimator(
            dae, X_UNIT, image_shape=(8, 8), corruption="blur"
        )
    for corruption in ("missing", "noise"):  # masking noise: a fraction too
        with pytest.raises(ValueError, match="in \\[0, 1\\); got 1.5"):
            ReconstructionDisplay.from_estimator(
                dae, X_UNIT, image_shape=(8, 8), corruption=corruption, level=1.5
            )


@pytest.mark.parametrize(
    "display, kwargs",
    [
        (FilterDisplay, {"n_filters": 0}),
        (FilterDisplay, {"n_cols": 0}),
        (ReconstructionDisplay, {"n_images": 0, "X": X_UNIT}),
    ],
)
def test_counts_must_be_positive(dae, display, kwargs):
    with pytest.raises(ValueError, match="must be >= 1"):
        display.from_estimator(dae, image_shape=(8, 8), **kwargs)


def test_an_imputer_is_pointed_to_its_autoencoder():
    X = np.where(np.random.default_rng(0).random(X_UNIT.shape) < 0.2, np.nan, X_UNIT)
    imputer = DenoisingAutoencoderImputer(hidden_layer_sizes=(8,), max_epochs=1).fit(X)
    with pytest.raises(TypeError, match="imputer.autoencoder_"):
        ReconstructionDisplay.from_estimator(imputer, X, image_shape=(8, 8))


# -- LossCurveDisplay ------------------------------------------------------------


def test_loss_curves_with_validation_and_layers():
    dae = _dae(hidden_layer_sizes=(20, 10), max_epochs=4, early_stopping=True).fit(
        X_UNIT
    )
    display = LossCurveDisplay.from_estimator(dae)
    assert display.loss_curve == dae.loss_curve_
    assert display.validation_loss == [-s for s in dae.validation_scores_]
    assert display.layers == [0, 0, 0, 0, 1, 1, 1, 1]
    np.testing.assert_array_equal(display.line_.get_ydata(), dae.loss_curve_)
    assert display.validation_line_ is not None
    boundaries = [line for line in display.ax_.lines if line.get_linestyle() == ":"]
    assert [line.get_xdata()[0] for line in boundaries] == [4.5]


def test_validation_is_drawn_at_the_epochs_it_ran():
    dae = _dae(max_epochs=3, warm_start=True).fit(X_UNIT)
    dae.set_params(early_stopping=True).fit(X_UNIT)  # 3 more, validated
    display = LossCurveDisplay.from_estimator(dae)
    assert len(display.loss_curve) == 6
    assert np.isnan(display.validation_loss[:3]).all()
    x, y = display.validation_line_.get_data()
    np.testing.assert_array_equal(np.asarray(x)[~np.isnan(y)], [4, 5, 6])


def test_two_models_on_one_axes(dae):
    display = LossCurveDisplay.from_estimator(dae, name="one", log_scale=False)
    other = LossCurveDisplay.from_estimator(
        _dae(max_epochs=5).fit(X_UNIT), ax=display.ax_, name="two"
    )
    assert other.ax_ is display.ax_
    assert [t.get_text() for t in other.ax_.get_legend().get_texts()] == ["one", "two"]
    assert display.validation_line_ is None and display.layers is None


# -- matplotlib stays optional ------------------------------------------------------


def test_importing_the_displays_does_not_import_matplotlib():
    code = "import sys, sk_dae.inspection; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr


def test_plotting_without_matplotlib_says_what_to_install(dae, monkeypatch):
    display = FilterDisplay(filters=np.ones((2, 64)), image_shape=(8, 8))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match="FilterDisplay.plot.*pip install matplotlib"):
        display.plot()


def test_the_display_does_not_touch_the_global_torch_rng(dae):
    state = torch.get_rng_state()
    ReconstructionDisplay.from_estimator(dae, X_UNIT, image_shape=(8, 8))
    assert torch.equal(torch.get_rng_state(), state)
