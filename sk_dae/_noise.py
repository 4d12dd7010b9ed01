"""Corruption processes q(x~ | x) of the denoising criterion.

Every function takes a clean batch ``X`` of shape (B, F), a ``level`` and the
private random streams (a :class:`NoiseRNG`, or a bare ``torch.Generator``;
never the global RNG, so that fits are reproducible and do not disturb the
caller's random streams), and returns ``(X_tilde, corrupted)``: the corrupted
batch, and a boolean (B, F) tensor that marks the components the noise touched,
or ``None`` when every component is touched (additive Gaussian noise). The mask
feeds the emphasized loss of Vincent et al. (2010).

No function writes into ``X``: the clean batch is also the reconstruction target.

Missing entries: ``observed`` (a boolean (B, F) tensor, or None when X has no
missing entry) marks the entries present in the data; X holds 0 in the others
(:func:`sk_dae._missing.split_missing`). Every function leaves those holes at 0
in ``X_tilde`` and copies no hole into another row; with masking noise a hole
counts as corrupted, as a masked entry would.
"""

import math
from functools import partial

import numpy as np
import torch

from ._columns import ColumnLayout


class NoiseRNG:
    """The corruption's private random streams on one device.

    ``generator``, a ``torch.Generator`` on the device, drives Gaussian noise,
    swap donors, salt-and-pepper coins and user callables. The bits of the masks
    come from it on a GPU; on a CPU from numpy's SFC64, seeded from it at each
    epoch, which yields 64 bits per draw where torch's mt19937 yields 32: a
    100 x 784 mask costs 93 instead of 145 us inside the training loop (2-core
    EPYC), 5% of an epoch at the reference setting. As the SFC64 stream is
    derived again at every epoch, the torch generator's state, saved between
    epochs, fixes all the noise that follows.

    Its ``manual_seed``, ``get_state`` and ``set_state`` are the torch
    generator's.
    """

    def __init__(self, device="cpu", seed=None, *, generator=None):
        self.generator = torch.Generator(device) if generator is None else generator
        if seed is not None:
            self.generator.manual_seed(seed)
        self._bits = None

    def manual_seed(self, seed):
        self.generator.manual_seed(seed)
        self._bits = None
        return self

    def get_state(self):
        return self.generator.get_state()

    def set_state(self, state):
        self.generator.set_state(state)
        self._bits = None

    def new_epoch(self):
        """Derive the CPU bit stream afresh from the torch generator."""
        self._bits = None

    def below(self, n, threshold, device):
        """``n`` booleans on ``device``: 16 random bits each, read as an int16,
        compared with ``threshold`` (True with probability
        ``(threshold + 32768) / 65536``, for ``threshold`` in [-32768, 32768])."""
        if threshold > 32767:
            # Every int16 is below 32768, which an int16 comparison cannot hold
            # (torch's wraps it to -32768): say so here, for both paths.
            return torch.ones(n, dtype=torch.bool, device=device)
        if torch.device(device).type != "cpu":
            return self._torch_below(n, threshold, device)
        return self._numpy_below(n, threshold)

    def _torch_below(self, n, threshold, device):
        # The bits stay on the device: no host transfer, no synchronisation.
        bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=device)
        bits.random_(-(2**63), None, generator=self.generator)
        return bits.view(torch.int16)[:n] < threshold

    def _numpy_below(self, n, threshold):
        if self._bits is None:
            seed = torch.randint(2**62, (1,), generator=self.generator).item()
            self._bits = np.random.SFC64(seed)
        # numpy's comparison of int16 is also 3 x faster than torch's here. It
        # writes into torch's memory: numpy-owned masks fragmented the heap
        # (+250 MiB of peak RSS over an epoch at batch 100).
        bits = self._bits.random_raw((n + 3) // 4).view(np.int16)[:n]
        below = torch.empty(n, dtype=torch.bool)
        np.less(bits, threshold, out=below.numpy())
        return below


def _as_rng(rng):
    return rng if isinstance(rng, NoiseRNG) else NoiseRNG(generator=rng)


def _draw_mask(X, level, rng, columns=None):
    """Boolean (B, F) mask, each component True with probability ``level``;
    with ``columns`` (a mixed-type table's
    :class:`~sk_dae._columns.DeviceColumns`), each column, spread over its
    entries.

    Each component takes 16 bits of a 64-bit draw, compared with a 16-bit
    threshold: ``level`` is resolved to 1/65536, at less than half the cost of
    ``torch.rand(X.shape) < level``.
    """
    if columns is not None:
        return columns.expand(_column_mask(X, level, rng, columns))
    threshold = -32768 + round(level * 65536)
    return rng.below(X.numel(), threshold, X.device).view(X.shape)


def _column_mask(X, level, rng, columns):  # (B, C)
    threshold = -32768 + round(level * 65536)
    shape = (X.shape[0], columns.n_columns)
    return rng.below(shape[0] * shape[1], threshold, X.device).view(shape)


def mask_noise(X, level, rng, observed=None, columns=None):
    """Set a random fraction ``level`` of the components to zero (of the
    columns, for a mixed-type table: a categorical column's whole group)."""
    corrupted = _draw_mask(X, level, _as_rng(rng), columns)
    # A product, not torch.where: where's CPU kernel costs twice as much on a
    # fresh random mask (137 vs 66 us per 100 x 784 batch, in the training loop).
    X_tilde = X * corrupted.logical_not()
    if observed is not None:
        corrupted |= ~observed  # a hole is an input the model does not see
    return X_tilde, corrupted


def block_mask_noise(X, level, rng, observed=None, *, image_shape):
    """Masking noise for images: each row loses either a random fraction
    ``level`` of its pixels, as :func:`mask_noise`, or (with even odds) one
    square of pixels at a random place.

    The rows of ``X`` are images of ``image_shape`` ``(height, width)`` or
    ``(height, width, channels)``, flattened in C order; a square takes every
    channel of its pixels. Its side is drawn uniformly from 0 to that of a
    square of ``level`` times the image's area, and it lies inside the image.
    I.i.d. masking alone never shows the network a block of holes, which is
    what an occlusion makes.
    """
    rng = _as_rng(rng)
    corrupted = _draw_mask(X, level, rng)
    height, width = image_shape[:2]
    n_rows, device = X.shape[0], X.device
    max_side = min(height, width, round(math.sqrt(level * height * width)))
    u = torch.rand((4, n_rows), generator=rng.generator, device=device)
    side = (u[1] * (max_side + 1)).long()  # (B,), uniform over 0..max_side
    top = (u[2] * (height - side + 1)).long()
    left = (u[3] * (width - side + 1)).long()
    in_rows = _within(torch.arange(height, device=device), top, side)  # (B, H)
    in_cols = _within(torch.arange(width, device=device), left, side)  # (B, W)
    square = in_rows.unsqueeze(2) & in_cols.unsqueeze(1)  # (B, H, W)
    if len(image_shape) == 3:
        square = square.unsqueeze(3).expand(-1, -1, -1, image_shape[2])
    blocky = (u[0] < 0.5).unsqueeze(1)  # (B, 1): this row gets a square
    corrupted = torch.where(blocky, square.reshape(n_rows, -1), corrupted)
    X_tilde = X * corrupted.logical_not()
    if observed is not None:
        corrupted |= ~observed
    return X_tilde, corrupted


def _within(positions, start, length):
    """(B, P): whether each position lies in its row's [start, start + length)."""
    start, length = start.unsqueeze(1), length.unsqueeze(1)
    return (positions >= start) & (positions < start + length)


def gaussian_noise(X, level, rng, observed=None, columns=None):
    """Add isotropic Gaussian noise of standard deviation ``level`` (to the
    numeric columns only, for a mixed-type table: a category has no
    neighbourhood to add noise in)."""
    generator = _as_rng(rng).generator
    noise = torch.randn(X.shape, generator=generator, device=X.device, dtype=X.dtype)
    if columns is not None:
        noise[:, columns.n_numeric :] = 0
    X_tilde = X + level * noise
    if observed is not None:
        X_tilde.masked_fill_(~observed, 0)
    return X_tilde, None


def salt_and_pepper_noise(X, level, rng, observed=None, columns=None, *, low, high):
    """Set a random fraction ``level`` of the components to their feature's min or max.

    ``low`` and ``high`` are (F,) tensors: the per-feature minimum and maximum of
    the training data's observed values. Each corrupted component is set to
    either, with even odds. For a mixed-type table, a corrupted categorical
    column takes a category drawn uniformly from its levels (the binary case
    of the min or the max).
    """
    rng = _as_rng(rng)
    corrupted = _draw_mask(X, level, rng, columns)
    if observed is not None:
        corrupted &= observed
    coin = torch.rand(X.shape, generator=rng.generator, device=X.device) < 0.5
    extreme = torch.where(coin, high, low)  # (B, F)
    if columns is not None:
        drawn = columns.random_levels(X.shape[0], rng.generator)  # (B, Fc)
        extreme[:, columns.n_numeric :] = drawn.to(X.dtype)
    return torch.where(corrupted, extreme, X), corrupted


def swap_noise(X, level, rng, observed=None, columns=None):
    """Replace a random fraction ``level`` of the components by the same feature's
    value in another random row of the batch.

    This is the tabular noise of the Porto Seguro winning solution: corrupted
    values keep each feature's marginal distribution. The donor row is drawn
    among the *other* rows of the batch; a batch of a single row has no donor and
    is returned unchanged. For a mixed-type table, each column is swapped
    whole: a categorical column takes another row's category.
    """
    n_rows = X.shape[0]
    if n_rows < 2:
        return X.clone(), torch.zeros(X.shape, dtype=torch.bool, device=X.device)
    rng = _as_rng(rng)
    if columns is not None:
        return _swap_columns(X, level, rng, observed, columns)
    corrupted = _draw_mask(X, level, rng)
    # Offsets in [1, n_rows) make the donor row differ from the row itself.
    offset = torch.randint(1, n_rows, X.shape, generator=rng.generator, device=X.device)
    rows = torch.arange(n_rows, device=X.device).unsqueeze(1)
    donors = torch.remainder(rows + offset, n_rows)  # (B, F)
    if observed is not None:
        # Neither a hole nor the value of a donor's hole changes hands.
        corrupted &= observed & observed.gather(0, donors)
    return torch.where(corrupted, X.gather(0, donors), X), corrupted


def _swap_columns(X, level, rng, observed, columns):
    """Swap noise drawn per column and spread over each column's entries."""
    n_rows = X.shape[0]
    corrupted = _column_mask(X, level, rng, columns)  # (B, C)
    shape = corrupted.shape
    offset = torch.randint(1, n_rows, shape, generator=rng.generator, device=X.device)
    rows = torch.arange(n_rows, device=X.device).unsqueeze(1)
    donors = torch.remainder(rows + offset, n_rows)  # (B, C)
    if observed is not None:
        present = columns.columns_of(observed)
        corrupted &= present & present.gather(0, donors)
    donors, corrupted = columns.expand(donors), columns.expand(corrupted)
    return torch.where(corrupted, X.gather(0, donors), X), corrupted


NOISE_FUNCTIONS = {
    "mask": mask_noise,
    "block_mask": block_mask_noise,
    "gaussian": gaussian_noise,
    "salt_and_pepper": salt_and_pepper_noise,
    "swap": swap_noise,
}

# Corruptions whose level is a fraction of components, hence must lie in [0, 1).
FRACTION_NOISES = frozenset({"mask", "block_mask", "salt_and_pepper", "swap"})

# Corruptions that drop inputs: what they touch enters the encoder as a hole
# does (the input fill), and a hole counts as corrupted.
DROPPING_NOISES = frozenset({"mask", "block_mask"})

# Corruptions that need the rows' image shape.
IMAGE_NOISES = frozenset({"block_mask"})


def user_noise(func):
    """Adapt a user's ``func(X, level, generator) -> X_tilde`` to the internal
    ``(X_tilde, corrupted)`` contract; the changed components count as corrupted.
    """

    def corrupt(X, level, rng, observed=None):
        try:
            X_tilde = func(X, level, _as_rng(rng).generator)
        except RuntimeError as exc:
            if X.device.type != "cpu":
                # The usual cause: a tensor drawn on the CPU (torch's default)
                # with the device's generator. A note keeps the error's type.
                exc.add_note(
                    f"The `corruption` callable got a batch on {X.device}; its "
                    "generator lives there too: draw on the batch's device, e.g. "
                    "torch.rand(X.shape, generator=generator, device=X.device)."
                )
            raise
        if not isinstance(X_tilde, torch.Tensor) or X_tilde.shape != X.shape:
            got = getattr(X_tilde, "shape", type(X_tilde).__name__)
            raise ValueError(
                "A callable `corruption` must return a torch.Tensor of the same "
                f"shape as its input {tuple(X.shape)}; got {got}."
            )
        if observed is not None:
            X_tilde = X_tilde.masked_fill(~observed, 0)
        return X_tilde, X_tilde != X

    return corrupt


class Corruption:
    """The corruption a model was trained with: its kind, the level of each
    layer's stage, and what it learned from the data (the feature ranges of
    salt and pepper).

    A fitted estimator holds one as ``corruption_``; ``sk_dae.inspection``
    corrupts with it, so that a display shows the noise the model was trained
    with whatever the estimator's parameters say now. An instance never
    changes: :meth:`widened` and :meth:`continued` return new ones, so that a
    call that fails, which restores the estimator's attributes, restores this
    too.

    Parameters
    ----------
    kind : str or callable
        A key of :data:`NOISE_FUNCTIONS`, or a user's ``f(X, level,
        generator) -> X_tilde``.
    levels : sequence of float
        The level of each stage: one per layer of a greedy stack, one for a
        joint stack.
    ranges : dict, default=None
        ``{layer: (low, high)}``, the per-feature minimum and maximum of the
        observed values each stage trained on, as float32 arrays (salt and
        pepper).
    image_shape : tuple of int, default=None
        The shape of one input row as an image (block masking).
    columns : dict, default=None
        A mixed-type table's :class:`~sk_dae._columns.ColumnLayout`, as its
        ``to_dict()``: the bottom stage's noise then acts on whole columns.
        None: every input is a column of its own.
    """

    def __init__(self, kind, levels, ranges=None, image_shape=None, columns=None):
        self.kind = kind
        self.levels = tuple(float(level) for level in levels)
        self.ranges = dict(ranges or {})
        self.image_shape = None if image_shape is None else tuple(image_shape)
        self.columns = None if columns is None else dict(columns)

    @property
    def name(self):
        """The kind as text: a callable's ``__name__``."""
        if callable(self.kind):
            return getattr(self.kind, "__name__", "callable")
        return self.kind

    @property
    def is_fraction(self):
        """Whether the level is a fraction of the components (every kind but
        Gaussian noise and callables)."""
        return self.kind in FRACTION_NOISES

    @property
    def needs_ranges(self):
        return self.kind == "salt_and_pepper"

    @property
    def drops(self):
        """Whether it drops inputs (masking), which then enter the encoder
        as the input fill."""
        return self.kind in DROPPING_NOISES

    def continued(self, kind, levels, image_shape=None):
        """The corruption of a call that goes on training with ``kind`` at
        ``levels``: the ranges seen so far are kept, to be widened."""
        return Corruption(kind, levels, self.ranges, image_shape, self.columns)

    def widened(self, layer, low, high):
        """A copy whose ranges of ``layer`` also cover ``[low, high]``."""
        key = layer or 0
        if key in self.ranges:
            old_low, old_high = self.ranges[key]
            low, high = np.minimum(low, old_low), np.maximum(high, old_high)
        ranges = {**self.ranges, key: (low, high)}
        return Corruption(
            self.kind, self.levels, ranges, self.image_shape, self.columns
        )

    def function(self, layer=0, device="cpu"):
        """The corruption of ``layer``'s stage (None: a joint stack) on
        ``device``, a function ``(X, level, rng, observed=None) -> (X_tilde,
        corrupted)`` as those of this module."""
        if callable(self.kind):
            return user_noise(self.kind)
        if self.kind in IMAGE_NOISES:
            # Upper layers of a greedy stack see codes, not images: they get
            # i.i.d. masking.
            if layer:
                return mask_noise
            return partial(NOISE_FUNCTIONS[self.kind], image_shape=self.image_shape)
        noise = NOISE_FUNCTIONS[self.kind]
        if self.columns is not None and not layer:
            noise = partial(noise, columns=ColumnLayout(**self.columns).on(device))
        if not self.needs_ranges:
            return noise
        low, high = (torch.as_tensor(a, device=device) for a in self.ranges[layer or 0])
        return partial(noise, low=low, high=high)

    def to_dict(self):
        """Plain values (for skops.io, which trusts no other type):
        ``Corruption(**c.to_dict())`` is ``c`` again."""
        return {
            "kind": self.kind,
            "levels": self.levels,
            "ranges": self.ranges,
            "image_shape": self.image_shape,
            "columns": self.columns,
        }

    def __repr__(self):
        return f"Corruption({self.name!r}, levels={list(self.levels)})"
