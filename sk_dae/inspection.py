"""Looking at a fitted denoising autoencoder: its filters, its reconstructions
and its training curve, as scikit-learn Display objects.

Each display follows scikit-learn's convention (``RocCurveDisplay``,
``PartialDependenceDisplay``): ``from_estimator(...)`` computes the values and
plots them; ``plot(ax=...)`` draws them again, on a given Axes if wanted; the
drawing is in the attributes ``figure_``, ``ax_`` and the artists. matplotlib is
imported when drawing, never at import, so it stays optional.
"""

import math
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils import _safe_indexing, check_scalar
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ._estimator import DenoisingAutoencoderTransformer
from ._imputer import DenoisingAutoencoderImputer
from ._missing import split_missing
from ._random import draw_seeds
from ._validation import check_levels
from .modules import StackedDenoisingAutoencoder, StackEnsemble

__all__ = ["FilterDisplay", "LossCurveDisplay", "ReconstructionDisplay"]

_BORDER = 1  # pixels between the tiles of a grid


def _pyplot(caller):
    check_matplotlib_support(caller)
    import matplotlib.pyplot as plt

    return plt


def _autoencoder(estimator, caller, *, imputer=True):
    """The fitted transformer behind ``estimator`` (an imputer's ``autoencoder_``)."""
    if imputer and isinstance(estimator, DenoisingAutoencoderImputer):
        check_is_fitted(estimator)
        return estimator.autoencoder_
    if not isinstance(estimator, DenoisingAutoencoderTransformer):
        accepted = "DenoisingAutoencoderTransformer"
        if imputer:
            accepted += " or a DenoisingAutoencoderImputer"
        hint = 'for a pipeline pass its step, e.g. pipeline.named_steps["dae"]'
        if isinstance(estimator, DenoisingAutoencoderImputer):
            hint = (
                "an imputer fills holes rather than reconstructing rows: pass "
                "imputer.autoencoder_ with standardized rows, or look at "
                "imputer.transform"
            )
        raise TypeError(
            f"{caller} takes a fitted {accepted}, not "
            f"{type(estimator).__name__}; {hint}."
        )
    check_is_fitted(estimator)
    return estimator


def _refuse_tables(autoencoder, caller, what):
    """A model of a table with categorical columns has no image to draw."""
    if autoencoder.is_categorical_.any():
        raise ValueError(
            f"{caller} {what} as images, but this model was fitted on a table "
            "with categorical columns, whose inputs are one-hot categories, not "
            "pixels. LossCurveDisplay applies; look at inverse_transform or "
            "score_samples for the table's reconstructions."
        )


def _check_count(value, name):
    return check_scalar(value, name, Integral, min_val=1)


def _first_layer_filters(autoencoder):
    """``(filters, kernel_shape)``: the first layer's weights, one filter a
    row, and the shape of a convolution's kernels (None for a dense layer,
    whose filters have the input's shape). The built-in stack's come from
    ``coefs_``; a user's module's first layer with weights must be a
    ``Linear`` on the input or a single-channel ``Conv2d``."""
    module = autoencoder.net_.module_
    if isinstance(module, StackedDenoisingAutoencoder):
        return autoencoder.coefs_[0].T, None  # (units, features)
    if isinstance(module, StackEnsemble):  # an ensemble: its first member's
        return module.encoder_weights[0][0].detach().cpu().numpy().T, None
    first = next(
        (
            m
            for m in module.modules()
            if next(m.parameters(recurse=False), None) is not None
        ),
        None,
    )
    if isinstance(first, (nn.Linear, nn.Conv2d)):
        weight = first.weight.detach().cpu().numpy()
        if (
            isinstance(first, nn.Linear)
            and weight.shape[1] == autoencoder.n_features_in_
        ):
            return weight, None
        if isinstance(first, nn.Conv2d) and weight.shape[1] == 1:
            return weight.reshape(len(weight), -1), tuple(weight.shape[2:])
    what = "absent" if first is None else type(first).__name__
    if isinstance(first, (nn.Linear, nn.Conv2d)):
        what += f" with weights of shape {tuple(first.weight.shape)}"
    raise TypeError(
        "FilterDisplay shows the first layer of a module when it is a "
        "torch.nn.Linear on the input or a single-channel torch.nn.Conv2d; "
        f"the first layer of {type(module).__name__} is {what}."
    )


def _check_image_shape(image_shape, n_features):
    image_shape = tuple(int(side) for side in image_shape)
    if len(image_shape) != 2 or math.prod(image_shape) != n_features:
        raise ValueError(
            f"image_shape must be (height, width) with height * width equal to "
            f"the {n_features} input features; got {image_shape}."
        )
    return image_shape


def _grid(images, image_shape, n_cols):
    """Tile (n, h * w) rows into one (rows * (h + 1) - 1, cols * (w + 1) - 1)
    image, row-major, with NaN in the borders and the unused tiles."""
    height, width = image_shape
    n_rows = math.ceil(len(images) / n_cols)
    grid = np.full(
        (n_rows * (height + _BORDER) - _BORDER, n_cols * (width + _BORDER) - _BORDER),
        np.nan,
    )
    for k, image in enumerate(images):
        top, left = (k // n_cols) * (height + _BORDER), (k % n_cols) * (width + _BORDER)
        grid[top : top + height, left : left + width] = image.reshape(image_shape)
    return grid


def _new_axes(plt, ax, grid_shape, inches_per_pixel=0.03):
    if ax is not None:
        return ax
    height, width = grid_shape
    size = (max(2.0, width * inches_per_pixel), max(1.5, height * inches_per_pixel))
    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


class FilterDisplay:
    """First-layer filters of a denoising autoencoder, as images in a grid.

    Each filter (a row of the first encoder's weight) is scaled by its own
    largest magnitude, so that 0 is mid-grey in every tile, as in the figures
    of Vincent et al. (2008, 2010): masking noise should give localized stroke
    and edge detectors where a plain autoencoder gives noise-like filters.

    Create it with :meth:`from_estimator`; the constructor only stores.

    Parameters
    ----------
    filters : ndarray of shape (n_filters, n_features)
        The filters, one per row.
    image_shape : tuple of int (height, width)
        The shape of the input images; ``height * width == n_features``.

    Attributes
    ----------
    image_ : matplotlib.image.AxesImage
        The grid of filters.
    ax_ : matplotlib.axes.Axes
        The Axes it is drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sk_dae import DenoisingAutoencoderTransformer
    >>> from sk_dae.inspection import FilterDisplay
    >>> X, _ = load_digits(return_X_y=True)
    >>> dae = DenoisingAutoencoderTransformer(
    ...     hidden_layer_sizes=(16,), max_epochs=2, random_state=0).fit(X / 16)
    >>> display = FilterDisplay.from_estimator(dae, image_shape=(8, 8))
    >>> display.filters.shape
    (16, 64)
    """

    def __init__(self, *, filters, image_shape):
        self.filters = filters
        self.image_shape = image_shape

    @classmethod
    def from_estimator(
        cls, estimator, *, image_shape, n_filters=100, ax=None, n_cols=None, cmap="gray"
    ):
        """Draw the first ``n_filters`` filters of a fitted estimator.

        Parameters
        ----------
        estimator : DenoisingAutoencoderTransformer or DenoisingAutoencoderImputer
            A fitted estimator (an imputer's filters act on its standardized,
            non-empty columns). With a user's ``module``, its first layer
            with weights (in the order the module registers its
            sub-modules) must be a ``torch.nn.Linear`` on the input or a
            single-channel ``torch.nn.Conv2d``, whose kernels are the tiles.
        image_shape : tuple of int (height, width)
            The shape of the input images (not used for a ``Conv2d``, whose
            tiles have its kernel's shape).
        n_filters : int, default=100
            How many filters to show (the first ones; fewer if the layer is
            narrower).
        ax : matplotlib Axes, default=None
            Where to draw; a new figure if None.
        n_cols : int, default=None
            Tiles per row; by default about the square root of ``n_filters``.
        cmap : str or matplotlib colormap, default="gray"
            The colormap.

        Returns
        -------
        display : FilterDisplay
        """
        autoencoder = _autoencoder(estimator, "FilterDisplay")
        _refuse_tables(autoencoder, "FilterDisplay", "draws the first layer's filters")
        _check_count(n_filters, "n_filters")
        filters, kernel_shape = _first_layer_filters(autoencoder)
        image_shape = kernel_shape or _check_image_shape(image_shape, filters.shape[1])
        display = cls(
            filters=filters[:n_filters].astype(np.float64), image_shape=image_shape
        )
        return display.plot(ax=ax, n_cols=n_cols, cmap=cmap)

    def plot(self, ax=None, *, n_cols=None, cmap="gray"):
        """Draw the filters.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure if None.
        n_cols : int, default=None
            Tiles per row; by default about the square root of the count.
        cmap : str or matplotlib colormap, default="gray"
            The colormap.

        Returns
        -------
        display : FilterDisplay
            This display, with ``image_``, ``ax_`` and ``figure_`` set.
        """
        plt = _pyplot("FilterDisplay.plot")
        if n_cols is None:
            n_cols = math.ceil(math.sqrt(len(self.filters)))
        _check_count(n_cols, "n_cols")
        peaks = np.abs(self.filters).max(axis=1, keepdims=True)
        scaled = self.filters / np.where(peaks > 0, peaks, 1.0)
        grid = _grid(scaled, self.image_shape, n_cols)
        ax = _new_axes(plt, ax, grid.shape)
        colormap = plt.get_cmap(cmap).with_extremes(bad="white")
        self.image_ = ax.imshow(grid, cmap=colormap, vmin=-1, vmax=1)
        ax.set_axis_off()
        self.ax_, self.figure_ = ax, ax.figure
        return self


class ReconstructionDisplay:
    """Clean rows, the same rows corrupted, and their reconstructions, as images.

    Three rows of tiles: the clean inputs; the inputs corrupted with the
    estimator's own noise, or with entries made missing (NaN, drawn in red);
    what the autoencoder rebuilds from the corrupted inputs
    (``inverse_transform(transform(corrupted))``).

    Create it with :meth:`from_estimator`; the constructor only stores.

    Parameters
    ----------
    clean, corrupted, reconstructed : ndarray of shape (n_images, n_features)
        The three rows of images; ``corrupted`` may hold NaN (missing entries).
    image_shape : tuple of int (height, width)
        The shape of the images.
    corruption_label : str
        The label of the middle row.

    Attributes
    ----------
    image_ : matplotlib.image.AxesImage
        The three rows of tiles, as one RGB image.
    ax_ : matplotlib.axes.Axes
        The Axes it is drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sk_dae import DenoisingAutoencoderTransformer
    >>> from sk_dae.inspection import ReconstructionDisplay
    >>> X, _ = load_digits(return_X_y=True)
    >>> dae = DenoisingAutoencoderTransformer(
    ...     hidden_layer_sizes=(32,), max_epochs=2, random_state=0).fit(X / 16)
    >>> display = ReconstructionDisplay.from_estimator(
    ...     dae, X[:8] / 16, image_shape=(8, 8), corruption="missing", random_state=0)
    >>> display.corruption_label
    'missing (30%)'
    """

    def __init__(
        self, *, clean, corrupted, reconstructed, image_shape, corruption_label
    ):
        self.clean = clean
        self.corrupted = corrupted
        self.reconstructed = reconstructed
        self.image_shape = image_shape
        self.corruption_label = corruption_label

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        *,
        image_shape,
        n_images=10,
        corruption="noise",
        level=None,
        random_state=None,
        ax=None,
        cmap="gray",
    ):
        """Corrupt the first ``n_images`` rows of X, reconstruct and draw them.

        Parameters
        ----------
        estimator : DenoisingAutoencoderTransformer
            A fitted transformer.
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Clean rows, on the scale the estimator was trained on.
        image_shape : tuple of int (height, width)
            The shape of the images.
        n_images : int, default=10
            How many rows of X to show (the first ones).
        corruption : {"noise", "missing"}, default="noise"
            ``"noise"``: the estimator's own corruption, as in training (that of
            its first layer). ``"missing"``: a random fraction of the entries
            made missing (NaN), which enter the encoder as its
            ``input_fill_``.
        level : float, default=None
            The noise level, or the fraction of missing entries. By default
            the estimator's ``corruption_level`` (of its first layer), except
            for ``"missing"`` after a corruption whose level is not a fraction
            in (0, 1) (Gaussian noise, or a plain autoencoder): then 0.3.
        random_state : int, RandomState instance or None, default=None
            Seeds a private generator of the corruption.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure if None.
        cmap : str or matplotlib colormap, default="gray"
            The colormap.

        Returns
        -------
        display : ReconstructionDisplay
        """
        dae = _autoencoder(estimator, "ReconstructionDisplay", imputer=False)
        _refuse_tables(
            dae, "ReconstructionDisplay", "draws rows and their reconstructions"
        )
        _check_count(n_images, "n_images")
        if corruption not in ("noise", "missing"):
            raise ValueError(
                f'corruption must be "noise" or "missing"; got {corruption!r}.'
            )
        noise = dae.corruption_  # as fitted, whatever the parameters say now
        level = _display_level(noise, corruption, level)
        # Swap noise draws donors within a batch: corrupt a training batch.
        rows = _first_rows(dae, X, max(n_images, dae.batch_size))
        image_shape = _check_image_shape(image_shape, rows.shape[1])
        (seed,) = draw_seeds(random_state, 1)
        if corruption == "noise":
            corrupted = _with_noise(noise, rows, level, seed, dae.input_fill_)
            corrupted = corrupted[:n_images]
            label = f"{noise.name} ({level:g})"
        else:
            corrupted = _with_holes(rows[:n_images], level, seed)
            label = f"missing ({level:.0%})"
        X = rows[:n_images]
        with warnings.catch_warnings():
            # X's feature names were checked above; these rows are its own.
            warnings.filterwarnings("ignore", "X does not have valid feature names")
            reconstructed = dae.inverse_transform(dae.transform(corrupted))
        display = cls(
            clean=X,
            corrupted=corrupted,
            reconstructed=reconstructed,
            image_shape=image_shape,
            corruption_label=label,
        )
        return display.plot(ax=ax, cmap=cmap)

    def plot(self, ax=None, *, cmap="gray", missing_color="tab:red"):
        """Draw the three rows.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure if None.
        cmap : str or matplotlib colormap, default="gray"
            The colormap; every tile shares the range of the clean rows.
        missing_color : color, default="tab:red"
            The color of the missing entries.

        Returns
        -------
        display : ReconstructionDisplay
            This display, with ``image_``, ``ax_`` and ``figure_`` set.
        """
        plt = _pyplot("ReconstructionDisplay.plot")
        from matplotlib.colors import Normalize, to_rgba

        rows = (self.clean, self.corrupted, self.reconstructed)
        n_cols = len(self.clean)
        grid = _grid(np.concatenate(rows), self.image_shape, n_cols)
        tiles = _grid(np.zeros_like(np.concatenate(rows)), self.image_shape, n_cols)
        border = np.isnan(tiles)
        low, high = np.nanmin(self.clean), np.nanmax(self.clean)
        norm = Normalize(low, high if high > low else low + 1, clip=True)
        rgb = plt.get_cmap(cmap)(norm(np.nan_to_num(grid)))
        rgb[np.isnan(grid) & ~border] = to_rgba(missing_color)
        rgb[border] = (1.0, 1.0, 1.0, 1.0)
        ax = _new_axes(plt, ax, grid.shape, inches_per_pixel=0.05)
        self.image_ = ax.imshow(rgb)
        height = self.image_shape[0] + _BORDER
        ax.set_yticks([height * k + self.image_shape[0] / 2 - 0.5 for k in range(3)])
        ax.set_yticklabels(["clean", self.corruption_label, "reconstructed"])
        ax.set_xticks([])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        self.ax_, self.figure_ = ax, ax.figure
        return self


def _first_rows(dae, X, n):
    """The first ``n`` rows of X, checked as the estimator's transform checks
    them (width, feature names), as a dense float64 array that may hold NaN."""
    X = validate_data(
        dae,
        X,
        reset=False,
        accept_sparse=("csr", "csc"),
        dtype=np.float64,
        ensure_all_finite="allow-nan",
    )
    rows = _safe_indexing(X, np.arange(min(n, X.shape[0])))
    return rows.toarray() if sp.issparse(rows) else np.asarray(rows)


def _display_level(noise, corruption, level):
    """The level to corrupt with: given, or the fitted one of the first layer
    (for ``"missing"`` after a noise whose level is not a fraction in (0, 1),
    Gaussian noise or a plain autoencoder: 0.3)."""
    if level is None:
        own = noise.levels[0]
        own_is_fraction = noise.is_fraction and 0 < own < 1
        level = own if corruption == "noise" or own_is_fraction else 0.3
    kind = noise.kind if corruption == "noise" else "missing"
    return check_levels(level, 1, kind, "greedy", name="level")[0]


def _with_noise(noise, X, level, seed, fill):
    """X corrupted by the fitted first-layer noise, as the network sees it in
    training (in float32): an input that masking drops takes the ``fill``
    (``input_fill_``); the entries the noise leaves alone and the missing ones
    are X's own."""
    x, observed = split_missing(torch.as_tensor(X, dtype=torch.float32))
    generator = torch.Generator().manual_seed(seed)
    corrupt = noise.function(0, "cpu")
    x_tilde, touched = corrupt(x, level, generator, observed=observed)
    x_tilde = x_tilde.numpy().astype(np.float64)
    touched = np.ones(X.shape, bool) if touched is None else touched.numpy()
    if noise.drops:
        x_tilde = np.where(touched, fill, x_tilde)
    return np.where(touched & ~np.isnan(X), x_tilde, X)


def _with_holes(X, fraction, seed):
    holes = np.random.default_rng(seed).random(X.shape) < fraction
    return np.where(holes, np.nan, X)


class LossCurveDisplay:
    """The training (and validation) denoising loss of each epoch.

    For a greedy stack, dotted vertical lines separate the layers: each layer
    trains on its own loss, the reconstruction of the codes below it.

    Create it with :meth:`from_estimator`; the constructor only stores. To
    compare models, draw each on the same Axes: ``LossCurveDisplay.
    from_estimator(other, ax=display.ax_, name="other")``.

    Parameters
    ----------
    loss_curve : list of float
        The mean training loss of each epoch.
    validation_loss : list of float or None, default=None
        The validation loss of each epoch (with early stopping), NaN for an
        epoch without validation.
    layers : list of int or None, default=None
        The layer each epoch trained, for a greedy stack.
    name : str or None, default=None
        The legend label of the training curve.

    Attributes
    ----------
    line_ : matplotlib.lines.Line2D
        The training curve.
    validation_line_ : matplotlib.lines.Line2D or None
        The validation curve.
    ax_ : matplotlib.axes.Axes
        The Axes it is drawn on.
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sk_dae import DenoisingAutoencoderTransformer
    >>> from sk_dae.inspection import LossCurveDisplay
    >>> X, _ = load_digits(return_X_y=True)
    >>> dae = DenoisingAutoencoderTransformer(
    ...     hidden_layer_sizes=(32, 16), max_epochs=3, random_state=0).fit(X / 16)
    >>> display = LossCurveDisplay.from_estimator(dae, name="greedy")
    >>> display.layers
    [0, 0, 0, 1, 1, 1]
    """

    def __init__(self, *, loss_curve, validation_loss=None, layers=None, name=None):
        self.loss_curve = loss_curve
        self.validation_loss = validation_loss
        self.layers = layers
        self.name = name

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, log_scale=True):
        """Draw the loss curves of a fitted estimator.

        Parameters
        ----------
        estimator : DenoisingAutoencoderTransformer or DenoisingAutoencoderImputer
            A fitted estimator.
        ax : matplotlib Axes, default=None
            Where to draw; a new figure if None.
        name : str, default=None
            The legend label; by default the estimator's class name.
        log_scale : bool, default=True
            A logarithmic loss axis.

        Returns
        -------
        display : LossCurveDisplay
        """
        dae = _autoencoder(estimator, "LossCurveDisplay")
        done = [row for row in dae.net_.history if "train_loss" in row]
        validation = None
        if any("valid_loss" in row for row in done):
            # NaN for the epochs without validation (a warm start that turned
            # early stopping on): they leave a gap in the curve.
            validation = [float(row.get("valid_loss", np.nan)) for row in done]
        layers = [row["layer"] for row in done]
        # A greedy stack records the layer of each epoch; a joint one None.
        greedy = None not in layers and len(dae.coefs_) > 2
        layers = [int(layer) for layer in layers] if greedy else None
        display = cls(
            loss_curve=list(dae.loss_curve_),
            validation_loss=validation,
            layers=layers,
            name=name or type(estimator).__name__,
        )
        return display.plot(ax=ax, log_scale=log_scale)

    def plot(self, ax=None, *, name=None, log_scale=True):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; a new figure if None.
        name : str, default=None
            The legend label; by default ``self.name``.
        log_scale : bool, default=True
            A logarithmic loss axis.

        Returns
        -------
        display : LossCurveDisplay
            This display, with ``line_``, ``validation_line_``, ``ax_`` and
            ``figure_`` set.
        """
        plt = _pyplot("LossCurveDisplay.plot")
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5), layout="constrained")
        name = name or self.name
        epochs = np.arange(1, len(self.loss_curve) + 1)
        (self.line_,) = ax.plot(epochs, self.loss_curve, label=name)
        self.validation_line_ = None
        if self.validation_loss is not None:
            (self.validation_line_,) = ax.plot(
                epochs,
                self.validation_loss,
                linestyle="--",
                color=self.line_.get_color(),
                label=f"{name} (validation)" if name else "validation",
            )
        if self.layers is not None:
            starts = np.flatnonzero(np.diff(self.layers)) + 1.5
            for start in starts:
                ax.axvline(start, color=self.line_.get_color(), linestyle=":", lw=0.8)
        ax.set_xlabel("epoch (layer by layer)" if self.layers is not None else "epoch")
        ax.set_ylabel("denoising loss")
        if log_scale:
            ax.set_yscale("log")
        if name:
            ax.legend(fontsize=8)
        self.ax_, self.figure_ = ax, ax.figure
        return self
