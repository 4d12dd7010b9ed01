import numpy as np
import pytest
import torch

from sk_dae._noise import (
    Corruption,
    NoiseRNG,
    block_mask_noise,
    gaussian_noise,
    mask_noise,
    salt_and_pepper_noise,
    swap_noise,
    user_noise,
)


def _batch(n_rows=400, n_features=50, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n_rows, n_features, generator=g) + 0.5  # no zeros


def _gen(seed=1):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("level", [0.1, 0.3, 0.7])
def test_mask_noise_zeroes_the_requested_fraction(level):
    X = _batch()
    X_tilde, corrupted = mask_noise(X, level, _gen())
    assert torch.equal(corrupted, X_tilde == 0)
    assert corrupted.float().mean().item() == pytest.approx(level, abs=0.02)
    assert torch.equal(X_tilde[~corrupted], X[~corrupted])


def test_noise_does_not_write_into_the_clean_batch():
    X = _batch()
    before = X.clone()
    for noise in (mask_noise, gaussian_noise, swap_noise):
        noise(X, 0.5, _gen())
    low, high = X.min(0).values, X.max(0).values
    salt_and_pepper_noise(X, 0.5, _gen(), low=low, high=high)
    assert torch.equal(X, before)


def test_same_generator_seed_gives_same_noise_and_other_seed_differs():
    X = _batch()
    a, _ = mask_noise(X, 0.3, _gen(5))
    b, _ = mask_noise(X, 0.3, _gen(5))
    c, _ = mask_noise(X, 0.3, _gen(6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_noise_leaves_the_global_rngs_alone():
    state, numpy_state = torch.get_rng_state(), np.random.get_state()
    mask_noise(_batch(), 0.3, _gen())
    swap_noise(_batch(), 0.3, NoiseRNG(seed=0))
    assert torch.equal(state, torch.get_rng_state())
    assert np.array_equal(numpy_state[1], np.random.get_state()[1])


def test_noise_rng_state_between_epochs_fixes_all_later_noise():
    X = _batch()
    rng = NoiseRNG(seed=3)
    mask_noise(X, 0.3, rng)  # part of an epoch
    rng.new_epoch()
    saved = rng.get_state()
    want = [mask_noise(X, 0.3, rng)[1] for _ in range(2)]
    restored = NoiseRNG()
    restored.set_state(saved)
    restored.new_epoch()
    got = [mask_noise(X, 0.3, restored)[1] for _ in range(2)]
    for a, b in zip(want, got, strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(want[0], want[1])  # fresh bits for every batch


def test_gaussian_noise_has_the_requested_std_and_touches_everything():
    X = _batch(2000, 50)
    X_tilde, corrupted = gaussian_noise(X, 0.2, _gen())
    assert corrupted is None
    assert (X_tilde - X).std().item() == pytest.approx(0.2, rel=0.02)
    assert (X_tilde - X).mean().item() == pytest.approx(0.0, abs=0.005)


def test_salt_and_pepper_sets_feature_min_or_max():
    X = _batch()
    low, high = X.min(0).values, X.max(0).values
    X_tilde, corrupted = salt_and_pepper_noise(X, 0.4, _gen(), low=low, high=high)
    assert corrupted.float().mean().item() == pytest.approx(0.4, abs=0.02)
    hit = X_tilde[corrupted]
    cols = torch.nonzero(corrupted)[:, 1]
    is_low, is_high = hit == low[cols], hit == high[cols]
    assert torch.all(is_low | is_high)
    assert is_low.float().mean().item() == pytest.approx(0.5, abs=0.05)


def test_swap_draws_values_from_another_row_of_the_same_column():
    # Column j holds values 1000 * j + row, so a value names its row and column.
    n_rows, n_features = 64, 20
    rows = torch.arange(n_rows).unsqueeze(1)
    cols = torch.arange(n_features).unsqueeze(0)
    X = (1000 * cols + rows).float()
    X_tilde, corrupted = swap_noise(X, 0.5, _gen())
    assert corrupted.float().mean().item() == pytest.approx(0.5, abs=0.05)
    swapped = X_tilde[corrupted].long()
    assert torch.equal(swapped // 1000, torch.nonzero(corrupted)[:, 1])
    assert torch.all(swapped % 1000 != torch.nonzero(corrupted)[:, 0])
    assert torch.equal(X_tilde[~corrupted], X[~corrupted])


def test_swap_on_a_single_row_changes_nothing():
    X = _batch(1, 10)
    X_tilde, corrupted = swap_noise(X, 0.9, _gen())
    assert torch.equal(X_tilde, X)
    assert not corrupted.any()


def test_user_noise_marks_changed_components_and_checks_the_shape():
    def flip_first_column(X, level, generator):
        out = X.clone()
        out[:, 0] = -out[:, 0]
        return out

    X = _batch(10, 4)
    X_tilde, corrupted = user_noise(flip_first_column)(X, 0.0, _gen())
    assert corrupted[:, 0].all() and not corrupted[:, 1:].any()

    with pytest.raises(ValueError, match="same shape"):
        user_noise(lambda X, level, g: X[:, :2])(X, 0.0, _gen())


class DevicePathRNG(NoiseRNG):
    """Takes the device path (torch's int16 comparison) on the CPU."""

    def _numpy_below(self, n, threshold):
        return self._torch_below(n, threshold, "cpu")


@pytest.mark.parametrize(
    "level", [0.0, 2.0**-17, 0.3, 1 - 2.0**-16, 1 - 2.0**-17, 1 - 2.0**-20, 1.0]
)
def test_the_cpu_and_device_mask_paths_agree_at_every_level(level):
    n = 200_000
    threshold = -32768 + round(level * 65536)
    numpy_path = NoiseRNG("cpu", seed=0)
    torch_path = DevicePathRNG("cpu", seed=0)
    x = torch.ones(n, 1)
    fractions = [
        mask_noise(x, level, rng)[1].float().mean().item()
        for rng in (numpy_path, torch_path)
    ]
    want = (threshold + 32768) / 65536
    for fraction in fractions:
        assert abs(fraction - want) < 5 * (want * (1 - want) / n) ** 0.5 + 1e-12


def test_a_failing_callable_on_a_device_gets_a_hint_about_the_generator():
    def host_noise(X, level, generator):  # forgets device=X.device
        raise RuntimeError("Expected a 'cuda' device type for generator")

    X = torch.empty(4, 3, device="meta")  # a batch that is not on the CPU
    with pytest.raises(RuntimeError, match="^Expected a 'cuda'") as info:
        user_noise(host_noise)(X, 0.3, torch.Generator())
    (note,) = info.value.__notes__
    assert "device=X.device" in note
    with pytest.raises(RuntimeError) as info:  # on the CPU, unchanged
        user_noise(host_noise)(torch.ones(4, 3), 0.3, torch.Generator())
    assert not hasattr(info.value, "__notes__")


def _squares(corrupted, shape):
    """Per row: whether its corrupted pixels form one filled square (of any
    side, none included), and the square's side."""
    out = []
    for image in corrupted.view(-1, *shape[:2], *shape[2:]).numpy():
        pixels = image if image.ndim == 2 else image.any(axis=2)
        rows, cols = np.flatnonzero(pixels.any(1)), np.flatnonzero(pixels.any(0))
        side = len(rows)
        square = side == len(cols) and pixels.sum() == side * side
        if side:
            box = pixels[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
            square = square and box.all()
        if image.ndim == 3:  # a square takes every channel of its pixels
            square = square and (image.all(axis=2) == pixels).all()
        out.append((square, side))
    return out


@pytest.mark.parametrize("shape", [(12, 10), (6, 5, 3)])
def test_block_mask_drops_one_square_or_iid_pixels_per_row(shape):
    n_features = int(np.prod(shape))
    X = _batch(n_rows=2000, n_features=n_features)
    level = 0.4
    X_tilde, corrupted = block_mask_noise(X, level, _gen(), image_shape=shape)
    assert torch.equal(corrupted, X_tilde == 0)
    assert torch.equal(X_tilde[~corrupted], X[~corrupted])
    squares = _squares(corrupted, shape)
    max_side = round(np.sqrt(level * shape[0] * shape[1]))
    # About half of the rows lose one square, of every side from 0 to the
    # side of a square of 40% of the image; the others about 40% of pixels
    # at random, which almost never makes a square.
    sides = [side for square, side in squares if square]
    assert len(sides) / len(squares) == pytest.approx(0.5, abs=0.05)
    assert set(sides) == set(range(max_side + 1))
    iid = corrupted[torch.tensor([not square for square, _ in squares])]
    assert iid.float().mean().item() == pytest.approx(level, abs=0.01)


def test_block_mask_is_seeded_fresh_per_batch_and_keeps_holes_dropped():
    X = _batch(n_rows=64, n_features=64)
    a, _ = block_mask_noise(X, 0.5, _gen(3), image_shape=(8, 8))
    b, _ = block_mask_noise(X, 0.5, _gen(3), image_shape=(8, 8))
    rng = NoiseRNG(seed=3)
    c, _ = block_mask_noise(X, 0.5, rng, image_shape=(8, 8))
    d, _ = block_mask_noise(X, 0.5, rng, image_shape=(8, 8))
    assert torch.equal(a, b)
    assert not torch.equal(c, d)  # the next batch gets fresh noise
    observed = torch.rand(X.shape, generator=_gen(4)) > 0.3
    x = X.masked_fill(~observed, 0)
    X_tilde, corrupted = block_mask_noise(x, 0.5, _gen(), observed, image_shape=(8, 8))
    assert torch.equal(X_tilde[~observed], torch.zeros(int((~observed).sum())))
    assert corrupted[~observed].all()  # a hole counts as dropped


def test_block_mask_at_level_zero_drops_nothing():
    X = _batch(n_rows=50, n_features=16)
    X_tilde, corrupted = block_mask_noise(X, 0.0, _gen(), image_shape=(4, 4))
    assert not corrupted.any()
    assert torch.equal(X_tilde, X)


def test_upper_layers_of_a_block_masked_stack_get_iid_masking():
    corruption = Corruption("block_mask", [0.5, 0.3], image_shape=(8, 8))
    assert corruption.drops
    assert corruption.function(1) is mask_noise
    X = _batch(n_rows=20, n_features=64)
    _, corrupted = corruption.function(0)(X, 0.5, _gen())
    assert any(square for square, _ in _squares(corrupted, (8, 8)))
    again = Corruption(**corruption.to_dict())
    assert again.image_shape == (8, 8) and again.levels == (0.5, 0.3)
