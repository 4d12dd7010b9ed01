"""DenoisingAutoencoderImputer: fill missing entries with a denoising
autoencoder's reconstruction, the scikit-learn imputer way."""

import inspect
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.impute import MissingIndicator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
    validate_data,
)
from skorch.callbacks import LRScheduler
from torch.optim.lr_scheduler import CosineAnnealingLR

from ._estimator import DenoisingAutoencoderTransformer
from ._missing import hold_out_entries
from ._noise import IMAGE_NOISES
from ._random import draw_seeds
from ._state import unchanged_on_error
from ._table import (
    FROM_DTYPE,
    TableColumns,
    categorical_mask,
    check_finite_table,
    check_still_numeric,
    column_kinds,
    make_table,
    missing_of,
    table_from_state,
    table_state,
)
from ._threads import keeps_callers_threads
from .modules import StackEnsemble

# The imputer's own settings of the autoencoder: the ones whose defaults it
# chooses for imputation (they differ from the transformer's), and the seed.
# A template leaves them at the transformer's defaults; the imputer sets them.
_OWN_SETTINGS = (
    "hidden_layer_sizes",
    "activation",
    "stacking",
    "max_epochs",
    "batch_size",
    "lr",
    "random_state",
)

# The template's parameters that imputation fixes, with the reason a
# template may not set them.
_FIXED_SETTINGS = {
    "categorical_features": "the imputer reads the table's columns: set it on "
    "the imputer",
    "max_categories": "the imputer encodes the table's columns: set it on the imputer",
    "min_frequency": "the imputer encodes the table's columns: set it on the imputer",
    "validation": "the imputer always validates on held-out entries",
    "image_shape": "a table's rows have no image shape",
    "loss": "the imputer trains on standardized columns, which 'bce' (for "
    "values in [0, 1]) cannot reconstruct",
    "warm_start": "the imputer trains its autoencoders afresh at every fit",
}


def _is_nan(value):
    return bool(isinstance(value, Real) and np.isnan(value))


def _is_auto(value):
    # Not value == "auto": an array of layer sizes would compare elementwise.
    return isinstance(value, str) and value == "auto"


def _differs(value, default):
    """Whether a parameter's value is not its default (an "auto" default is
    matched by _is_auto: an array of layer sizes would compare elementwise)."""
    return not _is_auto(value) if _is_auto(default) else value != default


def _transformer_defaults():
    """The defaults of :class:`DenoisingAutoencoderTransformer`'s parameters."""
    signature = inspect.signature(DenoisingAutoencoderTransformer.__init__)
    return {
        name: p.default
        for name, p in signature.parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _same(value, default):
    """Whether ``value`` is ``default``: of its type and equal (a list or an
    array of layer sizes is not the default tuple)."""
    if value is default:
        return True
    try:
        return type(value) is type(default) and bool(value == default)
    except (TypeError, ValueError):  # an array compares elementwise
        return False


def _check_template(template):
    """Refuse a template that sets what the imputer sets: one of its own
    settings, one that imputation fixes, or a noise for images."""
    defaults, params = _transformer_defaults(), template.get_params(deep=False)
    own = [n for n in _OWN_SETTINGS if not _same(params[n], defaults[n])]
    if own:
        given = ", ".join(f"{name}={params[name]!r}" for name in own)
        raise ValueError(
            f"The autoencoder sets {given}, which the imputer sets for "
            f"imputation. Pass {', '.join(own)} to DenoisingAutoencoderImputer "
            "instead, and leave the autoencoder's at the default."
        )
    for name, why in _FIXED_SETTINGS.items():
        if not _same(params[name], defaults[name]):
            raise ValueError(
                f"The autoencoder sets {name}={params[name]!r}, but {why}. "
                "Leave the autoencoder's at the default."
            )
    if isinstance(template.corruption, str) and template.corruption in IMAGE_NOISES:
        raise ValueError(
            f"The autoencoder's corruption={template.corruption!r} masks blocks "
            "of an image, and a table's rows are not images. Use 'mask', "
            "'gaussian', 'salt_and_pepper' or 'swap'."
        )


def _auto_batch_size(n_samples):
    """64 rows, or a 40th of the rows up to 512: batches grow from 2,560 rows
    on. On benchmarks/impute.py's synthetic table at 10^4 rows (2-core CPU),
    67 epochs in batches of 250 took 4.2 s to an RMSE of 0.384, and 41 epochs
    in batches of 64 took 6.0 s to 0.368."""
    return min(max(64, n_samples // 40), 512)


def _auto_epochs(n_samples):
    """150 epochs at 1,000 rows, more for fewer rows (at most 300) and fewer for
    more, as ``150 * (1000 / n) ** 0.35``: about 290 at 150 rows, 67 at 10^4,
    30 at 10^5; a larger table gives more steps per epoch. With the cosine
    schedule, against the previous 300 epochs at a constant rate, at 30%
    missing (benchmarks/impute.py): a lower RMSE on four of the benchmark's five
    tables and 0.6% higher on digits, in 97% (150 rows) down to 41% (1,797
    rows) of their steps; on the synthetic table 0.395 against 0.416 at 10^3
    rows, but 0.384 against 0.347 at 10^4 and 0.339 against 0.319 at 10^5."""
    return max(1, min(300, round(150 * (1000 / n_samples) ** 0.35)))


def _auto_lr(hidden_layer_sizes):
    """5e-3 up to 128 units a layer, 1e-3 above: a wider layer sums more
    inputs, so the same step moves its outputs further. Two points measured
    (benchmarks/impute.py, 30% missing): on the five tables (64 to 128 units)
    5e-3 beat 3e-3 and 1e-2; on Fashion-MNIST (1,024 units) 1e-3 gave an RMSE
    of 0.618 where 5e-3 gave 0.662."""
    widest = max(np.atleast_1d(hidden_layer_sizes))
    return 5e-3 if widest <= 128 else 1e-3


# The imputer's parameters that shape the built-in stack, with their defaults:
# with the template's own module they stay so (and the transformer gets its
# own defaults).
_STACK_DEFAULTS = {
    "hidden_layer_sizes": "auto",
    "activation": "relu",
}


def _auto_layers(n_features):
    """The default hidden layers: three, overcomplete as in MIDA (and mDAE's
    wide layer), at most 1,024 wide."""
    return (min(max(2 * n_features, 64), 1024),) * 3


class DenoisingAutoencoderImputer(TransformerMixin, BaseEstimator):
    """Impute missing values with a denoising autoencoder's reconstruction.

    The columns are standardized on their observed values; a
    :class:`DenoisingAutoencoderTransformer` then learns to rebuild rows from a
    copy with further entries masked, its loss counting observed entries only
    (a missing entry enters the network as ``input_fill`` says; by default 0,
    the column's mean). ``transform`` reconstructs each row that has a hole and
    fills the holes with the reconstruction, back in the column's units.
    Observed entries come back unchanged, bit for bit. Fitted once, it imputes
    new rows (it is inductive).

    With ``sample_posterior=True`` it draws imputations instead (multiple
    imputation): each hole gets its reconstruction plus Gaussian noise of the
    column's error of imputation, which ``fit`` measures on observed entries it
    holds out (``residual_scale_``). ``sample`` returns several draws at once.

    Parameters
    ----------
    autoencoder : DenoisingAutoencoderTransformer or None, default=None
        The autoencoder to train, as a template, as ``IterativeImputer``
        takes ``estimator``: ``fit`` clones it (the template itself is never
        fitted) and completes the clone with the imputer's settings. None is
        ``DenoisingAutoencoderTransformer()``, so completed.

        - The template brings everything the imputer has no parameter for:
          the noise (``corruption``, ``corruption_level``), ``input_fill``,
          ``emphasis``, ``consistency``, ``tied_weights``, a ``module`` of
          one's own and its ``module__<name>`` parameters, ``device``,
          ``early_stopping`` (on held-out entries) with its
          ``validation_fraction``, ``n_iter_no_change`` and ``tol``,
          ``callbacks`` and ``verbose``.
        - The imputer sets the settings it has as parameters
          (``hidden_layer_sizes``, ``activation``, ``stacking``,
          ``max_epochs``, ``batch_size``, ``lr``, ``random_state``), and those
          that imputation fixes (the table's columns, validation on held-out
          entries).

        Each setting has one place: a template that sets one of the
        imputer's (gives it a value other than the transformer's default),
        or a noise for images (``"block_mask"``), is refused at fit, with
        the parameter to use instead. A grid search reaches the template's
        settings as ``autoencoder__<name>``.

    missing_values : float, default=np.nan
        The placeholder of a missing value. With a number other than NaN, X
        must not hold NaN.

    add_indicator : bool, default=False
        If True, append the columns of a :class:`~sklearn.impute.MissingIndicator`
        (fitted on the training X) to the output.

    keep_empty_features : bool, default=False
        Columns with no observed value at fit are dropped from the output; if
        True they are kept, filled with 0 (a categorical one stays missing).

    categorical_features : "from_dtype", array-like of int, str or bool, \
            or None, default="from_dtype"
        Which columns are categorical, as in
        :class:`DenoisingAutoencoderTransformer` (by default a DataFrame's
        category, string, object and bool columns, and an object array's
        columns that hold anything but numbers). A categorical column is
        modelled as one softmax over its categories: its holes get the most
        probable category (with ``sample_posterior``, one drawn from those
        probabilities), and it comes back with its own values and dtype.
        ``missing_values`` applies to the numeric columns; a category is
        missing when it is NaN, None or ``pd.NA``.

    max_categories : int or None, default=None
        At most this many levels per categorical column, the rarest grouped,
        as in :class:`~sklearn.preprocessing.OneHotEncoder`; a hole filled
        with the group gets its most frequent category.

    min_frequency : int, float or None, default=None
        Categories rarer than this are grouped into one level, as in
        :class:`~sklearn.preprocessing.OneHotEncoder`.

    hidden_layer_sizes : "auto", int or tuple of int, default="auto"
        Hidden widths of the autoencoder. ``"auto"``: three layers of
        ``max(2 * n_features, 64)`` units (at most 1,024).

    activation : {"relu", "sigmoid", "tanh"}, default="relu"
        Non-linearity of the encoders.

    stacking : {"joint", "greedy"}, default="joint"
        How the layers are trained: end to end (``"joint"``) or one at a time
        (``"greedy"``), as in :class:`DenoisingAutoencoderTransformer`.

    max_epochs : "auto" or int, default="auto"
        Epochs of training. ``"auto"``: ``150 * (1000 / n_samples) ** 0.35``,
        at most 300: about 290 at 150 rows, 150 at 1,000, 67 at 10,000 and 30
        at 100,000 rows (a larger table takes more steps per epoch).

    batch_size : "auto" or int, default="auto"
        Rows per mini-batch; ``"auto"``: 64, or a 40th of the rows up to 512.

    lr : "auto" or float, default="auto"
        Adam's initial learning rate. ``"auto"``: 5e-3 for hidden layers of at
        most 128 units, 1e-3 for wider ones (measured on the benchmark's five
        tables, 64 to 128 units, and on Fashion-MNIST's 784 columns, 1,024
        units, where 5e-3 lost 7% of RMSE at 30% missing), and 1e-3 for the
        ``autoencoder``'s own ``module``.

    lr_schedule : {"cosine", "constant"}, default="cosine"
        ``"cosine"`` anneals the learning rate from ``lr`` towards 0 over the
        ``max_epochs`` epochs (``torch.optim.lr_scheduler.CosineAnnealingLR``,
        through a skorch ``LRScheduler`` callback added after the
        ``autoencoder``'s ``callbacks``); ``"constant"`` keeps ``lr``.

    random_state : int, RandomState instance or None, default=None
        Seeds the autoencoders, the held-out entries and the draws of
        ``sample_posterior``; private generators only, as in
        :class:`DenoisingAutoencoderTransformer`.

    sample_posterior : bool, default=False
        If True, ``fit`` holds out ``validation_fraction`` of the observed
        entries and measures each column's error of imputation on them
        (``residual_scale_``); ``transform`` then returns a draw rather than
        the reconstruction: each hole gets its reconstruction plus Gaussian
        noise of its column's ``residual_scale_``, and a categorical hole a
        category drawn from its softmax at the column's ``temperature_``
        (fitted on the held-out entries). The draw is seeded by
        ``random_state`` (the same at every call; :meth:`sample` draws
        several). The held-out entries are lost to training, so the
        reconstructions are somewhat less accurate than without.

    validation_fraction : float, default=0.1
        Share of the observed entries that ``sample_posterior`` holds out;
        the ``autoencoder``'s own ``validation_fraction`` is the share that
        its ``early_stopping`` holds out.

    n_estimators : int, default=1
        Autoencoders in the ensemble; the holes get the mean of their
        reconstructions. Members of the built-in stack trained end to end
        (the default) train together, as one
        :class:`~sk_dae.modules.StackEnsemble`: one pass over the data and
        one optimizer, each member with its own initial weights and its own
        noise on its own copy of the columns. On the benchmark's five tables
        at 30% missing (``benchmarks/impute.py``, AMD EPYC, 2 cores, one run
        each), 5 members took 1.8 to 2.8 times one member's time, and took
        the geometric mean of the RMSE over IterativeImputer's from 0.924 to
        0.884 (3 members: 0.886); a fit on a 1,000-row table of 13 columns
        took 1.96 to 2.04 times (``benchmarks/ensemble.py``). A greedy stack's
        members, and those of the ``autoencoder``'s own ``module``, train one
        after the other, each from its own seed (drawn from
        ``random_state``), for ``n_estimators`` times the time.

    Attributes
    ----------
    autoencoders_ : list of DenoisingAutoencoderTransformer
        The fitted autoencoders, on the standardized columns of
        ``observed_features_``: ``n_estimators`` of them, or one whose module
        is a :class:`~sk_dae.modules.StackEnsemble` of ``n_estimators``
        members where they trained together (its input is those columns
        repeated once per member).

    autoencoder_ : DenoisingAutoencoderTransformer
        The first of ``autoencoders_`` (the only one by default).

    observed_features_ : ndarray of bool of shape (n_features,)
        The columns with an observed value at fit: the ones the autoencoder
        models and fills. The others are dropped from the output, or kept as
        zeros with ``keep_empty_features``.

    mean_, scale_ : ndarray of shape (n_features,)
        Mean and standard deviation of each column's observed values (0 for an
        empty column, NaN for a categorical one). A column whose observed
        values are all equal imputes that value.

    is_categorical_ : ndarray of shape (n_features,), dtype=bool
        Which columns were treated as categorical.

    categories_ : list of ndarray
        For each categorical column, in column order, the categories seen at
        fit, sorted.

    indicator_ : MissingIndicator or None
        The indicator of ``add_indicator``.

    residual_scale_ : ndarray of shape (n_features,) or None
        With ``sample_posterior``: each column's root mean squared error of
        imputation on the held-out entries, in the column's units (the
        standard deviation of the noise of a draw; the error over all
        held-out entries for a column with fewer than 5 of them, 0 for an
        empty column, NaN for a categorical one, whose draws come from its
        softmax). None otherwise.

    temperature_ : ndarray of shape (n_features,) or None
        With ``sample_posterior``: each categorical column's softmax
        temperature, fitted on its held-out entries (the most likely of 41
        between 0.25 and 4; the one over all categorical columns where a
        column has fewer than 30 held-out entries), which the draws of its
        categories use; above 1 makes them less sure. NaN for a numeric
        column; None otherwise.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features,)
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

    Multiple imputation: five draws of the holes, seeded.

    >>> drawing = DenoisingAutoencoderImputer(
    ...     sample_posterior=True, max_epochs=5, random_state=0
    ... ).fit(X)
    >>> drawing.sample(X, n_draws=5, random_state=0).shape
    (5, 4, 2)
    """

    _parameter_constraints: dict = {
        "autoencoder": [DenoisingAutoencoderTransformer, None],
        "missing_values": [Real],
        **{
            name: DenoisingAutoencoderTransformer._parameter_constraints[name]
            for name in (
                "categorical_features",
                "max_categories",
                "min_frequency",
                "activation",
                "stacking",
                "random_state",
                "validation_fraction",
            )
        },
        "add_indicator": ["boolean"],
        "keep_empty_features": ["boolean"],
        "hidden_layer_sizes": [
            StrOptions({"auto"}),
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_epochs": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "lr": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither")],
        "lr_schedule": [StrOptions({"cosine", "constant"})],
        "sample_posterior": ["boolean"],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        *,
        autoencoder=None,
        missing_values=np.nan,
        add_indicator=False,
        keep_empty_features=False,
        categorical_features=FROM_DTYPE,
        max_categories=None,
        min_frequency=None,
        hidden_layer_sizes="auto",
        activation="relu",
        stacking="joint",
        max_epochs="auto",
        batch_size="auto",
        lr="auto",
        lr_schedule="cosine",
        random_state=None,
        sample_posterior=False,
        validation_fraction=0.1,
        n_estimators=1,
    ):
        self.autoencoder = autoencoder
        self.missing_values = missing_values
        self.add_indicator = add_indicator
        self.keep_empty_features = keep_empty_features
        self.categorical_features = categorical_features
        self.max_categories = max_categories
        self.min_frequency = min_frequency
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.stacking = stacking
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.random_state = random_state
        self.sample_posterior = sample_posterior
        self.validation_fraction = validation_fraction
        self.n_estimators = n_estimators

    def _validate_input(self, X, reset):
        """``(X, frame)``: X as a float array (a copy) with NaN wherever a
        value is missing, and None; a table with categorical columns has them
        as their level codes, and comes with the table read
        (``_read_table``)."""
        if reset:
            self._columns = self._table_columns(X)
        if self._columns is not None:
            return self._read_table(X, reset)
        nan_missing = _is_nan(self.missing_values)
        if not reset:
            check_still_numeric(X)
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
        return X, None

    def _table_columns(self, X):
        """The :class:`~sk_dae._table.TableColumns` of a table with
        categorical columns, fitted; None when every column is numeric."""
        mask = categorical_mask(X, self.categorical_features)
        if mask is None:
            return None
        return TableColumns(
            mask, max_categories=self.max_categories, min_frequency=self.min_frequency
        ).fit(X)

    def _read_table(self, X, reset):
        """A table's columns as floats, the categorical ones as level codes
        (NaN where missing, or unseen at fit); the table is kept for the
        output, which returns its observed entries as they are: ``(M,
        frame)``."""
        validate_data(self, X, reset=reset, skip_check_array=True)
        M, frame = self._columns.code_matrix(X, warn_unknown=not reset)
        check_finite_table(M)
        if not _is_nan(self.missing_values):
            numeric = M[:, self._columns.numeric_columns]
            numeric[numeric == self.missing_values] = np.nan
            M[:, self._columns.numeric_columns] = numeric
        return M, frame

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
            X, frame = self._validate_input(X, reset=True)
            self.is_categorical_, self.categories_ = column_kinds(
                self._columns, self.n_features_in_
            )
            self._check_params(X)
            self.observed_features_ = ~np.isnan(X).all(axis=0)
            if not self.observed_features_.any():
                raise ValueError(
                    "Every column of X is entirely missing: there is nothing to "
                    "impute from. SimpleImputer(keep_empty_features=True) fills "
                    "such data."
                )
            self.mean_, self.scale_ = _observed_moments(
                X, self.observed_features_ & ~self.is_categorical_
            )
            self.mean_[self.is_categorical_] = np.nan
            self.scale_[self.is_categorical_] = np.nan
            self.indicator_ = None
            if self.add_indicator:
                self.indicator_ = MissingIndicator(error_on_new=False).fit(
                    self._missing_marks(X, frame)
                )
            self._draw_seed, split_seed = draw_seeds(self.random_state, 2)
            params = self._autoencoder_params(X)
            X_train, held_out = self._standardized(X), None
            if self.sample_posterior:
                X_train, held_out = self._hold_out(X_train, split_seed)
            autoencoders = self._fit_autoencoders(params, X_train)
            self.residual_scale_ = self.temperature_ = None
            if held_out is not None:
                recon, groups = self._mean_reconstruction(X_train, autoencoders)
                self.residual_scale_ = self._residual_scale(recon, held_out)
                self.temperature_ = self._temperatures(groups, held_out)
            self.autoencoders_ = autoencoders
            self.autoencoder_ = autoencoders[0]
        return self

    def _template(self):
        """The autoencoder that the imputer completes: ``autoencoder``, or
        the transformer with its defaults."""
        if self.autoencoder is None:
            return DenoisingAutoencoderTransformer()
        return self.autoencoder

    def _fit_autoencoders(self, params, X_train):
        """The fitted autoencoders: one network of ``n_estimators`` members
        where they can share one (:func:`_ensemble_params`), else one each,
        from its own seed."""
        make = type(self._template())
        if self._trains_together():
            m = self.n_estimators
            return [make(**_ensemble_params(params, m)).fit(np.tile(X_train, (1, m)))]
        states = [self.random_state]
        if self.n_estimators > 1:
            states = draw_seeds(self.random_state, self.n_estimators)
        return [make(**{**params, "random_state": s}).fit(X_train) for s in states]

    def _trains_together(self):
        """Whether the members train as one :class:`~sk_dae.modules.StackEnsemble`:
        members of the built-in stack, trained end to end (a greedy stack's
        stages and a user's module train member by member)."""
        joint = self.stacking == "joint" or self._n_layers() == 1
        return self.n_estimators > 1 and self._template().module is None and joint

    def _check_params(self, X):
        """The checks of the template, and those that the autoencoder would
        make with the transformer's names, made first with the imputer's."""
        template = self._template()
        _check_template(template)
        if template.module is not None:
            changed = [
                name
                for name, default in _STACK_DEFAULTS.items()
                if _differs(getattr(self, name), default)
            ]
            if changed:
                raise ValueError(
                    f"{', '.join(changed)} shape the built-in stack, but the "
                    "autoencoder has a module of its own, whose shape its "
                    "module__<name> parameters set. Leave them at the default, "
                    "or set the autoencoder's module=None."
                )
        if not template.early_stopping:
            return
        greedy = self.stacking == "greedy" and self._n_layers() > 1
        if template.module is None and greedy:
            raise ValueError(
                "The autoencoder's early_stopping scores the imputation of "
                "held-out entries, which the upper stages of a greedy stack do "
                "not train. Use stacking='joint', or the autoencoder's "
                "early_stopping=False."
            )
        if int((~np.isnan(X)).sum()) < 2:
            raise ValueError(
                "The autoencoder's early_stopping holds out observed entries to "
                "score, and X has fewer than 2. Use more data, or the "
                "autoencoder's early_stopping=False."
            )

    def _n_layers(self):
        if _is_auto(self.hidden_layer_sizes):
            return len(_auto_layers(1))
        return len(np.atleast_1d(self.hidden_layer_sizes))

    def _autoencoder_params(self, X):
        """The template's parameters, completed with the imputer's settings
        (its "auto" ones resolved on X) and those that imputation fixes."""
        template = self._template()
        params = clone(template).get_params(deep=False)  # its own callbacks
        own = {name: getattr(self, name) for name in _OWN_SETTINGS}
        if template.module is not None:
            # The transformer's defaults for the built-in stack's shape.
            for name in _STACK_DEFAULTS:
                del own[name]
            own["lr"] = 1e-3 if _is_auto(own["lr"]) else own["lr"]
        params.update(own)
        if _is_auto(params["hidden_layer_sizes"]):
            n_kept = int(self.observed_features_.sum())
            params["hidden_layer_sizes"] = _auto_layers(n_kept)
        if _is_auto(params["batch_size"]):
            params["batch_size"] = _auto_batch_size(len(X))
        if _is_auto(params["max_epochs"]):
            params["max_epochs"] = _auto_epochs(len(X))
        if _is_auto(params["lr"]):
            params["lr"] = _auto_lr(params["hidden_layer_sizes"])
        # Early stopping judges imputations: of held-out entries, not rows.
        params["validation"] = "entries"
        # The categorical columns arrive as level codes, to be one-hot encoded.
        params["categorical_features"] = None
        if self._columns is not None:
            params["categorical_features"] = self.is_categorical_[
                self.observed_features_
            ]
        if self.lr_schedule == "cosine":
            schedule = LRScheduler(CosineAnnealingLR, T_max=params["max_epochs"])
            callbacks = list(params["callbacks"] or [])
            params["callbacks"] = [*callbacks, ("cosine_lr", schedule)]
        return params

    def _standardized(self, X):
        """The kept columns, the numeric ones standardized (the codes of the
        categorical ones as they are)."""
        kept = self.observed_features_
        mean, scale = self._moments()
        return (X[:, kept] - mean[kept]) / scale[kept]

    def _moments(self):
        """``(mean_, scale_)`` as the standardization applies them: 0 and 1
        for a categorical or a constant column."""
        mean = np.nan_to_num(self.mean_, nan=0.0)
        scale = np.where(self.scale_ > 0, self.scale_, 1.0)
        return mean, scale

    def _hold_out(self, X_std, seed):
        """The standardized training rows without ``validation_fraction`` of
        their observed entries, and those entries (NaN elsewhere)."""
        X_train, held_out = hold_out_entries(X_std, self.validation_fraction, seed)
        if np.isnan(held_out).all():
            raise ValueError(
                "sample_posterior=True measures the error of imputation on "
                f"held-out entries, but validation_fraction="
                f"{self.validation_fraction} held out none of X's "
                f"{int((~np.isnan(X_std)).sum())} observed entries. Use more "
                "rows or a larger validation_fraction."
            )
        return X_train, held_out

    def _residual_scale(self, recon, held_out):
        """Root mean squared error of each column's held-out entries, as the
        autoencoders fill them (``recon``) from the rest of their rows, in the
        column's units; the error over all of them where a column has fewer
        than 5."""
        held = ~np.isnan(held_out)
        categorical = self.is_categorical_[self.observed_features_]
        held[:, categorical] = False
        squared = np.where(held, (recon - np.nan_to_num(held_out)) ** 2, 0.0)
        counts = held.sum(axis=0)
        overall = squared.sum() / max(held.sum(), 1)
        per_column = np.where(
            counts >= 5, squared.sum(axis=0) / np.maximum(counts, 1), overall
        )
        scale = np.zeros(self.n_features_in_)
        scale[self.observed_features_] = (
            np.sqrt(per_column) * np.nan_to_num(self.scale_)[self.observed_features_]
        )
        scale[self.is_categorical_] = np.nan
        return scale

    def _temperatures(self, groups, held_out):
        """Each categorical column's softmax temperature: the one of
        :data:`_TEMPERATURES` under which its held-out categories are most
        likely (the pooled one where a column has fewer than 30 of them),
        so that draws are as sure as the model is right; NaN for a numeric
        column. Without it, draws were overconfident on
        benchmarks/mixed_tables.py (categories drawn with frequency 0.96 were
        right 0.87 of the time)."""
        temperatures = np.full(self.n_features_in_, np.nan)
        if not groups:
            return temperatures
        kept = np.flatnonzero(self.observed_features_)
        position = {j: k for k, j in enumerate(kept)}
        losses, counts = {}, {}
        for j, p in groups.items():
            codes = held_out[:, position[j]]
            rows = np.flatnonzero(~np.isnan(codes))
            truth = codes[rows].astype(np.int64)
            losses[j] = [_neg_log_likelihood(p[rows], truth, t) for t in _TEMPERATURES]
            counts[j] = rows.size
        pooled = 1.0  # no held-out category at all: leave the softmax as it is
        if sum(counts.values()):
            pooled = _TEMPERATURES[int(np.argmin(np.sum(list(losses.values()), 0)))]
        for j in groups:
            best = _TEMPERATURES[int(np.argmin(losses[j]))]
            temperatures[j] = best if counts[j] >= 30 else pooled
        return temperatures

    @keeps_callers_threads
    def transform(self, X):
        """Fill the missing entries of X with the autoencoder's reconstruction.

        With ``sample_posterior=True``, a draw: the reconstruction plus noise
        of each column's ``residual_scale_``, seeded by ``random_state``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features_out)
            X with its holes filled, in X's float dtype, without the columns
            that were empty at fit (unless ``keep_empty_features``), followed
            by the indicator columns with ``add_indicator``. With
            categorical columns, an object array of the table's own values,
            or the frame that ``set_output`` asks for, with their dtypes.
        """
        check_is_fitted(self)
        X, frame = self._validate_input(X, reset=False)
        indicator, holes = self._indicator(X, frame), np.isnan(X)
        X, probabilities = self._reconstructed(X, holes)
        rng = None
        if self.sample_posterior:
            rng = np.random.default_rng(self._draw_seed)
            X = self._with_noise(X, holes, rng)
        X = _fill_categories(X, holes, probabilities, rng, self.temperature_)
        return self._output(X, indicator, frame)

    @keeps_callers_threads
    def sample(self, X, n_draws=5, random_state=None):
        """Draw ``n_draws`` imputations of X (multiple imputation).

        Each draw fills every hole with its reconstruction plus Gaussian noise
        of its column's ``residual_scale_``; observed entries are kept. Fit
        with ``sample_posterior=True``. Analyse each draw, then pool the
        estimates (Rubin's rules: the mean of the estimates; their variance is
        the mean of the within-draw variances plus ``1 + 1 / n_draws`` times
        the variance between the draws).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Data with missing values.
        n_draws : int, default=5
            Number of imputations.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws' private generator; None draws fresh entropy.

        Returns
        -------
        draws : ndarray of shape (n_draws, n_samples, n_features_out)
            The imputations, each as ``transform`` would return one (a list
            of DataFrames where ``set_output`` asks for frames of a table
            with categorical columns).
        """
        check_is_fitted(self)
        if not self.sample_posterior:
            raise ValueError(
                "sample draws imputations with the error of imputation that fit "
                "measures with sample_posterior=True; this imputer was fitted "
                "with sample_posterior=False. Set sample_posterior=True and fit "
                "again."
            )
        if (
            not isinstance(n_draws, Integral)
            or isinstance(n_draws, bool)
            or n_draws < 1
        ):
            raise ValueError(f"n_draws must be an int of at least 1; got {n_draws!r}.")
        X, frame = self._validate_input(X, reset=False)
        indicator, holes = self._indicator(X, frame), np.isnan(X)
        X, probabilities = self._reconstructed(X, holes)
        rng = np.random.default_rng(draw_seeds(random_state, 1)[0])
        draws = [
            _fill_categories(
                self._with_noise(X.copy(), holes, rng),
                holes,
                probabilities,
                rng,
                self.temperature_,
            )
            for _ in range(n_draws)
        ]
        outputs = [self._output(draw, indicator, frame) for draw in draws]
        if not all(isinstance(out, np.ndarray) for out in outputs):
            return outputs  # frames (set_output): one per draw
        return np.stack(outputs)

    def _indicator(self, X, frame):
        """The indicator columns of X (before its holes are filled), or None."""
        if self.indicator_ is None:
            return None
        marks = self._missing_marks(X, frame)
        return self.indicator_.transform(marks).astype(X.dtype)

    def _missing_marks(self, X, frame):
        """X, or for a table NaN where an entry is missing and 0 elsewhere: a
        category unseen at fit is NaN in X but no missing entry."""
        if self._columns is None:
            return X
        missing = np.isnan(X)
        for j in self._columns.categorical_columns:
            missing[:, j] = _missing_values(frame, j)
        return np.where(missing, np.nan, 0.0)

    def _reconstructed(self, X, missing):
        """``(X, probabilities)``: X (a copy, NaN for missing: ``missing``,
        which the caller has already computed) with the holes of its
        observed-at-fit numeric columns filled by the reconstruction, in X's
        units and dtype; and, for each categorical column, ``{column:
        (n_samples, n_levels) probabilities}`` of its levels (zeros in the
        rows without a hole)."""
        rows = np.flatnonzero(missing[:, self.observed_features_].any(axis=1))
        probabilities = {}
        if rows.size:
            kept = self.observed_features_
            mean, scale = self._moments()
            scale = np.nan_to_num(self.scale_)  # a constant column fills its value
            # The standardized rows are float64 (so are the moments): the fills
            # are cast to X's float dtype as they are written in.
            standardized = self._standardized(X[rows])
            recon, groups = self._mean_reconstruction(standardized)
            filled = recon * scale[kept] + mean[kept]
            block = np.ix_(rows, np.flatnonzero(kept))
            part, holes = X[block], missing[block]  # copies: fancy indexing
            holes[:, self.is_categorical_[kept]] = False
            part[holes] = filled[holes]
            X[block] = part
            for j, group in groups.items():
                probabilities[j] = np.zeros((len(X), group.shape[1]))
                probabilities[j][rows] = group
        return X, probabilities

    def _mean_reconstruction(self, X, autoencoders=None):
        """``(recon, groups)``: the mean of the autoencoders'
        reconstructions of the standardized kept columns X (NaN in the
        categorical ones), and each categorical column's mean probabilities
        over its levels, ``{column: (n, n_levels)}``. ``autoencoders``: those
        of ``autoencoders_`` by default."""
        autoencoders = autoencoders or self.autoencoders_
        if self._columns is None:
            return _mean_reconstruction(autoencoders, X), {}
        kept = np.flatnonzero(self.observed_features_)
        categorical = self.is_categorical_[kept]
        recon = np.full(X.shape, np.nan)
        groups = {
            j: np.zeros((len(X), len(self._columns.levels_[g])))
            for g, j in enumerate(self._columns.categorical_columns)
            if self.observed_features_[j]
        }
        members = [
            member
            for autoencoder in autoencoders
            for member in _member_reconstructions(autoencoder, X)
        ]
        for numeric, probabilities, levels in members:
            recon[:, ~categorical] = np.nan_to_num(recon[:, ~categorical]) + numeric
            for j, p, codes in zip(
                kept[categorical], probabilities, levels, strict=True
            ):
                # The autoencoder's levels are the codes it saw, in order.
                groups[j][:, codes.astype(np.int64)] += p
        recon /= len(members)
        return recon, {j: g / len(members) for j, g in groups.items()}

    def _with_noise(self, X, holes, rng):
        """X with Gaussian noise of ``residual_scale_`` added at the holes of
        its numeric columns."""
        rows, columns = np.nonzero(holes & ~self.is_categorical_)
        noise = rng.standard_normal(rows.size) * self.residual_scale_[columns]
        X[rows, columns] += noise.astype(X.dtype)
        return X

    def _output(self, X, indicator, frame=None):
        """The output columns: the kept (or zeroed empty) ones, then the
        indicator's."""
        if self._columns is not None:
            return self._table_output(X, indicator, frame)
        if self.keep_empty_features:
            X[:, ~self.observed_features_] = 0.0
        else:
            X = X[:, self.observed_features_]
        if indicator is not None:
            X = np.hstack([X, indicator])
        return X

    def _table_output(self, X, indicator, frame):
        """A table's output: its numeric columns as filled, its categorical
        ones as given, their holes filled with the category of the filled
        level code; in the container that ``set_output`` asks for (an object
        array by default)."""
        columns, dtypes = [], []
        for j in range(self.n_features_in_):
            if not (self.observed_features_[j] or self.keep_empty_features):
                continue
            if not self.is_categorical_[j]:
                column = X[:, j] if self.observed_features_[j] else np.zeros(len(X))
                columns.append(column)
                dtypes.append(("float64", None, False))
                continue
            values = frame.values(j)
            hole = _missing_values(frame, j) & ~np.isnan(X[:, j])
            g = int(np.searchsorted(self._columns.categorical_columns, j))
            levels = self._columns.levels_[g]
            values[hole] = levels[X[hole, j].astype(np.int64)]
            columns.append(values)
            dtypes.append(self._columns.dtypes_[j])
        if indicator is not None:
            columns.extend(indicator.T)
            dtypes.extend([("float64", None, False)] * indicator.shape[1])
        container = _output_container(self)
        return make_table(
            columns,
            list(self.get_feature_names_out()),
            dtypes,
            container,
            getattr(frame.X, "index", None) if container == "pandas" else None,
        )

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
            The names of the output columns.
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        kept = names if self.keep_empty_features else names[self.observed_features_]
        if self.indicator_ is None:
            return kept
        indicator = self.indicator_.get_feature_names_out(names)
        return np.concatenate([kept, indicator])

    def __getstate__(self):
        # The table's columns as plain values (skops.io trusts no other type).
        state = dict(super().__getstate__())
        if state.get("_columns") is not None:
            state["_columns"] = table_state(state["_columns"])
        return state

    def __setstate__(self, state):
        state = dict(state)
        if state.get("_columns") is not None:
            state["_columns"] = table_from_state(state["_columns"])
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = _is_nan(self.missing_values)
        # Strings too, but see the transformer's tags: no "string" tag.
        tags.input_tags.categorical = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _missing_values(frame, j):
    """Where column ``j`` of a table is missing (NaN, None or pd.NA)."""
    return missing_of(frame.values(j))


# The softmax temperatures that sample_posterior chooses among.
_TEMPERATURES = np.geomspace(0.25, 4.0, 41)


def _tempered(p, temperature):
    """Probabilities ``p`` (rows) at ``temperature``: ``softmax(log p / t)``."""
    scaled = np.power(np.maximum(p, 1e-300), 1.0 / temperature)
    return scaled / scaled.sum(axis=1, keepdims=True)


def _neg_log_likelihood(p, truth, temperature):
    """Minus the log-probability of the ``truth`` codes under ``p`` at
    ``temperature``, summed."""
    tempered = _tempered(p, temperature)[np.arange(len(truth)), truth]
    return -float(np.sum(np.log(tempered + 1e-12)))


def _fill_categories(X, holes, probabilities, rng=None, temperatures=None):
    """X with each categorical column's holes set to a level code: the most
    probable, or (``rng``) one drawn from the probabilities, at each
    column's ``temperatures`` (None: 1)."""
    for j, p in probabilities.items():
        rows = np.flatnonzero(holes[:, j])
        if not rows.size:
            continue
        if rng is None:
            X[rows, j] = p[rows].argmax(axis=1)
        else:
            t = 1.0 if temperatures is None else temperatures[j]
            cumulative = np.cumsum(_tempered(p[rows], t), axis=1)
            u = rng.random(rows.size) * cumulative[:, -1]
            codes = (u[:, None] > cumulative).sum(axis=1)
            X[rows, j] = np.minimum(codes, p.shape[1] - 1)
    return X


def _output_container(estimator):
    """What ``set_output`` asks ``transform`` to return: "pandas",
    "polars" or "numpy". scikit-learn's wrapper would turn an object array
    into a frame of object columns; built here, a frame keeps the columns'
    categorical dtypes. Read through a private scikit-learn helper (1.2 and
    later), checked for; without it, an object array, which the wrapper
    then converts."""
    try:
        from sklearn.utils._set_output import _get_output_config
    except ImportError:  # pragma: no cover - every supported release has it
        return "numpy"
    try:
        dense = _get_output_config("transform", estimator)["dense"]
    except (KeyError, TypeError):  # pragma: no cover
        return "numpy"
    return dense if dense in ("pandas", "polars") else "numpy"


def _mean_reconstruction(autoencoders, X):
    """The mean of the autoencoders' (and their members') reconstructions
    of the rows of X."""
    members = []
    for autoencoder in autoencoders:
        m = n_members(autoencoder)
        tiled = np.tile(X, (1, m)) if m > 1 else X
        recon = autoencoder.inverse_transform(autoencoder.transform(tiled))
        members.extend(np.split(recon, m, axis=1))
    return sum(members) / len(members)


def _member_reconstructions(autoencoder, X):
    """``[(numeric, probabilities, levels)]``, one per member of an
    autoencoder fitted on a table's standardized columns: the reconstruction
    of its numeric columns, each categorical column's probabilities over its
    levels, and those levels (the codes it saw)."""
    m = n_members(autoencoder)
    tiled = np.tile(X, (1, m)) if m > 1 else X
    numeric, probabilities = autoencoder._reconstruction(tiled)
    numeric = np.split(numeric, m, axis=1)
    g = len(probabilities) // m
    levels = autoencoder.categories_
    return [
        (numeric[k], probabilities[k * g : (k + 1) * g], levels[k * g : (k + 1) * g])
        for k in range(m)
    ]


def n_members(autoencoder):
    """The members of one fitted autoencoder: a
    :class:`~sk_dae.modules.StackEnsemble`'s, or 1."""
    module = autoencoder.net_.module_
    return module.n_members if isinstance(module, StackEnsemble) else 1


def _ensemble_params(params, n):
    """The autoencoder's parameters, ``params``, as one
    :class:`~sk_dae.modules.StackEnsemble` of ``n`` members takes them, on the
    standardized columns repeated ``n`` times (each member its copy, whose
    noise is drawn afresh). Measured with ``python benchmarks/ensemble.py``
    (AMD EPYC, 2 cores): a step of 5 members (through autograd) took 1.58
    times one member's, against 2.58 times under ``torch.func.vmap``
    (``stack_module_state``) and 5.10 times one after the other. With both
    on hand-derived gradients, the imputer's fit on a 1,000 x 13 table took
    1.96 to 2.04 times one member's: the fixed costs the members share are
    smaller than they were (1.70 times on autograd)."""
    params = dict(params)
    layers = np.atleast_1d(params.pop("hidden_layer_sizes"))
    params.pop("stacking")
    params.update(
        module=StackEnsemble,
        module__hidden_layer_sizes=tuple(int(width) for width in layers),
        module__n_members=n,
        module__activation=params.pop("activation"),
        module__tied_weights=params.pop("tied_weights"),
    )
    categorical = params["categorical_features"]
    if categorical is not None:
        params["module__n_numeric"] = int((~categorical).sum())
        params["categorical_features"] = np.tile(categorical, n)
    return params


def _observed_moments(X, observed_columns):
    """Mean and standard deviation of each column's observed values; (0, 0)
    for an empty column."""
    mean, scale = np.zeros(X.shape[1]), np.zeros(X.shape[1])
    kept = X[:, observed_columns].astype(np.float64)
    mean[observed_columns] = np.nanmean(kept, axis=0)
    scale[observed_columns] = np.nanstd(kept, axis=0)
    return mean, scale
