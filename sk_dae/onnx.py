"""ONNX export through skl2onnx.

Importing this module registers skl2onnx converters for
:class:`~sk_dae.DenoisingAutoencoderTransformer` and
:class:`~sk_dae.DenoisingAutoencoderImputer`. Then ``skl2onnx.to_onnx`` converts
them, and any pipeline that contains them, into a graph that onnxruntime
serves without Python, torch or scikit-learn::

    import sk_dae.onnx  # noqa: F401  (registers the converters)
    from skl2onnx import to_onnx

    onx = to_onnx(pipeline, X[:1].astype(np.float32))

The graphs compute what ``transform`` computes on the CPU:

- the transformer encodes through every layer, in the input's float dtype (the
  float32-trained weights are cast to float64 for float64 input), and a missing
  entry (NaN) enters the encoder as its fitted ``input_fill_`` (0 by default);
- the imputer standardizes, reconstructs in float64 (as it does in Python) and
  fills only the holes: observed entries pass through bit for bit.

The input is float32 or float64, one tensor or several columns (a DataFrame's,
joined in order). Only ``transform`` is exported: skl2onnx converts a
transformer's ``transform``; ``inverse_transform`` and ``score_samples`` have
no graph.

Needs the optional dependencies ``pip install "sk_dae[onnx]"``.
"""

import numpy as np

try:
    from onnx import TensorProto
    from onnx.numpy_helper import from_array
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
except ImportError as exc:  # pragma: no cover - the tests install the extra
    raise ImportError(
        f"sk_dae.onnx needs onnx and skl2onnx ({exc}); install them with "
        'pip install "sk_dae[onnx]".'
    ) from None
from sklearn.utils.validation import check_is_fitted

from ._estimator import DenoisingAutoencoderTransformer
from ._functions import ACTIVATIONS
from ._imputer import DenoisingAutoencoderImputer, _is_nan
from .modules import StackedDenoisingAutoencoder, StackEnsemble

__all__ = []

# The input types a graph takes, and the dtype it computes in.
_INPUT_DTYPES = {FloatTensorType: np.float32, DoubleTensorType: np.float64}
# The ONNX element type of each dtype a graph holds.
_ELEMENT_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.int64): TensorProto.INT64,
}


class _Graph:
    """Adds nodes and constants to skl2onnx's container, with unique names."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container

    def constant(self, seed, array):
        name = self.scope.get_unique_variable_name(seed)
        array = np.asarray(array)
        if array.dtype.kind in "iu":  # indices: ONNX takes int64
            array = array.astype(np.int64)
        element_type = _ELEMENT_TYPES[array.dtype]
        self.container.add_initializer(name, element_type, array.shape, array.ravel())
        return name

    def node(self, op_type, inputs, output=None, **attrs):
        output = output or self.scope.get_unique_variable_name(op_type.lower())
        name = self.scope.get_unique_operator_name(op_type)
        self.container.add_node(op_type, list(inputs), output, name=name, **attrs)
        return output

    def cast(self, x, dtype):
        return self.node("Cast", [x], to=_ELEMENT_TYPES[np.dtype(dtype)])


# -- checks ---------------------------------------------------------------------


def _input_dtype(operator):
    """The dtype of the operator's input (all its columns): float32 or float64."""
    estimator = type(operator.raw_operator).__name__
    types = {type(variable.type) for variable in operator.inputs}
    if len(types) > 1 or not types <= set(_INPUT_DTYPES):
        names = sorted(t.__name__ for t in types)
        raise TypeError(
            f"{estimator} exports for float32 or float64 input only, all columns "
            f"of one dtype, but the ONNX input is {', '.join(names)}. Pass "
            "X.astype(np.float32) (or np.float64) as the sample input of to_onnx, "
            "and cast the data the same way when serving."
        )
    return _INPUT_DTYPES[types.pop()]


def _check_width(operator):
    """The input's columns, all together, must be the fitted features."""
    estimator = operator.raw_operator
    shapes = [variable.type.shape for variable in operator.inputs]
    widths = [shape[1] if len(shape) == 2 else None for shape in shapes]
    if all(isinstance(width, int) for width in widths):
        if sum(widths) != estimator.n_features_in_:
            raise ValueError(
                f"{type(estimator).__name__} was fitted on "
                f"{estimator.n_features_in_} features, but the ONNX input has "
                f"{sum(widths)} columns. Pass a sample of the training columns "
                "(X[:1]) to to_onnx."
            )


def _min_opset(estimator):
    # IsNaN, Where and ConstantOfShape are ONNX operators from opset 9 on; Equal
    # compares floats (a numeric missing_values) from opset 11 on.
    numeric = isinstance(estimator, DenoisingAutoencoderImputer) and not _is_nan(
        estimator.missing_values
    )
    return 11 if numeric else 9


def _check_built_in(estimator):
    """The converters build the graph from the built-in stack's weights
    (``coefs_``); a user's module has other layers."""
    autoencoders = getattr(estimator, "autoencoders_", [estimator])
    if estimator.is_categorical_.any():
        raise TypeError(
            f"to_onnx converts numeric inputs; this {type(estimator).__name__} "
            "was fitted on a table with categorical columns, whose encoding "
            "(categories to one-hot groups) and decoding the converter does not "
            "build. Fit on numeric columns (e.g. one-hot encode them with "
            "OneHotEncoder in a Pipeline before it) to export."
        )
    module = autoencoders[0].net_.module_
    # An imputer's ensemble trained together is read member by member
    # (_members); a transformer has coefs_ only for the built-in stack.
    built_in = StackedDenoisingAutoencoder
    if isinstance(estimator, DenoisingAutoencoderImputer):
        built_in = StackedDenoisingAutoencoder | StackEnsemble
    if not isinstance(module, built_in):
        raise TypeError(
            f"to_onnx converts the built-in stack; this {type(estimator).__name__} "
            f"trains its own module, {type(module).__name__}, whose layers the "
            "converter does not know. Export the module itself with "
            "torch.onnx.export (its encode as the forward pass), applying the "
            "input fill (input_fill_) to missing entries before it."
        )


def _check_exportable(operator, container):
    estimator = operator.raw_operator
    check_is_fitted(estimator)
    if getattr(estimator, "sample_posterior", False):
        raise ValueError(
            "This DenoisingAutoencoderImputer draws its imputations "
            "(sample_posterior=True); the ONNX graph would fill the holes with "
            "the reconstructions instead. Export an imputer fitted with "
            "sample_posterior=False."
        )
    opset = _min_opset(estimator)
    if container.target_opset < opset:
        raise ValueError(
            f"Exporting this {type(estimator).__name__} needs ONNX opset {opset} "
            f"or later; target_opset is {container.target_opset}. Pass "
            f"target_opset={opset} or later to to_onnx."
        )
    return _input_dtype(operator)


def _shape_calculator(width):
    """skl2onnx's shape calculator of an estimator whose output has
    ``width(estimator)`` columns: (N, F) -> (N, width), in the input's type."""

    def calculate(operator):
        estimator = operator.raw_operator
        check_is_fitted(estimator)
        _check_built_in(estimator)
        _input_dtype(operator)
        _check_width(operator)
        input_type = operator.inputs[0].type
        n_rows = input_type.shape[0] if input_type.shape else None
        operator.outputs[0].type = type(input_type)([n_rows, width(estimator)])

    return calculate


# -- the network ----------------------------------------------------------------


def _input(graph, operator):
    """The input as one (N, F) tensor: several columns are joined in order."""
    names = [variable.full_name for variable in operator.inputs]
    return names[0] if len(names) == 1 else graph.node("Concat", names, axis=1)


def _halves(autoencoder):
    """The fitted encoder (bottom up) and decoder (top down) of an
    autoencoder, each a list of ``(coef, intercept, activation)``, from its
    public fitted weights."""
    layers = list(
        zip(
            autoencoder.coefs_,
            autoencoder.intercepts_,
            autoencoder.activations_,
            strict=True,
        )
    )
    n_layers = len(layers) // 2
    return layers[:n_layers], layers[n_layers:]


def _dense(graph, x, weight, intercept, activation, dtype, transpose=False):
    bias = graph.constant("intercept", np.asarray(intercept, dtype))
    x = graph.node("Gemm", [x, weight, bias], transB=int(transpose))
    return graph.node(ACTIVATIONS[activation].onnx_op, [x])


def _encode(graph, x, autoencoder, dtype):
    """Codes of the top layer, ``h = s(x @ coef + intercept)`` through every
    encoder; and the names of the encoders' weight constants."""
    encoder, _ = _halves(autoencoder)
    weights = []
    for coef, intercept, activation in encoder:
        weights.append(graph.constant("coef", np.asarray(coef, dtype)))
        x = _dense(graph, x, weights[-1], intercept, activation, dtype)
    return x, weights


def _decode(graph, h, autoencoder, weights, dtype):
    """The reconstruction from top codes, through every decoder. A decoder
    weight equal to its encoder's transpose (tied weights) reuses the
    encoder's constant, which Gemm transposes: the file holds it once."""
    encoder, decoder = _halves(autoencoder)
    pairs = zip(decoder, reversed(encoder), reversed(weights), strict=True)
    for (coef, intercept, activation), (encoder_coef, *_), weight in pairs:
        tied = np.array_equal(coef, encoder_coef.T)
        if not tied:
            weight = graph.constant("coef", np.asarray(coef, dtype))
        h = _dense(graph, h, weight, intercept, activation, dtype, transpose=tied)
    return h


def _fill_holes(graph, x, missing, fill, dtype):
    """x with its ``missing`` entries replaced by the fitted ``input_fill_``
    (one constant 0 for a zero fill)."""
    fill = np.asarray(fill, dtype)
    value = np.zeros((), dtype) if not fill.any() else fill
    return graph.node("Where", [missing, graph.constant("fill", value), x])


# -- DenoisingAutoencoderTransformer ---------------------------------------------


def _convert_transformer(scope, operator, container):
    dtype = _check_exportable(operator, container)
    graph = _Graph(scope, container)
    x = _input(graph, operator)
    dae = operator.raw_operator
    x = _fill_holes(graph, x, graph.node("IsNaN", [x]), dae.input_fill_, dtype)
    codes, _ = _encode(graph, x, dae, dtype)
    graph.node("Identity", [codes], output=operator.outputs[0].full_name)


# -- DenoisingAutoencoderImputer ----------------------------------------------------


def _imputer_width(imputer):
    """The kept columns (or all, with keep_empty_features), then the indicator's."""
    width = imputer.n_features_in_
    if not imputer.keep_empty_features:
        width = int(imputer.observed_features_.sum())
    if imputer.indicator_ is not None:
        width += len(imputer.indicator_.features_)
    return width


def _missing_mask(graph, x, imputer, dtype):
    if _is_nan(imputer.missing_values):
        return graph.node("IsNaN", [x])
    placeholder = graph.constant(
        "missing_values", np.asarray(imputer.missing_values, dtype)
    )
    return graph.node("Equal", [x, placeholder])


def _fills(graph, x, missing, imputer):
    """The reconstruction of the kept columns, in their units, in float64 (as
    ``transform`` computes it): standardize, fill the holes, encode, decode."""
    kept = imputer.observed_features_
    mean, scale = imputer.mean_[kept], imputer.scale_[kept]
    x = graph.node("Sub", [graph.cast(x, np.float64), graph.constant("mean", mean)])
    safe_scale = np.where(scale > 0, scale, 1.0)
    x = graph.node("Div", [x, graph.constant("scale", safe_scale)])
    recons = []
    for autoencoder in _members(imputer):
        filled = _fill_holes(graph, x, missing, autoencoder.input_fill_, np.float64)
        codes, weights = _encode(graph, filled, autoencoder, np.float64)
        recons.append(_decode(graph, codes, autoencoder, weights, np.float64))
    # The members' mean, as transform takes it: their sum over their count.
    recon = recons[0]
    for other in recons[1:]:
        recon = graph.node("Add", [recon, other])
    count = np.asarray(len(recons), np.float64)
    recon = graph.node("Div", [recon, graph.constant("count", count)])
    recon = graph.node("Mul", [recon, graph.constant("scale", scale)])
    return graph.node("Add", [recon, graph.constant("mean", mean)])


class _Member:
    """One member of an imputer's autoencoders, as the graph reads it: the
    fitted ``coefs_``, ``intercepts_``, ``activations_`` and ``input_fill_``
    of a member of a :class:`~sk_dae.modules.StackEnsemble` on its own copy
    of the columns."""

    def __init__(self, autoencoder, m):
        module = autoencoder.net_.module_
        coefs, intercepts, activations = module.mlp_weights(m)
        self.coefs_ = [_as_array(c) for c in coefs]
        self.intercepts_ = [_as_array(b) for b in intercepts]
        self.activations_ = activations
        self.input_fill_ = autoencoder.input_fill_[_as_array(module.member_columns(m))]


def _as_array(tensor):
    return tensor.detach().cpu().numpy()


def _members(imputer):
    """The networks whose reconstructions the imputer averages: each
    autoencoder, or each member of one that holds several."""
    for autoencoder in imputer.autoencoders_:
        module = autoencoder.net_.module_
        if not isinstance(module, StackEnsemble):
            yield autoencoder
            continue
        for m in range(module.n_members):
            yield _Member(autoencoder, m)


def _with_empty_columns(graph, kept_part, imputer, x, dtype):
    """The kept columns back in their places, with the empty ones as 0."""
    kept = imputer.observed_features_
    shape = graph.node("Shape", [x])
    n_rows = graph.node("Gather", [shape, graph.constant("zero", np.array([0]))])
    shape = graph.node("Concat", [n_rows, graph.constant("one", np.array([1]))], axis=0)
    zeros = graph.node("ConstantOfShape", [shape], value=from_array(np.zeros(1, dtype)))
    padded = graph.node("Concat", [kept_part, zeros], axis=1)
    # Column j of the output: its place among the kept columns, or the zeros.
    places = np.where(kept, np.cumsum(kept) - 1, kept.sum())
    return graph.node("Gather", [padded, graph.constant("places", places)], axis=1)


def _convert_imputer(scope, operator, container):
    dtype = _check_exportable(operator, container)
    imputer = operator.raw_operator
    graph = _Graph(scope, container)
    x = _input(graph, operator)
    missing = _missing_mask(graph, x, imputer, dtype)
    columns = graph.constant("kept", np.flatnonzero(imputer.observed_features_))
    kept_x = graph.node("Gather", [x, columns], axis=1)
    kept_missing = graph.node("Gather", [missing, columns], axis=1)
    fills = graph.cast(_fills(graph, kept_x, kept_missing, imputer), dtype)
    out = graph.node("Where", [kept_missing, fills, kept_x])
    if imputer.keep_empty_features:
        out = _with_empty_columns(graph, out, imputer, x, dtype)
    if imputer.indicator_ is not None:
        features = graph.constant("indicator_features", imputer.indicator_.features_)
        flags = graph.node("Gather", [missing, features], axis=1)
        out = graph.node("Concat", [out, graph.cast(flags, dtype)], axis=1)
    graph.node("Identity", [out], output=operator.outputs[0].full_name)


update_registered_converter(
    DenoisingAutoencoderTransformer,
    "SkDaeDenoisingAutoencoderTransformer",
    _shape_calculator(lambda dae: len(dae.intercepts_[len(dae.coefs_) // 2 - 1])),
    _convert_transformer,
)
update_registered_converter(
    DenoisingAutoencoderImputer,
    "SkDaeDenoisingAutoencoderImputer",
    _shape_calculator(_imputer_width),
    _convert_imputer,
)
