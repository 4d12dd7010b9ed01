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
  entry (NaN) enters the encoder as 0;
- the imputer standardizes, reconstructs in float64 (as it does in Python) and
  fills only the holes: observed entries pass through bit for bit.

Only ``transform`` is exported: skl2onnx converts a transformer's
``transform``; ``inverse_transform`` and ``score_samples`` have no graph.

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

__all__ = []

# IsNaN, Where and ConstantOfShape are ONNX operators from opset 9 on.
_MIN_OPSET = 9

# The float input types the graphs take, and the ONNX element type of each.
_ELEMENT_TYPES = {
    FloatTensorType: TensorProto.FLOAT,
    DoubleTensorType: TensorProto.DOUBLE,
}
_NUMPY_DTYPES = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64}


class _Graph:
    """Adds nodes and constants to skl2onnx's container, with unique names."""

    def __init__(self, scope, container):
        self.scope, self.container = scope, container

    def constant(self, seed, array, element_type):
        name = self.scope.get_unique_variable_name(seed)
        array = np.asarray(array)
        self.container.add_initializer(name, element_type, array.shape, array.ravel())
        return name

    def node(self, op_type, inputs, output=None, **attrs):
        output = output or self.scope.get_unique_variable_name(op_type.lower())
        name = self.scope.get_unique_operator_name(op_type)
        self.container.add_node(op_type, list(inputs), output, name=name, **attrs)
        return output


# -- checks ---------------------------------------------------------------------


def _element_type(operator):
    """The ONNX element type of the operator's input; float32 or float64 only."""
    input_type = type(operator.inputs[0].type)
    if input_type not in _ELEMENT_TYPES:
        raise TypeError(
            f"{type(operator.raw_operator).__name__} exports for float32 or "
            f"float64 input only, but the ONNX input is {input_type.__name__}. "
            "Pass X.astype(np.float32) (or np.float64) as the sample input of "
            "to_onnx, and cast the data the same way when serving."
        )
    return _ELEMENT_TYPES[input_type]


def _check_exportable(operator, container):
    estimator = operator.raw_operator
    check_is_fitted(estimator)
    if container.target_opset < _MIN_OPSET:
        raise ValueError(
            f"{type(estimator).__name__} needs ONNX opset {_MIN_OPSET} or later "
            f"(IsNaN, Where); target_opset is {container.target_opset}. Pass "
            f"target_opset={_MIN_OPSET} or later to to_onnx."
        )
    _element_type(operator)


def _shape_calculator(width):
    """skl2onnx's shape calculator of an estimator whose output has
    ``width(estimator)`` columns: (N, F) -> (N, width), in the input's type."""

    def calculate(operator):
        estimator = operator.raw_operator
        check_is_fitted(estimator)
        _element_type(operator)
        input_type = operator.inputs[0].type
        n_rows = input_type.shape[0] if input_type.shape else None
        operator.outputs[0].type = type(input_type)([n_rows, width(estimator)])

    return calculate


# -- the network ----------------------------------------------------------------


def _layers(autoencoder):
    return autoencoder.net_.module_.layers


def _array(tensor, dtype):
    return tensor.detach().cpu().numpy().astype(dtype)


def _encode(graph, x, layers, element_type):
    """Codes of the top layer: ``h = s(x W^T + b)`` through every layer."""
    dtype = _NUMPY_DTYPES[element_type]
    weight_names = []
    for layer in layers:
        weight = graph.constant("weight", _array(layer.weight, dtype), element_type)
        bias = graph.constant("bias", _array(layer.bias, dtype), element_type)
        x = graph.node("Gemm", [x, weight, bias], transB=1)
        x = graph.node(ACTIVATIONS[layer.activation].onnx_op, [x])
        weight_names.append(weight)
    return x, weight_names


def _decode(graph, h, layers, weight_names, element_type):
    """Reconstruction from top codes: ``z = s'(h W'^T + b')``, top layer first.

    A tied decoder (``W' = W^T``) reuses the encoder's constant: ``h W``.
    """
    dtype = _NUMPY_DTYPES[element_type]
    for layer, weight in zip(reversed(layers), reversed(weight_names), strict=True):
        bias = graph.constant(
            "decoder_bias", _array(layer.decoder_bias, dtype), element_type
        )
        if layer.tied_weights:
            h = graph.node("Gemm", [h, weight, bias])
        else:
            matrix = _array(layer.decoder_weight, dtype)
            decoder = graph.constant("decoder_weight", matrix, element_type)
            h = graph.node("Gemm", [h, decoder, bias], transB=1)
        h = graph.node(ACTIVATIONS[layer.output_activation].onnx_op, [h])
    return h


def _zero_holes(graph, x, missing, element_type):
    zero = graph.constant(
        "zero", np.zeros((), _NUMPY_DTYPES[element_type]), element_type
    )
    return graph.node("Where", [missing, zero, x])


# -- DenoisingAutoencoderTransformer ---------------------------------------------


def _convert_transformer(scope, operator, container):
    _check_exportable(operator, container)
    graph = _Graph(scope, container)
    element_type = _element_type(operator)
    x = operator.inputs[0].full_name
    x = _zero_holes(graph, x, graph.node("IsNaN", [x]), element_type)
    codes, _ = _encode(graph, x, _layers(operator.raw_operator), element_type)
    graph.node("Identity", [codes], output=operator.outputs[0].full_name)


# -- DenoisingAutoencoderImputer ----------------------------------------------------


def _imputer_width(imputer):
    """The kept columns (or all, with keep_empty_features), then the indicator's."""
    width = imputer.n_features_in_
    if not imputer.keep_empty_features:
        width = int(imputer._observed_columns.sum())
    if imputer.indicator_ is not None:
        width += len(imputer.indicator_.features_)
    return width


def _missing_mask(graph, x, imputer, element_type):
    if _is_nan(imputer.missing_values):
        return graph.node("IsNaN", [x])
    dtype = _NUMPY_DTYPES[element_type]
    placeholder = graph.constant(
        "missing_values", np.asarray(imputer.missing_values, dtype), element_type
    )
    return graph.node("Equal", [x, placeholder])


def _fills(graph, x, missing, imputer):
    """The reconstruction of the kept columns, in their units, in float64 (as
    ``transform`` computes it): standardize, zero the holes, encode, decode."""
    double = TensorProto.DOUBLE
    kept = imputer._observed_columns
    mean, scale = imputer.mean_[kept], imputer.scale_[kept]
    x = graph.node("Cast", [x], to=double)
    x = graph.node("Sub", [x, graph.constant("mean", mean, double)])
    safe_scale = np.where(scale > 0, scale, 1.0)
    x = graph.node("Div", [x, graph.constant("scale", safe_scale, double)])
    x = _zero_holes(graph, x, missing, double)
    layers = _layers(imputer.autoencoder_)
    codes, weights = _encode(graph, x, layers, double)
    recon = _decode(graph, codes, layers, weights, double)
    recon = graph.node("Mul", [recon, graph.constant("scale", scale, double)])
    return graph.node("Add", [recon, graph.constant("mean", mean, double)])


def _with_empty_columns(graph, kept_part, imputer, x, element_type):
    """The kept columns back in their places, with the empty ones as 0."""
    kept = imputer._observed_columns
    n_rows = graph.node(
        "Gather",
        [
            graph.node("Shape", [x]),
            graph.constant("zero", np.array([0]), TensorProto.INT64),
        ],
    )
    shape = graph.node(
        "Concat",
        [n_rows, graph.constant("one", np.array([1]), TensorProto.INT64)],
        axis=0,
    )
    zero = np.zeros(1, _NUMPY_DTYPES[element_type])
    zeros = graph.node("ConstantOfShape", [shape], value=from_array(zero))
    padded = graph.node("Concat", [kept_part, zeros], axis=1)
    # Column j of the output: its place among the kept columns, or the zeros.
    places = np.where(kept, np.cumsum(kept) - 1, kept.sum())
    return graph.node(
        "Gather", [padded, graph.constant("places", places, TensorProto.INT64)], axis=1
    )


def _convert_imputer(scope, operator, container):
    _check_exportable(operator, container)
    imputer = operator.raw_operator
    graph = _Graph(scope, container)
    element_type = _element_type(operator)
    x = operator.inputs[0].full_name
    missing = _missing_mask(graph, x, imputer, element_type)
    columns = graph.constant(
        "kept", np.flatnonzero(imputer._observed_columns), TensorProto.INT64
    )
    kept_x = graph.node("Gather", [x, columns], axis=1)
    kept_missing = graph.node("Gather", [missing, columns], axis=1)
    fills = graph.node(
        "Cast", [_fills(graph, kept_x, kept_missing, imputer)], to=element_type
    )
    out = graph.node("Where", [kept_missing, fills, kept_x])
    if imputer.keep_empty_features:
        out = _with_empty_columns(graph, out, imputer, x, element_type)
    if imputer.indicator_ is not None:
        features = graph.constant(
            "indicator_features", imputer.indicator_.features_, TensorProto.INT64
        )
        flags = graph.node("Gather", [missing, features], axis=1)
        flags = graph.node("Cast", [flags], to=element_type)
        out = graph.node("Concat", [out, flags], axis=1)
    graph.node("Identity", [out], output=operator.outputs[0].full_name)


update_registered_converter(
    DenoisingAutoencoderTransformer,
    "SkDaeDenoisingAutoencoderTransformer",
    _shape_calculator(lambda dae: dae._n_features_out),
    _convert_transformer,
)
update_registered_converter(
    DenoisingAutoencoderImputer,
    "SkDaeDenoisingAutoencoderImputer",
    _shape_calculator(_imputer_width),
    _convert_imputer,
)
