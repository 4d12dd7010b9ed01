"""DenoisingAutoencoderImputer: fill missing entries with a denoising
autoencoder's reconstruction, the scikit-learn imputer way."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.impute import MissingIndicator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)

from ._estimator import DenoisingAutoencoderTransformer
from ._state import unchanged_on_error
from ._threads import keeps_callers_threads

# The autoencoder's parameters, under the transformer's names; the imputer
# passes them through (and resolves its "auto" defaults first).
_AUTOENCODER_PARAMS = (
    "hidden_layer_sizes",
    "corruption",
    "corruption_level",
    "emphasis",
    "stacking",
    "activation",
    "tied_weights",
    "max_epochs",
    "batch_size",
    "lr",
    "device",
    "random_state",
    "early_stopping",
    "validation_fraction",
    "n_iter_no_change",
    "tol",
    "callbacks",
    "verbose",
)

# early_stopping="auto" holds out rows for validation from this many rows on (as
# HistGradientBoosting's does): below it, a tenth of the rows judges epochs too
# noisily. On digits (1,797 rows) stopping early cost 8% of RMSE at 30% missing
# (0.673 against 0.623 after all 300 epochs; benchmarks/impute.py).
_AUTO_EARLY_STOPPING_ROWS = 10_000


def _is_nan(value):
    return bool(isinstance(value, Real) and np.isnan(value))


def _is_auto(value):
    # Not value == "auto": an array of layer sizes would compare elementwise.
    return isinstance(value, str) and value == "auto"


def _auto_batch_size(n_samples):
    """64 rows, or a 200th of the rows up to 512: about 200 steps per epoch on
    large data. On benchmarks/impute.py's synthetic table (20 columns, 30%
    missing, 2-core CPU), at 10^5 rows batch 512 took 70 s where 64 took 168 s,
    at the same RMSE (0.316); at 10^4 rows batch 256 lost 7% of RMSE to 64."""
    return min(max(64, n_samples // 200), 512)


def _auto_layers(n_features):
    """The default hidden layers: three, overcomplete as in MIDA (and mDAE's
    wide layer), at most 1,024 wide."""
    return (min(max(2 * n_features, 64), 1024),) * 3


class DenoisingAutoencoderImputer(TransformerMixin, BaseEstimator):
    """Impute missing values with a denoising autoencoder's reconstruction.

    The columns are standardized on their observed values; a
    :class:`DenoisingAutoencoderTransformer` then learns to rebuild rows from a
    copy with further entries masked, its loss counting observed entries only
    (a missing entry enters the network as 0, the column's mean). ``transform``
    reconstructs each row that has a hole and fills the holes with the
    reconstruction, back in the column's units. Observed entries come back
    unchanged, bit for bit. Fitted once, it imputes new rows (it is inductive).

    Parameters
    ----------
    missing_values : float, default=np.nan
        The placeholder of a missing value. With a number other than NaN, X
        must not hold NaN.

    add_indicator : bool, default=False
        If True, append the columns of a :class:`~sklearn.impute.MissingIndicator`
        (fitted on the training X) to the output.

    keep_empty_features : bool, default=False
        Columns with no observed value at fit are dropped from the output; if
        True they are kept, filled with 0.

    hidden_layer_sizes : "auto", int or tuple of int, default="auto"
        Hidden widths of the autoencoder. ``"auto"``: three layers of
        ``max(2 * n_features, 64)`` units (at most 1,024), trained jointly.

    corruption, corruption_level, emphasis, stacking, activation, tied_weights, \
max_epochs, lr, device, random_state, validation_fraction, \
n_iter_no_change, tol, callbacks, verbose
        As in :class:`DenoisingAutoencoderTransformer` (defaults: masking noise
        at 0.3, joint stacking, ReLU, 300 epochs).

    batch_size : "auto" or int, default="auto"
        Rows per mini-batch; ``"auto"``: 64, or a 200th of the rows up to 512
        on larger data (about 200 steps per epoch).

    early_stopping : "auto" or bool, default="auto"
        As in :class:`DenoisingAutoencoderTransformer`; ``"auto"`` stops early
        when X has at least 10,000 rows.

    Attributes
    ----------
    autoencoder_ : DenoisingAutoencoderTransformer
        The fitted autoencoder, on the standardized columns of
        ``observed_features_``.

    observed_features_ : ndarray of bool of shape (n_features_in_,)
        The columns with an observed value at fit: the ones the autoencoder
        models and fills. The others are dropped from the output, or kept as
        zeros with ``keep_empty_features``.

    mean_, scale_ : ndarray of shape (n_features_in_,)
        Mean and standard deviation of each column's observed values (0 for an
        empty column). A column whose observed values are all equal imputes
        that value.

    indicator_ : MissingIndicator or None
        The indicator of ``add_indicator``.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string feature names.

    See Also
    --------
    sklearn.impute.SimpleImputer : Column statistics.
    sklearn.impute.KNNImputer : Means of the nearest neighbours.
    sklearn.impute.IterativeImputer : Each column regressed on the others, in turns.

    References
    ----------
    L. Gondara and K. Wang, "MIDA: Multiple Imputation Using Denoising
    Autoencoders", PAKDD 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_dae import DenoisingAutoencoderImputer
    >>> X = np.array([[1.0, 2.0], [np.nan, 4.0], [5.0, np.nan], [7.0, 8.0]])
    >>> imputer = DenoisingAutoencoderImputer(max_epochs=5, random_state=0)
    >>> filled = imputer.fit_transform(X)
    >>> filled.shape, bool(np.isnan(filled).any())
    ((4, 2), False)
    >>> filled[0].tolist()  # observed entries are kept as they are
    [1.0, 2.0]
    """

    _parameter_constraints: dict = {
        **{
            name: DenoisingAutoencoderTransformer._parameter_constraints[name]
            for name in _AUTOENCODER_PARAMS
        },
        "missing_values": [Real],
        "add_indicator": ["boolean"],
        "keep_empty_features": ["boolean"],
        "hidden_layer_sizes": [
            StrOptions({"auto"}),
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "early_stopping": [StrOptions({"auto"}), "boolean"],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
    }

    def __init__(
        self,
        *,
        missing_values=np.nan,
        add_indicator=False,
        keep_empty_features=False,
        hidden_layer_sizes="auto",
        corruption="mask",
        corruption_level=0.3,
        emphasis=None,
        stacking="joint",
        activation="relu",
        tied_weights=False,
        max_epochs=300,
        batch_size="auto",
        lr=1e-3,
        device="auto",
        random_state=None,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=10,
        tol=1e-4,
        callbacks=None,
        verbose=0,
    ):
        self.missing_values = missing_values
        self.add_indicator = add_indicator
        self.keep_empty_features = keep_empty_features
        self.hidden_layer_sizes = hidden_layer_sizes
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.emphasis = emphasis
        self.stacking = stacking
        self.activation = activation
        self.tied_weights = tied_weights
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.random_state = random_state
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.callbacks = callbacks
        self.verbose = verbose

    def _validate_input(self, X, reset):
        """X as a float array (a copy) with NaN wherever a value is missing."""
        nan_missing = _is_nan(self.missing_values)
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=(np.float64, np.float32),
            ensure_all_finite="allow-nan" if nan_missing else True,
            copy=True,
        )
        if not nan_missing:
            X[X == self.missing_values] = np.nan
        return X

    @keeps_callers_threads
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Standardize the columns and train the autoencoder on X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values.
        y : None
            Ignored; present for Pipeline compatibility.

        Returns
        -------
        self : object
            The fitted imputer.
        """
        with unchanged_on_error(self):
            X = self._validate_input(X, reset=True)
            self.observed_features_ = ~np.isnan(X).all(axis=0)
            if not self.observed_features_.any():
                raise ValueError(
                    "Every column of X is entirely missing: there is nothing to "
                    "impute from. SimpleImputer(keep_empty_features=True) fills "
                    "such data."
                )
            self.mean_, self.scale_ = _observed_moments(X, self.observed_features_)
            self.indicator_ = None
            if self.add_indicator:
                self.indicator_ = MissingIndicator(error_on_new=False).fit(X)
            params = self._autoencoder_params(X)
            autoencoder = DenoisingAutoencoderTransformer(**params)
            self.autoencoder_ = autoencoder.fit(self._standardized(X))
        return self

    def _autoencoder_params(self, X):
        params = {name: getattr(self, name) for name in _AUTOENCODER_PARAMS}
        if _is_auto(params["hidden_layer_sizes"]):
            n_kept = int(self.observed_features_.sum())
            params["hidden_layer_sizes"] = _auto_layers(n_kept)
        if _is_auto(params["batch_size"]):
            params["batch_size"] = _auto_batch_size(len(X))
        if _is_auto(params["early_stopping"]):
            params["early_stopping"] = len(X) >= _AUTO_EARLY_STOPPING_ROWS
        return params

    def _standardized(self, X):
        kept = self.observed_features_
        scale = self.scale_[kept]
        return (X[:, kept] - self.mean_[kept]) / np.where(scale > 0, scale, 1.0)

    @keeps_callers_threads
    def transform(self, X):
        """Fill the missing entries of X with the autoencoder's reconstruction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features_out)
            X with its holes filled, in X's float dtype, without the columns
            that were empty at fit (unless ``keep_empty_features``), followed
            by the indicator columns with ``add_indicator``.
        """
        check_is_fitted(self)
        X = self._validate_input(X, reset=False)
        indicator = None
        if self.indicator_ is not None:  # before the holes are filled
            indicator = self.indicator_.transform(X).astype(X.dtype)
        missing = np.isnan(X)
        rows = np.flatnonzero(missing[:, self.observed_features_].any(axis=1))
        if rows.size:
            kept = self.observed_features_
            codes = self.autoencoder_.transform(self._standardized(X[rows]))
            # The standardized rows are float64 (so are the moments): the fills
            # are cast to X's float dtype as they are written in.
            recon = self.autoencoder_.inverse_transform(codes)
            filled = recon * self.scale_[kept] + self.mean_[kept]
            part = X[np.ix_(rows, np.flatnonzero(kept))]
            holes = np.isnan(part)
            part[holes] = filled[holes]
            X[np.ix_(rows, np.flatnonzero(kept))] = part
        if self.keep_empty_features:
            X[:, ~self.observed_features_] = 0.0
        else:
            X = X[:, self.observed_features_]
        if indicator is not None:
            X = np.hstack([X, indicator])
        return X

    def get_feature_names_out(self, input_features=None):
        """Output feature names: the kept input names, then the indicator's.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; by default ``feature_names_in_``, or
            ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        kept = names if self.keep_empty_features else names[self.observed_features_]
        if self.indicator_ is None:
            return kept
        indicator = self.indicator_.get_feature_names_out(names)
        return np.concatenate([kept, indicator])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = _is_nan(self.missing_values)
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _observed_moments(X, observed_columns):
    """Mean and standard deviation of each column's observed values; (0, 0)
    for an empty column."""
    mean, scale = np.zeros(X.shape[1]), np.zeros(X.shape[1])
    kept = X[:, observed_columns].astype(np.float64)
    mean[observed_columns] = np.nanmean(kept, axis=0)
    scale[observed_columns] = np.nanstd(kept, axis=0)
    return mean, scale
