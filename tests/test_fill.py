"""How an input the encoder does not see enters it (``input_fill``), and the
image-shaped masking noise (``corruption="block_mask"``, ``image_shape``)."""

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits

from sk_dae import DenoisingAutoencoderTransformer
from sk_dae._data import RowData
from sk_dae._fill import FILLS
from sk_dae._missing import column_means
from sk_dae.inspection import ReconstructionDisplay

X_UNIT = load_digits().data[:400] / 16
HOLES = np.random.default_rng(0).random(X_UNIT.shape) < 0.3
X_HOLED = np.where(HOLES, np.nan, X_UNIT)


def _dae(**kwargs):
    params = dict(hidden_layer_sizes=(16,), max_epochs=3, random_state=0)
    return DenoisingAutoencoderTransformer(**{**params, **kwargs})


@pytest.mark.parametrize("stacking", ["greedy", "joint"])
@pytest.mark.parametrize("input_fill", sorted(FILLS))
def test_a_missing_entry_enters_the_encoder_as_the_fill(input_fill, stacking):
    dae = _dae(input_fill=input_fill, hidden_layer_sizes=(16, 8), stacking=stacking)
    dae.fit(X_HOLED)
    filled = np.where(HOLES, dae.input_fill_, X_UNIT)
    np.testing.assert_allclose(
        dae.transform(X_HOLED), dae.transform(filled), rtol=1e-12, atol=1e-12
    )
    # net_.predict (skorch's way, in float32) fills the same way.
    X32 = X_HOLED.astype(np.float32)
    np.testing.assert_allclose(
        dae.net_.predict(X32),
        dae.inverse_transform(dae.transform(X32)),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.parametrize("sparse", [False, True])
def test_the_fill_starts_at_the_observed_column_means(sparse):
    X = sp.csr_matrix(X_HOLED) if sparse else X_HOLED
    want = np.nanmean(X_HOLED, axis=0)
    np.testing.assert_allclose(column_means(X), want, rtol=1e-6)
    assert not _dae().fit(X).input_fill_.any()  # "zero"
    mean = _dae(input_fill="mean").fit(X)
    np.testing.assert_allclose(mean.input_fill_, want, rtol=1e-6)
    learned = _dae(input_fill="learned").fit(X)
    moved = np.abs(learned.input_fill_ - want)
    assert moved.max() > 1e-3  # trained from the means on
    # Continued training keeps the mean of the first fit, and trains the
    # learned fill on.
    before = learned.input_fill_.copy()
    mean.partial_fit(X_UNIT[:50] * 0.5)
    np.testing.assert_allclose(mean.input_fill_, want, rtol=1e-6)
    learned.partial_fit(X_UNIT[:50] * 0.5)
    assert not np.array_equal(learned.input_fill_, before)


def test_a_column_with_nothing_observed_fills_with_zero():
    X = X_HOLED.copy()
    X[:, 5] = np.nan
    with pytest.warns(UserWarning, match="no observed value"):
        dae = _dae(input_fill="mean").fit(X)
    assert dae.input_fill_[5] == 0


@pytest.mark.parametrize("input_fill", ["mean", "learned"])
def test_masked_training_inputs_take_the_fill(input_fill):
    # The training step feeds the encoder the fill where the noise dropped an
    # input: the reconstruction the net trains on equals that of the batch
    # with the fill written into its dropped entries.
    dae = _dae(input_fill=input_fill, max_epochs=1, corruption_level=0.5)
    net = _with_first_stage(dae.fit(X_UNIT))
    x = torch.as_tensor(X_UNIT[:32], dtype=torch.float32)
    x_tilde, corrupted = net.corrupt(x, None, net.noise_generator_)
    assert corrupted.any()
    fill = torch.tensor(np.array(dae.input_fill_))
    torch.testing.assert_close(x_tilde, torch.where(corrupted, fill, x), rtol=0, atol=0)


def _with_first_stage(dae):
    """The fitted net, its first training stage opened on X_UNIT."""
    net = dae.net_
    layer, module = net.stage_modules()[0]
    net.stage_ = net.make_stage(layer, module, dae.corruption_, RowData(X_UNIT, "cpu"))
    return net


def test_a_zero_fill_needs_no_mask():
    net = _with_first_stage(_dae(max_epochs=1, corruption_level=0.5).fit(X_UNIT))
    assert not net.stage_.fills and net.fill_.value is None
    x = torch.as_tensor(X_UNIT[:8], dtype=torch.float32)
    x_tilde, corrupted = net.corrupt(x, None, net.noise_generator_)
    torch.testing.assert_close(x_tilde, x * ~corrupted, rtol=0, atol=0)


def test_the_fill_is_part_of_the_networks_shape():
    dae = _dae(input_fill="mean").fit(X_UNIT)
    dae.set_params(input_fill="learned", warm_start=True)
    before = dae.input_fill_
    with pytest.raises(ValueError, match="input_fill"):
        dae.fit(X_UNIT)
    assert dae.input_fill_ is before


@pytest.mark.parametrize("input_fill", ["mean", "learned"])
def test_a_pickled_model_keeps_its_fill(input_fill):
    dae = _dae(input_fill=input_fill).fit(X_HOLED)
    loaded = pickle.loads(pickle.dumps(dae))
    np.testing.assert_array_equal(loaded.input_fill_, dae.input_fill_)
    np.testing.assert_array_equal(loaded.transform(X_HOLED), dae.transform(X_HOLED))
    assert not loaded.input_fill_.flags.writeable


def test_the_display_shows_dropped_inputs_as_the_network_sees_them():
    dae = _dae(input_fill="mean", corruption_level=0.5).fit(X_UNIT)
    display = ReconstructionDisplay.from_estimator(
        dae, X_UNIT, image_shape=(8, 8), random_state=0
    )
    changed = display.corrupted != display.clean
    columns = np.nonzero(changed)[1]
    np.testing.assert_allclose(display.corrupted[changed], dae.input_fill_[columns])
    expected = dae.inverse_transform(dae.transform(display.corrupted))
    np.testing.assert_allclose(display.reconstructed, expected)


# -- block masking and the image shape ------------------------------------------


@pytest.mark.parametrize("stacking", ["greedy", "joint"])
def test_block_masking_trains_greedy_and_joint_stacks(stacking):
    dae = _dae(
        corruption="block_mask",
        image_shape=(8, 8),
        hidden_layer_sizes=(24, 12),
        stacking=stacking,
        corruption_level=0.4,
        input_fill="learned",
        max_epochs=4,
    ).fit(X_UNIT)
    assert dae.corruption_.image_shape == (8, 8)
    assert dae.corruption_.kind == "block_mask"
    stages = [dae.loss_curve_[:4], dae.loss_curve_[4:]] if stacking == "greedy" else []
    for curve in stages or [dae.loss_curve_]:
        assert curve[-1] < curve[0]
    assert dae.transform(X_HOLED).shape == (len(X_UNIT), 12)


def test_block_masking_is_reproducible_and_seeded():
    params = dict(corruption="block_mask", image_shape=(8, 8), input_fill="mean")
    a = _dae(**params).fit(X_UNIT)
    b = _dae(**params).fit(X_UNIT)
    c = _dae(**params, random_state=1).fit(X_UNIT)
    np.testing.assert_allclose(a.transform(X_UNIT), b.transform(X_UNIT), atol=1e-6)
    assert not np.allclose(a.transform(X_UNIT), c.transform(X_UNIT), atol=1e-3)


def test_the_display_shows_block_masking_as_trained():
    dae = _dae(corruption="block_mask", image_shape=(8, 8), corruption_level=0.5)
    dae.fit(X_UNIT)
    display = ReconstructionDisplay.from_estimator(
        dae, X_UNIT, image_shape=(8, 8), n_images=40, random_state=0
    )
    assert display.corruption_label == "block_mask (0.5)"
    dropped = (display.corrupted == 0) & (display.clean != 0)
    assert dropped.any()


@pytest.mark.parametrize(
    "image_shape, match",
    [
        (None, r"corruption='block_mask' needs the shape.*image_shape=\(height"),
        ((8, 7), r"image_shape=\(8, 7\) holds 56 values, but X has 64.*\(8, 8\)"),
        ((8, 8, 0), r"must be \(height, width\) or \(height, width, channels\)"),
        ((8.0, 8), r"positive ints; got \(8.0, 8\)"),
        ((64,), r"must be \(height, width\)"),
    ],
)
def test_a_wrong_image_shape_is_refused_before_training(image_shape, match):
    dae = _dae(corruption="block_mask", image_shape=image_shape)
    with pytest.raises(ValueError, match=match):
        dae.fit(X_UNIT)
    assert not hasattr(dae, "n_features_in_")


def test_a_wrong_image_shape_on_a_fitted_model_changes_nothing():
    dae = _dae(corruption="block_mask", image_shape=(8, 8)).fit(X_UNIT)
    before = dict(vars(dae))
    dae.set_params(image_shape=(4, 4))
    with pytest.raises(ValueError, match="holds 16 values"):
        dae.partial_fit(X_UNIT)
    assert all(vars(dae)[k] is v for k, v in before.items() if k != "image_shape")


def test_channels_last_images_are_taken():
    X = X_UNIT[:, :48]  # as 4 x 4 pixels of 3 channels
    dae = _dae(corruption="block_mask", image_shape=(4, 4, 3)).fit(X)
    assert dae.corruption_.image_shape == (4, 4, 3)


# -- consistency ----------------------------------------------------------------


def _drift(dae):
    """RMS distance between the codes of holed rows and of their clean rows, in
    units of each code's spread over the clean rows (as a scaler fitted on
    clean codes, then a classifier, sees it)."""
    clean, holed = dae.transform(X_UNIT), dae.transform(X_HOLED)
    return np.sqrt(np.mean(((holed - clean) / clean.std(axis=0)) ** 2))


@pytest.mark.parametrize("stacking", ["greedy", "joint"])
def test_the_consistency_term_keeps_holed_codes_near_the_clean_ones(stacking):
    params = dict(
        hidden_layer_sizes=(32, 16),
        stacking=stacking,
        corruption_level=0.3,
        input_fill="mean",
        max_epochs=15,
    )
    plain = _dae(**params).fit(X_UNIT)
    consistent = _dae(**params, consistency=50.0).fit(X_UNIT)
    # 0.87 (greedy) and 0.78 (joint) of the plain drift with seeds 0 and 1.
    assert _drift(consistent) < 0.93 * _drift(plain)
    # The loss includes the term: it is larger than the plain one at first.
    assert consistent.loss_curve_[0] > plain.loss_curve_[0]


def test_consistency_is_a_training_parameter_not_part_of_the_shape():
    dae = _dae(input_fill="mean").fit(X_UNIT)
    dae.set_params(consistency=2.0, warm_start=True).fit(X_UNIT)
    assert dae.net_.consistency == 2.0
    assert dae.n_iter_ == 6
