"""Checks that span several parameters or look at the data, with messages that
say what to change. Single-parameter checks live in ``_parameter_constraints``."""

import math
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.utils import assert_all_finite

from ._loss import EMPHASIS_PRESETS
from ._missing import empty_columns, empty_rows, has_missing
from ._noise import FRACTION_NOISES, IMAGE_NOISES


def _observed_range(X):
    """(min, max) of X's observed values, NaN ignored; (nan, nan) if none."""
    values = X.data if sp.issparse(X) else X
    if not values.size:
        return np.nan, np.nan
    # fmin/fmax skip NaN without the copy or the warnings of nanmin/nanmax.
    return np.fmin.reduce(values, axis=None), np.fmax.reduce(values, axis=None)


def check_training_data(
    X, *, loss, image_shape, corruption, whole, holds_out=None, missing=None
):
    """Every check of a training call's X (after ``validate_data``), in one
    visit: float32 range, observed columns, [0, 1] for ``loss="bce"``, the
    image shape (returned, as a tuple or None), and ``holds_out``, the
    ``(stacking, n_layers)`` of early stopping on held-out entries (None:
    none). ``missing``: whether X has a missing entry, where the caller
    found it (None: looked at here)."""
    check_float32_range(X)
    if loss == "bce":
        check_unit_interval(X)
    shape = check_image_shape(image_shape, X.shape[1], corruption)
    if holds_out is not None:
        check_entry_validation(X, *holds_out)
    check_observed(X, whole, missing)  # last: it warns, not before an error
    return shape


def check_table_corruption(corruption, image_shape):
    """A table with categorical columns is no image, and a callable sees
    one-hot entries that it cannot tell from numbers."""
    if corruption in IMAGE_NOISES or image_shape is not None:
        raise ValueError(
            "X has categorical columns, so its rows are no images: "
            f"corruption={corruption!r} with image_shape={image_shape!r} does "
            "not apply. Use corruption='mask' or 'swap', or categorical_features"
            "=None if every column is numeric."
        )
    if callable(corruption):
        raise ValueError(
            "A callable corruption gets numeric tensors, one column per entry; "
            "with categorical columns, whose categories enter as one-hot groups, "
            "it would corrupt the groups entry by entry. Use one of 'mask', "
            "'swap', 'salt_and_pepper' or 'gaussian', which act on whole "
            "columns, or encode the categories yourself and pass "
            "categorical_features=None."
        )


def check_unit_interval(X, method="fit"):
    """``loss="bce"`` trains on, and scores, targets in [0, 1] only."""
    low, high = _observed_range(X)
    if not (low < 0 or high > 1):
        return
    values = f"X has values in [{low:.4g}, {high:.4g}]"
    if method == "fit":
        raise ValueError(
            f"loss='bce' (binary cross-entropy) needs inputs in [0, 1], but "
            f"{values}. Scale X into [0, 1] first (e.g. "
            "sklearn.preprocessing.MinMaxScaler in a Pipeline), or use loss='mse'."
        )
    raise ValueError(
        f"{method} with loss='bce' scores rows in [0, 1] only, as fit trains on "
        "them: the cross-entropy of a value outside [0, 1] is no loss (it can "
        f"fall below that of the training rows), so such rows would look normal. "
        f"{values}. Scale and clip them into [0, 1] (e.g. "
        "sklearn.preprocessing.MinMaxScaler(clip=True) in the Pipeline), or "
        "use loss='mse' for an anomaly score of unbounded data."
    )


def check_float32_range(X):
    """Training runs in float32: values beyond its range would become inf."""
    if X.dtype != np.float64:
        return
    # max and min rather than abs().max(): no temporary copy of X.
    low, high = _observed_range(X)
    largest = max(high, -low)
    limit = np.finfo(np.float32).max
    if largest > limit:
        raise ValueError(
            f"X has values up to {largest:.3g} in magnitude, beyond the float32 range "
            f"({limit:.3g}) that training uses. Scale X first (e.g. "
            "sklearn.preprocessing.StandardScaler in a Pipeline)."
        )


def finite_or_missing(X):
    """Whether X, float input after ``validate_data(..., ensure_all_finite=False)``,
    has a missing entry (NaN); inf refused as ``ensure_all_finite="allow-nan"``
    refuses it, with scikit-learn's message.

    One pass over X where that check and :func:`~sk_dae._missing.has_missing`
    take two: a sum that is finite proves every entry finite (scikit-learn's
    own first pass), and only a sum that is not looks entry by entry. For
    60,000 x 784 float32 rows each pass costs 7.4 ms (AMD EPYC, 2 cores), an
    eighth of ``transform``'s time at width 100.
    """
    values = X.data if sp.issparse(X) else X
    # A sum of large values overflows (and inf - inf is NaN): no warning.
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(values)):
            return False
        assert_all_finite(values, allow_nan=True, input_name="X")
    return bool(np.isnan(values).any())


def check_observed(X, whole, missing=None):
    """X must hold an observed entry; in the whole training set (``whole``), a
    column with none is learned from nothing, which a warning says.
    ``missing``: whether X has a missing entry (None: not known yet)."""
    if not (has_missing(X) if missing is None else missing):
        return
    if len(empty_rows(X)) == X.shape[0]:
        raise ValueError(
            "Every entry of X is missing (NaN): there is nothing to learn from."
        )
    columns = empty_columns(X) if whole else ()
    if len(columns):
        shown = ", ".join(map(str, columns[:10])) + (", ..." * (len(columns) > 10))
        warnings.warn(
            f"{len(columns)} column(s) of X have no observed value (indices "
            f"{shown}): the network learns nothing about them, and a value given "
            "there later enters through untrained weights. Drop those columns "
            "(e.g. with a ColumnTransformer), or impute them first.",
            UserWarning,
            stacklevel=4,
        )


def check_entry_validation(X, stacking, n_layers):
    """Early stopping on held-out entries scores the reconstruction of the
    input: it needs dense X, and a stage that reconstructs the input."""
    if sp.issparse(X):
        raise ValueError(
            "early_stopping with validation='entries' holds out entries of a "
            "dense X; X is sparse. Use validation='rows', or X.toarray()."
        )
    if stacking == "greedy" and n_layers > 1:
        raise ValueError(
            "early_stopping with validation='entries' scores the reconstruction "
            "of the input, which the upper stages of a greedy stack do not "
            f"train ({n_layers} layers). Use stacking='joint', or "
            "validation='rows'."
        )


def check_finite_output(out, method, nan_rows=()):
    """Finite input can still overflow float32 arithmetic; never return inf/NaN
    (but where ``nan_rows``, the rows with no observed entry, say so)."""
    finite = np.isfinite(out)
    finite[np.asarray(nan_rows, dtype=np.intp)] = True  # ([] sets nothing)
    if not np.all(finite):
        raise ValueError(
            f"{method} produced non-finite values: the input's magnitude overflows "
            "the network's arithmetic. Scale the input as the training data was "
            "scaled (e.g. with the Pipeline's scaler), or pass float64 input, "
            "which is computed in float64 on the CPU (set_params(device='cpu') "
            "for a model on a GPU)."
        )


def check_layer_sizes(hidden_layer_sizes):
    """``hidden_layer_sizes`` as a tuple of positive ints."""
    sizes = hidden_layer_sizes
    sizes = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
    if not sizes or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes
    ):
        raise ValueError(
            "hidden_layer_sizes must be a positive int or a non-empty sequence of "
            f"positive ints, one per layer; got {hidden_layer_sizes!r}."
        )
    return sizes


def check_image_shape(image_shape, n_features, corruption):
    """``image_shape`` as a tuple of ints, or None; it must hold one row of X,
    and a corruption of images needs it."""
    if image_shape is None:
        if corruption in IMAGE_NOISES:
            raise ValueError(
                f"corruption={corruption!r} needs the shape of the images that "
                "the rows of X hold: pass image_shape=(height, width), e.g. "
                "(28, 28) for MNIST or (8, 8) for load_digits."
            )
        return None
    shape = tuple(image_shape)
    valid = len(shape) in (2, 3) and all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in shape
    )
    if not valid:
        raise ValueError(
            "image_shape must be (height, width) or (height, width, channels), "
            f"positive ints; got {image_shape!r}."
        )
    if math.prod(shape) != n_features:
        side = math.isqrt(n_features)
        example = f", e.g. ({side}, {side})" if side * side == n_features else ""
        raise ValueError(
            f"image_shape={shape} holds {math.prod(shape)} values, but X has "
            f"{n_features} features. Give the shape of one image, whose values "
            f"are a row of X in C order (channels last){example}."
        )
    return shape


def check_levels(corruption_level, n_layers, corruption, stacking, *, name=None):
    """One corruption level per layer, as a list of floats.

    ``corruption`` is a corruption's kind, or ``"missing"`` (a fraction of
    entries made missing, in ``sk_dae.inspection``); ``name`` is what the
    caller calls the level in its messages.
    """
    name = name or "corruption_level"
    levels = np.atleast_1d(np.asarray(corruption_level, dtype=float))
    if levels.ndim != 1 or len(levels) not in (1, n_layers):
        per_layer = f" or one value per hidden layer ({n_layers})" * (n_layers > 1)
        raise ValueError(
            f"{name} must be a float{per_layer}; got {corruption_level!r}."
        )
    if stacking == "joint" and len(levels) > 1:
        raise ValueError(
            "stacking='joint' corrupts the input only: give corruption_level as a "
            "single float. Per-layer levels apply to stacking='greedy'."
        )
    if not np.all(np.isfinite(levels)) or np.any(levels < 0):
        raise ValueError(f"{name} must be finite and >= 0; got {corruption_level!r}.")
    fraction = corruption in FRACTION_NOISES or corruption == "missing"
    if fraction and np.any(levels >= 1):
        raise ValueError(
            f"{name} is the fraction of corrupted inputs for "
            f"corruption={corruption!r} and must be in [0, 1); got "
            f"{corruption_level!r}."
        )
    return np.broadcast_to(levels, (n_layers,)).tolist()


def check_emphasis(emphasis, corruption):
    """Emphasis weights ``(alpha, beta)``, or None."""
    weights = EMPHASIS_PRESETS.get(emphasis, emphasis)
    if weights is None:
        return None
    if (
        len(weights) != 2
        or not all(isinstance(w, Real) and np.isfinite(w) for w in weights)
        or min(weights) < 0
        or sum(weights) == 0
    ):
        raise ValueError(
            "emphasis must be 'full', 'double', None or a tuple (alpha, beta) of "
            f"non-negative weights, not both zero; got {emphasis!r}."
        )
    if corruption == "gaussian":
        raise ValueError(
            "emphasis weighs corrupted against untouched inputs, but "
            "corruption='gaussian' touches every input. Use emphasis=None, or a "
            "corruption among 'mask', 'salt_and_pepper', 'swap'."
        )
    return tuple(float(w) for w in weights)


def check_warm_structure(saved, current):
    """A warm start or ``partial_fit`` must keep the network's shape."""
    changed = [k for k in current if saved.get(k) != current[k]]
    if changed:
        detail = ", ".join(f"{k}: {saved.get(k)!r} -> {current[k]!r}" for k in changed)
        raise ValueError(
            f"Cannot continue training after changing {detail}: the fitted network "
            "has another shape. Set these back, or refit from scratch with "
            "warm_start=False (fit) instead of partial_fit."
        )


# The parameters that shape the built-in stack, which a user's module must
# leave at their defaults.
_STACK_PARAMS = ("hidden_layer_sizes", "tied_weights", "activation")


def check_user_module_params(estimator, defaults):
    """With a user's ``module``, the built-in stack's parameters keep the
    values of ``defaults`` (an estimator built with none given)."""
    changed = [
        name
        for name in _STACK_PARAMS
        if _as_value(name, getattr(estimator, name))
        != _as_value(name, getattr(defaults, name))
    ]
    if changed:
        detail = ", ".join(f"{name}={getattr(estimator, name)!r}" for name in changed)
        module = estimator.module
        if isinstance(module, type):
            name = module.__name__
        else:
            name = f"an instance of {type(module).__name__}"
        raise ValueError(
            f"{detail} shape the built-in stack, but module is {name}, whose "
            "shape its own parameters set (module__<name>). Leave "
            f"{', '.join(changed)} at the default, or set module=None."
        )


def _as_value(name, value):
    if name == "hidden_layer_sizes":  # 100, [100] and (100,) are one stack
        return tuple(np.atleast_1d(value).tolist())
    return value
