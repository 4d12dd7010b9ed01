"""Mixed-type tables: which columns are categorical, how they become network
inputs, and how the network's outputs become the table's own values again.

A table is a pandas or polars DataFrame, or a numpy array (an object array
may mix numbers and categories). :class:`TableColumns` is fitted on one: each
categorical column is encoded by its own
:class:`sklearn.preprocessing.OrdinalEncoder` (which sorts the categories and
groups the infrequent ones, as ``OneHotEncoder`` does), and the network sees
the numeric columns first, then one one-hot group per categorical column
(:class:`~sk_dae._columns.ColumnLayout`). A missing category, or one unseen
at fit, is a missing column: its whole group is NaN.

Nothing here imports pandas or polars: a frame's own methods read it, and the
output frame is built with the module of the frame fitted on.
"""

import importlib
import math
import warnings
from numbers import Real

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import OrdinalEncoder

from ._columns import ColumnLayout
from ._missing import has_missing

FROM_DTYPE = "from_dtype"

# More levels than this in one categorical column is refused: each level is a
# network input (and an output). OneHotEncoder's max_categories and
# min_frequency group the rare ones.
MAX_LEVELS = 1000


def container_of(X):
    """``"pandas"``, ``"polars"`` or ``"numpy"``: what kind of table X is."""
    module = type(X).__module__.split(".")[0]
    if module in ("pandas", "polars") and hasattr(X, "columns"):
        return module
    return "numpy"


def _is_missing_value(value):
    # None, float NaN (numpy's too) and pandas' NA, without importing pandas.
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float) and math.isnan(value)


_missing_of = np.frompyfunc(_is_missing_value, 1, 1)


def missing_of(values):
    """Where an object array is missing (NaN, None, pd.NA), as bools."""
    return _missing_of(values).astype(bool)


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


_number_of = np.frompyfunc(_is_number, 1, 1)


class _Frame:
    """Column-wise access to a table, whatever its container."""

    def __init__(self, X):
        self.container = container_of(X)
        if self.container == "numpy" and not hasattr(X, "dtype"):
            array = np.asarray(X)
            # A list that mixes strings and numbers would become all strings.
            if array.dtype.kind in "US":
                array = np.asarray(X, dtype=object)
            X = array
        if self.container == "numpy" and X.ndim != 2:
            raise ValueError(
                f"Expected a 2-D table (n_samples, n_features); got an array of "
                f"shape {X.shape}. Reshape it, e.g. X.reshape(-1, 1) for one "
                "feature."
            )
        self.X = X
        self.n_columns = X.shape[1]
        self.names = [str(c) for c in X.columns] if self.container != "numpy" else None

    def label(self, j):
        """How messages name column ``j``."""
        if self.names is None:
            return f"column {j}"
        return f"column {self.names[j]!r}"

    def _series(self, j):
        if self.container == "pandas":
            return self.X.iloc[:, j]
        return self.X.to_series(j)

    def kind(self, j):
        """What the column's dtype says it is: ``"numeric"``, ``"category"``,
        ``"string"``, ``"bool"`` or ``"object"``. An object array's column is
        numeric when every value in it is a number or missing; a bool array
        is numeric, as scikit-learn has always read it (binary images)."""
        if self.container == "numpy":
            column = self.X[:, j]
            if self.X.dtype.kind in "US":
                return "string"
            if self.X.dtype.kind != "O":
                return "numeric"
            values = column[~_missing_of(column).astype(bool)]
            if values.size and values.dtype.kind == "O":
                if not _number_of(values).astype(bool).all():
                    return "object"
            return "numeric"
        dtype = self._series(j).dtype
        if self.container == "pandas":
            return _pandas_kind(dtype)
        return _polars_kind(dtype)

    def numeric(self, j):
        """Column ``j`` as float64, NaN where it is missing."""
        try:
            if self.container == "pandas":
                return self._series(j).to_numpy(dtype=np.float64, na_value=np.nan)
            if self.container == "polars":
                series = self._series(j)
                return series.cast(_polars().Float64).to_numpy().astype(np.float64)
            column = self.X[:, j]
            if column.dtype.kind == "O":
                column = np.where(_missing_of(column).astype(bool), np.nan, column)
            return np.asarray(column, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{self.label(j)} is treated as numeric, but holds values that "
                f"are not numbers ({exc}). Declare it categorical "
                "(categorical_features), or convert it."
            ) from None

    def values(self, j):
        """Column ``j`` as an object array, NaN where it is missing."""
        if self.container == "numpy":
            column = np.asarray(self.X[:, j], dtype=object)
        elif self.container == "pandas":
            column = self._series(j).astype(object).to_numpy()
        else:
            column = np.asarray(self._series(j).to_list(), dtype=object)
        column = column.copy()
        column[_missing_of(column).astype(bool)] = np.nan
        return column

    def dtype_spec(self, j):
        """The column's dtype as plain values, to rebuild it in an output
        frame: ``(name, categories, ordered)``."""
        if self.container == "numpy":
            return ("object", None, False)
        dtype = self._series(j).dtype
        if self.container == "pandas":
            if _pandas_kind(dtype) == "category":
                categories = dtype.categories.tolist()
                return ("category", categories, bool(dtype.ordered))
            return (str(dtype), None, False)
        if isinstance(dtype, _polars().Enum):
            return ("Enum", dtype.categories.to_list(), False)
        return (str(dtype), None, False)


def _pandas_kind(dtype):
    pandas = importlib.import_module("pandas")
    types = pandas.api.types
    if isinstance(dtype, pandas.CategoricalDtype):
        return "category"
    if types.is_bool_dtype(dtype):
        return "bool"
    if types.is_string_dtype(dtype) and not types.is_object_dtype(dtype):
        return "string"
    if types.is_object_dtype(dtype):
        return "object"
    return "numeric"


def _polars():
    return importlib.import_module("polars")


def _polars_kind(dtype):
    pl = _polars()
    if isinstance(dtype, (pl.Categorical, pl.Enum)) or dtype in (
        pl.Categorical,
        pl.Enum,
    ):
        return "category"
    if dtype == pl.Boolean:
        return "bool"
    if dtype == pl.String:
        return "string"
    if dtype == pl.Object:
        return "object"
    return "numeric"


def categorical_mask(X, categorical_features):
    """The boolean mask of X's categorical columns that
    ``categorical_features`` gives, or None when X has none."""
    if categorical_features is None or sp.issparse(X):
        return None  # a sparse matrix is numeric
    from_dtype = isinstance(categorical_features, str)
    if from_dtype and getattr(X, "dtype", np.dtype(object)).kind in "biufc":
        return None  # a numeric array (numpy's error if it is no table)
    frame = _Frame(X)
    n = frame.n_columns
    if from_dtype and categorical_features == FROM_DTYPE:
        mask = np.array([frame.kind(j) != "numeric" for j in range(n)], dtype=bool)
    else:
        mask = _declared_mask(categorical_features, frame)
    return mask if mask.any() else None


def _declared_mask(categorical_features, frame):
    """A mask, indices or names, as ``HistGradientBoostingClassifier`` takes."""
    given = np.asarray(categorical_features)
    n = frame.n_columns
    if given.size == 0:
        return np.zeros(n, dtype=bool)
    if given.dtype.kind == "b":
        if given.shape != (n,):
            raise ValueError(
                f"categorical_features as a boolean mask must have one entry per "
                f"column of X ({n}); got {given.size}."
            )
        return given.astype(bool)
    mask = np.zeros(n, dtype=bool)
    if given.dtype.kind in "iu":
        if given.min() < -n or given.max() >= n:
            raise ValueError(
                f"categorical_features holds column indices in [-{n}, {n}) for X "
                f"of {n} columns; got {given.tolist()}."
            )
        mask[given] = True
        return mask
    if given.dtype.kind in "UO" and all(isinstance(v, str) for v in given.tolist()):
        if frame.names is None:
            raise ValueError(
                "categorical_features names columns, but X has no column names "
                "(it is not a DataFrame). Give column indices or a boolean mask."
            )
        unknown = [name for name in given.tolist() if name not in frame.names]
        if unknown:
            raise ValueError(
                f"categorical_features names columns that X lacks: {unknown}. "
                f"X's columns are {frame.names}."
            )
        mask[[frame.names.index(name) for name in given.tolist()]] = True
        return mask
    raise ValueError(
        "categorical_features must be 'from_dtype', None, a boolean mask, or a "
        f"list of column indices or names; got {categorical_features!r}."
    )


class TableColumns:
    """The columns of a mixed-type table, fitted: which are categorical, their
    categories, and the encoding of X into the network's input.

    Parameters
    ----------
    is_categorical : ndarray of bool of shape (n_columns,)
        Which columns are categorical.
    max_categories, min_frequency
        As in :class:`sklearn.preprocessing.OneHotEncoder`: the rare
        categories of a column are grouped into one level.

    Attributes
    ----------
    encoders_ : list of OrdinalEncoder
        One per categorical column, in column order.
    levels_ : list of ndarray
        Per categorical column, the category each level of its group decodes
        to: its categories, then, when rare ones were grouped, the most
        frequent of those.
    layout_ : ColumnLayout
        Where each column lies in the network's input.
    container_ : str
        The kind of table fitted on, ``"pandas"``, ``"polars"`` or ``"numpy"``:
        what decoded tables are returned as.
    names_ : list of str or None
        The column names, for an output frame.
    dtypes_ : list of tuple
        Each column's dtype as plain values (see ``_Frame.dtype_spec``).
    kinds_ : list of str
        Each column's kind (see ``_Frame.kind``).
    """

    def __init__(self, is_categorical, *, max_categories=None, min_frequency=None):
        self.is_categorical = np.asarray(is_categorical, dtype=bool)
        self.max_categories = max_categories
        self.min_frequency = min_frequency

    @property
    def numeric_columns(self):
        return np.flatnonzero(~self.is_categorical)

    @property
    def categorical_columns(self):
        return np.flatnonzero(self.is_categorical)

    def fit(self, X):
        frame = _Frame(X)
        self._check_width(frame)
        self.container_ = frame.container
        self.names_ = frame.names
        self.dtypes_ = [frame.dtype_spec(j) for j in range(frame.n_columns)]
        self.kinds_ = [frame.kind(j) for j in range(frame.n_columns)]
        self.encoders_, self.levels_ = [], []
        for j in self.categorical_columns:
            encoder, levels = self._fit_column(frame, j)
            self.encoders_.append(encoder)
            self.levels_.append(levels)
        sizes = [len(levels) for levels in self.levels_]
        self.layout_ = ColumnLayout(len(self.numeric_columns), sizes)
        return self

    @property
    def categories_(self):
        """Per categorical column, the categories seen at fit (sorted)."""
        return [_observed(encoder.categories_[0]) for encoder in self.encoders_]

    def _check_width(self, frame):
        if frame.n_columns != len(self.is_categorical):
            raise ValueError(
                f"X has {frame.n_columns} columns; the model was fitted on "
                f"{len(self.is_categorical)}."
            )

    def _fit_column(self, frame, j):
        values = frame.values(j)
        _check_hashable(values, frame.label(j))
        column = values.reshape(-1, 1)
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=np.nan,
            encoded_missing_value=np.nan,
            max_categories=self.max_categories,
            min_frequency=self.min_frequency,
        )
        try:
            codes = encoder.fit_transform(column).ravel()
        except TypeError as exc:
            raise TypeError(
                f"Categorical {frame.label(j)} mixes kinds of values ({exc}): a "
                "categorical column's values must all be strings, or all numbers "
                "(or bools). Convert the column, e.g. to str."
            ) from None
        levels = _decoded_levels(values, codes)
        if len(levels) > MAX_LEVELS:
            raise ValueError(
                f"Categorical {frame.label(j)} has {len(levels)} categories, "
                f"more than {MAX_LEVELS}: each is an input and an output of the "
                "network. Group the rare ones with max_categories or "
                "min_frequency, drop the column (an identifier?), or declare it "
                "numeric with categorical_features."
            )
        if not levels.size:
            warnings.warn(
                f"Categorical {frame.label(j)} has no observed value at fit: the "
                "network learns nothing about it, and it decodes as missing. Drop "
                "it, or fill it first.",
                UserWarning,
                stacklevel=5,
            )
        return encoder, levels

    # -- X -> network input ---------------------------------------------------

    def encode(self, X, *, warn_unknown=True):
        """The network's input for X: ``(n_samples, layout_.width)``, numeric
        columns first (as they are), then each categorical column's one-hot
        group, all NaN where the category is missing or unseen at fit."""
        frame = self.check_frame(X)
        codes = self.codes(frame, warn_unknown=warn_unknown)
        numeric = [frame.numeric(j) for j in self.numeric_columns]
        return self.layout_.one_hot(numeric, codes, len(codes[0]) if codes else None)

    def code_matrix(self, X, *, warn_unknown=True):
        """``(M, frame)``: X as one float column per column, the numeric
        ones as they are and the categorical ones as their level codes (NaN:
        missing, or unseen at fit), and the :class:`_Frame` read."""
        frame = self.check_frame(X)
        codes = self.codes(frame, warn_unknown=warn_unknown)
        n_rows = len(codes[0]) if codes else len(frame.numeric(0))
        M = np.empty((n_rows, frame.n_columns))
        for j in self.numeric_columns:
            M[:, j] = frame.numeric(j)
        for code, j in zip(codes, self.categorical_columns, strict=True):
            M[:, j] = code
        return M, frame

    def check_frame(self, X):
        """``_Frame(X)``, refused where its columns differ from those fitted:
        their number, or a frame's column whose dtype went from numeric to
        not, or back (an object array's kinds come from its values, which
        may change: there, an unseen value is an unseen category)."""
        frame = _Frame(X)
        self._check_width(frame)
        if frame.container == "numpy" or frame.container != self.container_:
            return frame
        for j, fitted in enumerate(self.kinds_):
            kind = frame.kind(j)
            if kind == "numeric" and fitted != "numeric":
                if np.isnan(frame.numeric(j)).all():
                    continue  # all missing: pandas makes that a float column
            if (kind == "numeric") != (fitted == "numeric"):
                raise ValueError(
                    f"{frame.label(j)} was {self.dtypes_[j][0]} ({fitted}) at fit "
                    f"and is {frame.dtype_spec(j)[0]} ({kind}) now. Give it as at "
                    "fit."
                )
        return frame

    def codes(self, frame, *, warn_unknown=True):
        """Each categorical column's level codes (float, NaN: missing or
        unseen at fit)."""
        codes, unseen = [], []
        for encoder, j in zip(self.encoders_, self.categorical_columns, strict=True):
            values = frame.values(j)
            _check_hashable(values, frame.label(j))
            try:
                column = encoder.transform(values.reshape(-1, 1)).ravel()
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"Categorical {frame.label(j)} holds values of another kind "
                    f"than at fit ({exc}). Give it as at fit."
                ) from None
            new = np.isnan(column) & ~_missing_of(values).astype(bool)
            if new.any():
                unseen.append((frame.label(j), values[new][:3].tolist(), new.sum()))
            codes.append(column)
        if unseen and warn_unknown:
            shown = "; ".join(
                f"{label}: {count} value(s) such as {examples}"
                for label, examples, count in unseen
            )
            warnings.warn(
                f"Categories unseen at fit are treated as missing ({shown}).",
                UserWarning,
                stacklevel=4,
            )
        return codes

    # -- network output -> table -----------------------------------------------

    def decode(self, numeric, codes, index=None):
        """The table of ``numeric`` (n, n_numeric) values and each categorical
        column's level ``codes`` (int arrays, -1 for missing), in the columns'
        order and the container fitted on."""
        n = len(numeric)
        columns = [None] * len(self.is_categorical)
        for k, j in enumerate(self.numeric_columns):
            columns[j] = numeric[:, k]
        for levels, j, code in zip(
            self.levels_, self.categorical_columns, codes, strict=True
        ):
            out = np.full(n, np.nan, dtype=object)
            known = code >= 0
            out[known] = levels[code[known]]
            columns[j] = out
        return self.build(columns, index)

    def build(self, columns, index=None):
        """A table of ``columns`` in the container fitted on."""
        return make_table(columns, self.names_, self.dtypes_, self.container_, index)


def make_table(columns, names, dtypes, container, index=None):
    """A table of ``columns`` (one array each, NaN for missing): an object
    array for ``container="numpy"``, else a pandas or polars frame with each
    column's dtype (``dtypes``, as ``_Frame.dtype_spec`` gives them)."""
    if container == "pandas":
        return _pandas_frame(columns, names, dtypes, index)
    if container == "polars":
        return _polars_frame(columns, names, dtypes)
    table = np.empty((len(columns[0]), len(columns)), dtype=object)
    for j, column in enumerate(columns):
        table[:, j] = column
    return table


def _observed(categories):
    return np.asarray([c for c in categories if not _is_missing_value(c)], dtype=object)


def _check_hashable(values, label):
    try:
        set(values.tolist())
    except TypeError:
        bad = next(v for v in values.tolist() if _unhashable(v))
        raise TypeError(
            f"Categorical {label} holds an unhashable value, {bad!r} "
            f"({type(bad).__name__}): a category must be a string, a number or "
            "a bool (argument must be a string or a number). Convert the column, "
            "e.g. to str."
        ) from None


def _unhashable(value):
    try:
        hash(value)
    except TypeError:
        return True
    return False


def _decoded_levels(values, codes):
    """The category that each level code decodes to: the most frequent of
    the values encoded to it (its own category, but for the group of rare
    ones)."""
    kept = ~np.isnan(codes)
    if not kept.any():
        return np.empty(0, dtype=object)
    n_levels = int(np.nanmax(codes)) + 1
    levels = np.empty(n_levels, dtype=object)
    for level in range(n_levels):
        members = values[codes == level]
        if not members.size:
            levels[level] = np.nan
            continue
        unique, counts = np.unique(members.astype(str), return_counts=True)
        best = unique[np.argmax(counts)]
        levels[level] = next(v for v in members if str(v) == best)
    return levels


def _is_category_spec(dtype):
    """Whether a dtype spec names a categorical dtype, of either library."""
    return dtype in ("category", "Enum") or dtype.startswith("Categorical")


def _pandas_frame(columns, names, dtypes, index):
    pandas = importlib.import_module("pandas")
    data = {}
    for column, name, (dtype, categories, ordered) in zip(
        columns, names, dtypes, strict=True
    ):
        if column.dtype.kind == "f":
            data[name] = column
            continue
        values = [None if _is_missing_value(v) else v for v in column]
        if _is_category_spec(dtype):
            data[name] = pandas.Categorical(
                values, categories=categories, ordered=ordered
            )
        elif dtype in ("String", "Boolean", "Object"):  # a polars frame's
            data[name] = pandas.Series(values, dtype=object)
        else:
            data[name] = pandas.Series(values, dtype=object).astype(dtype)
    return pandas.DataFrame(data, index=index)


def _polars_frame(columns, names, dtypes):
    pl = _polars()
    series = []
    for column, name, (dtype, categories, _) in zip(
        columns, names, dtypes, strict=True
    ):
        if column.dtype.kind == "f":
            series.append(pl.Series(name, column))
            continue
        values = [None if _is_missing_value(v) else v for v in column]
        if dtype == "Enum":
            series.append(pl.Series(name, values, dtype=pl.Enum(categories)))
        elif _is_category_spec(dtype):
            strings = [None if v is None else str(v) for v in values]
            series.append(pl.Series(name, strings, dtype=pl.Categorical))
        elif dtype in ("Boolean", "bool", "boolean"):
            series.append(pl.Series(name, values, dtype=pl.Boolean))
        elif dtype in ("String", "str", "string"):
            series.append(pl.Series(name, values, dtype=pl.String))
        else:
            series.append(pl.Series(name, values))
    return pl.DataFrame(series)


def check_still_numeric(X):
    """A model fitted on numeric columns only, given a table whose column
    holds categories: an error that names the column (numpy's would not)."""
    if container_of(X) == "numpy" and getattr(X, "dtype", None) is not None:
        if X.dtype.kind not in "OUSb":
            return
    if not hasattr(X, "shape") and not isinstance(X, (list, tuple)):
        return
    frame = _Frame(X)
    for j in range(frame.n_columns):
        kind = frame.kind(j)
        if kind != "numeric":
            raise ValueError(
                f"{frame.label(j)} holds {kind} values, but the model was "
                "fitted on numeric columns only. Give X with the columns it "
                "had at fit, or fit again on this table (categorical columns "
                "are found from the dtypes, see categorical_features)."
            )


def check_finite_table(M):
    """A table read as floats (numeric columns, and categories coded) holds
    no inf: it can only have come from a numeric column."""
    if np.isinf(M).any():
        raise ValueError(
            "Input X contains infinity: a numeric column holds inf or -inf. "
            "Replace it (NaN marks a missing value)."
        )


def finite_table_or_missing(M):
    """Whether M, a table read as floats, has a missing entry (NaN); inf is
    refused (:func:`check_finite_table`)."""
    check_finite_table(M)
    return has_missing(M)


def column_kinds(columns, n_features):
    """``(is_categorical_, categories_)`` of a fitted model: which columns
    are categorical, and the categories of each (None: all numeric)."""
    if columns is None:
        return np.zeros(n_features, dtype=bool), []
    return columns.is_categorical.copy(), columns.categories_


def most_probable(probabilities):
    """Each row's most probable level of an (n, k) array of probabilities;
    -1 for a column of no level."""
    if not probabilities.shape[1]:
        return np.full(len(probabilities), -1)
    return probabilities.argmax(axis=1)


def table_state(columns):
    """A fitted :class:`TableColumns` as plain values and scikit-learn
    objects (for ``skops.io``); :func:`table_from_state` reverses it."""
    state = dict(vars(columns))
    state["layout_"] = columns.layout_.to_dict()
    return state


def table_from_state(state):
    state = dict(state)
    columns = TableColumns(
        state.pop("is_categorical"),
        max_categories=state.pop("max_categories"),
        min_frequency=state.pop("min_frequency"),
    )
    state["layout_"] = ColumnLayout(**state["layout_"])
    vars(columns).update(state)
    return columns
