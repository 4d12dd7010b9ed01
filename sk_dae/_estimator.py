"""DenoisingAutoencoderTransformer: the scikit-learn face of the skorch engine."""

import copy
from contextlib import contextmanager
from functools import partial
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._data import BatchIterator, RowData
from ._device import resolve_device
from ._loss import EMPHASIS_PRESETS, elementwise_loss
from ._modules import StackedDenoisingAutoencoder
from ._net import DenoisingAutoencoderNet
from ._noise import FRACTION_NOISES, NOISE_FUNCTIONS, user_noise

# Rows per forward pass in transform, inverse_transform and scoring: large enough
# to keep the matrix products efficient, small enough to bound GPU memory.
_INFERENCE_BATCH_SIZE = 4096

_FLOAT_DTYPES = (np.float64, np.float32)


@contextmanager
def _unchanged_on_error(estimator):
    """Restore the estimator's attributes if the block raises: a failed call must
    not leave a fitted model half-updated (validate_data sets n_features_in_)."""
    saved = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(saved)
        raise


def _check_unit_interval(X):
    values = X.data if sp.issparse(X) else X
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError(
            "loss='bce' (binary cross-entropy) needs inputs in [0, 1], but X has "
            f"values in [{values.min():.4g}, {values.max():.4g}]. Scale X into "
            "[0, 1] first (e.g. sklearn.preprocessing.MinMaxScaler in a Pipeline), "
            "or use loss='mse'."
        )


class DenoisingAutoencoderTransformer(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Features learned by a (stacked) denoising autoencoder.

    Each training step corrupts a mini-batch ``x`` into ``x~`` with fresh noise,
    encodes and decodes it, and minimises the reconstruction loss against the
    *clean* input, ``L(x, g(f(x~)))`` (Vincent et al., 2008). ``transform``
    returns the codes ``f(x)`` of the clean input. Training runs through a skorch
    ``NeuralNet`` on the CPU or a GPU.

    With several hidden layers the stack is, by default, pretrained greedily
    layer by layer as in Vincent et al. (2010): each layer is a denoising
    autoencoder of the codes of the layer below.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Code width of each encoder layer, bottom first. ``transform`` returns the
        codes of the last layer.

    corruption : {"mask", "gaussian", "salt_and_pepper", "swap"} or callable, \
            default="mask"
        The corruption process ``q(x~ | x)``:

        - ``"mask"``: set a random fraction of the inputs to zero (masking noise).
        - ``"gaussian"``: add isotropic Gaussian noise.
        - ``"salt_and_pepper"``: set a random fraction of the inputs to their
          feature's minimum or maximum over the training data, with even odds.
        - ``"swap"``: replace a random fraction of the inputs by the same
          feature's value in another random row of the mini-batch (the tabular
          "swap noise" of the Porto Seguro winning solution).
        - a callable ``f(X, level, generator) -> X_tilde`` on torch tensors of
          shape (batch, features), drawing its randomness from the given
          ``torch.Generator``. The components it changes count as corrupted.

    corruption_level : float or sequence of float, default=0.3
        The fraction of corrupted inputs (``"mask"``, ``"salt_and_pepper"``,
        ``"swap"``; in [0, 1)) or the noise's standard deviation
        (``"gaussian"``). A sequence gives one level per layer of a greedy stack.
        0 trains a plain (non-denoising) autoencoder.

    emphasis : {"full", "double"}, tuple (alpha, beta) or None, default=None
        Emphasized denoising (Vincent et al., 2010, section 4.3): weight
        ``alpha`` on the loss of the corrupted components and ``beta`` on the
        others. ``"full"`` is (1, 0), ``"double"`` is (1, 0.5). None weighs all
        components alike. Needs a corruption that touches a subset of the inputs
        (not ``"gaussian"``).

    stacking : {"greedy", "joint"}, default="greedy"
        How a stack of several layers is trained. ``"greedy"``: layer-wise
        pretraining, each layer ``max_epochs`` epochs, each denoising the codes
        of the layer below (Vincent et al., 2010): this is the stacked denoising
        autoencoder of the paper, every level of the stack is itself a denoising
        autoencoder, and ``corruption_level`` may differ per layer. ``"joint"``:
        the whole stack is trained end to end to reconstruct the clean input from
        a corrupted one (only the input is corrupted). Both are the same model
        with one hidden layer.

    activation : {"sigmoid", "relu", "tanh"}, default="sigmoid"
        Non-linearity of the encoders (and of the decoders of upper layers).

    loss : {"mse", "bce"}, default="mse"
        Reconstruction loss of the input. ``"mse"``: squared error with an affine
        decoder, for any real-valued data. ``"bce"``: cross-entropy with a
        sigmoid decoder, for data in [0, 1] (scale first, e.g. with
        ``MinMaxScaler``). Upper layers of a greedy stack reconstruct the codes
        of the layer below with squared error.

    tied_weights : bool, default=False
        If True each decoder weight is the transpose of its encoder weight, as in
        Vincent et al.; this halves the parameters.

    max_epochs : int, default=20
        Passes over the training data (per layer, for greedy stacking).

    batch_size : int, default=100
        Rows per mini-batch. Fresh noise is drawn for every batch.

    lr : float, default=1e-3
        Learning rate of the Adam optimizer.

    device : str or torch.device, default="auto"
        ``"auto"`` uses a GPU when one is visible and the CPU otherwise;
        ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` choose explicitly (asking for CUDA
        where there is none is an error).

    random_state : int, RandomState instance or None, default=None
        Seeds the private generators of the weight initialisation, the shuffling
        and the noise (the global numpy and torch generators are never touched).
        An int gives the same model on the same device at every fit.

    verbose : int, default=0
        0 prints nothing; 1 prints skorch's table of one line per epoch.

    Attributes
    ----------
    net_ : DenoisingAutoencoderNet
        The fitted skorch net; ``net_.module_`` is the torch module and
        ``net_.history`` the training history (with a ``"layer"`` column).

    n_iter_ : int
        Epochs run, over all layers of a greedy stack.

    loss_curve_ : list of float
        Mean training denoising loss of each epoch, in the order run (layer by
        layer for a greedy stack).

    device_ : str
        The device the model was trained on.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has feature names that are all
        strings.

    See Also
    --------
    sklearn.decomposition.PCA : Linear features of maximal variance.
    sklearn.neural_network.BernoulliRBM : Features of a restricted Boltzmann
        machine.

    References
    ----------
    P. Vincent, H. Larochelle, Y. Bengio and P.-A. Manzagol, "Extracting and
    Composing Robust Features with Denoising Autoencoders", ICML 2008.

    P. Vincent, H. Larochelle, I. Lajoie, Y. Bengio and P.-A. Manzagol, "Stacked
    Denoising Autoencoders: Learning Useful Representations in a Deep Network
    with a Local Denoising Criterion", JMLR 11, 2010.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sk_dae import DenoisingAutoencoderTransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> dae = DenoisingAutoencoderTransformer(
    ...     hidden_layer_sizes=(32,), max_epochs=3, random_state=0)
    >>> codes = dae.fit_transform(X / 16)
    >>> codes.shape
    (1797, 32)
    >>> dae.inverse_transform(codes).shape
    (1797, 64)
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "corruption": [StrOptions(set(NOISE_FUNCTIONS)), callable],
        "corruption_level": [Interval(Real, 0, None, closed="left"), "array-like"],
        "emphasis": [None, StrOptions(set(EMPHASIS_PRESETS)), tuple],
        "stacking": [StrOptions({"greedy", "joint"})],
        "activation": [StrOptions({"sigmoid", "relu", "tanh"})],
        "loss": [StrOptions({"mse", "bce"})],
        "tied_weights": ["boolean"],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        corruption="mask",
        corruption_level=0.3,
        emphasis=None,
        stacking="greedy",
        activation="sigmoid",
        loss="mse",
        tied_weights=False,
        max_epochs=20,
        batch_size=100,
        lr=1e-3,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.emphasis = emphasis
        self.stacking = stacking
        self.activation = activation
        self.loss = loss
        self.tied_weights = tied_weights
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- fitting --------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on X from freshly initialised weights.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data. Sparse matrices are densified one batch at a time.
        y : None
            Ignored; present for Pipeline compatibility.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        with _unchanged_on_error(self):
            X = self._validate_fit_input(X, reset=True)
            net = self._build_net(X.shape[1])
            self._feature_ranges = {}
            self._train(net, X, epochs=self.max_epochs)
        self._set_fitted(net)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train one more epoch on X (per layer, for greedy stacking).

        The first call initialises the model as ``fit`` does; later calls
        continue from the fitted weights with fresh noise.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored; present for Pipeline compatibility.

        Returns
        -------
        self : object
            The updated transformer.
        """
        first_call = not hasattr(self, "net_")
        with _unchanged_on_error(self):
            X = self._validate_fit_input(X, reset=first_call)
            net = self._build_net(X.shape[1]) if first_call else self.net_
            self._train(net, X, epochs=1)
        self._set_fitted(net)
        return self

    def _validate_fit_input(self, X, reset):
        X = validate_data(
            self, X, reset=reset, accept_sparse=("csr", "csc"), dtype=_FLOAT_DTYPES
        )
        if self.loss == "bce":
            _check_unit_interval(X)
        self._layer_levels()  # cross-parameter checks, before any training
        return X

    def _layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, Integral) else tuple(sizes)
        if not sizes or not all(
            isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes
        ):
            raise ValueError(
                "hidden_layer_sizes must be a positive int or a non-empty sequence "
                f"of positive ints, one per layer; got {self.hidden_layer_sizes!r}."
            )
        return sizes

    def _layer_levels(self):
        """One corruption level per layer, after the checks that span parameters."""
        n_layers = len(self._layer_sizes())
        levels = np.atleast_1d(np.asarray(self.corruption_level, dtype=float))
        if levels.ndim != 1 or len(levels) not in (1, n_layers):
            raise ValueError(
                "corruption_level must be a float or one value per hidden layer "
                f"({n_layers}); got {self.corruption_level!r}."
            )
        if self.stacking == "joint" and len(levels) > 1:
            raise ValueError(
                "stacking='joint' corrupts the input only: give corruption_level as "
                "a single float. Per-layer levels apply to stacking='greedy'."
            )
        if not np.all(np.isfinite(levels)) or np.any(levels < 0):
            raise ValueError(
                "corruption_level must be finite and >= 0; got "
                f"{self.corruption_level!r}."
            )
        if self.corruption in FRACTION_NOISES and np.any(levels >= 1):
            raise ValueError(
                f"corruption_level is the fraction of corrupted inputs for "
                f"corruption={self.corruption!r} and must be in [0, 1); got "
                f"{self.corruption_level!r}."
            )
        self._emphasis_weights()
        return np.broadcast_to(levels, (n_layers,)).tolist()

    def _emphasis_weights(self):
        emphasis = EMPHASIS_PRESETS.get(self.emphasis, self.emphasis)
        if emphasis is None:
            return None
        if (
            len(emphasis) != 2
            or not all(isinstance(w, Real) and np.isfinite(w) for w in emphasis)
            or min(emphasis) < 0
            or sum(emphasis) == 0
        ):
            raise ValueError(
                "emphasis must be 'full', 'double', None or a tuple (alpha, beta) of "
                f"non-negative weights, not both zero; got {self.emphasis!r}."
            )
        if self.corruption == "gaussian":
            raise ValueError(
                "emphasis weighs corrupted against untouched inputs, but "
                "corruption='gaussian' touches every input. Use emphasis=None, or a "
                "corruption among 'mask', 'salt_and_pepper', 'swap'."
            )
        return tuple(float(w) for w in emphasis)

    def _build_net(self, n_features):
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=3)
        init_seed, noise_seed, shuffle_seed = (int(s) for s in seeds)
        net = DenoisingAutoencoderNet(
            module=StackedDenoisingAutoencoder,
            module__n_features=n_features,
            module__hidden_layer_sizes=self._layer_sizes(),
            module__activation=self.activation,
            module__input_output="sigmoid" if self.loss == "bce" else "identity",
            module__tied_weights=self.tied_weights,
            module__init_seed=init_seed,
            criterion__emphasis=self._emphasis_weights(),
            input_loss=self.loss,
            noise_seed=noise_seed,
            shuffle_seed=shuffle_seed,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=None,
            device=resolve_device(self.device),
            verbose=self.verbose,
        )
        return net.initialize()

    def _train(self, net, X, epochs):
        """Run ``epochs`` epochs of every stage: each layer in turn (greedy) or the
        whole stack at once (joint)."""
        levels = self._layer_levels()
        data = RowData(X, net.device)
        stages = [None] if self.stacking == "joint" else range(len(levels))
        for layer in stages:
            level = levels[layer or 0]
            net.begin_stage(layer, self._corrupter(layer, data, net.device), level)
            net.partial_fit(data, epochs=epochs)
            if layer is not None and layer + 1 < len(levels):
                data = RowData(self._layer_codes(net, data, layer), net.device)
        # The stage's corruption may hold device tensors: keep none in the model.
        net.begin_stage(None, corrupt=None, level=0.0)

    def _corrupter(self, layer, data, device):
        if callable(self.corruption):
            return user_noise(self.corruption)
        noise = NOISE_FUNCTIONS[self.corruption]
        if self.corruption != "salt_and_pepper":
            return noise
        # Salt and pepper needs each feature's range; partial_fit widens it.
        key = layer or 0
        low, high = data.column_range()
        ranges = getattr(self, "_feature_ranges", {})
        if key in ranges:
            low, high = (
                torch.minimum(low, ranges[key][0]),
                torch.maximum(high, ranges[key][1]),
            )
        # A new dict, not an update: a failed call restores the old one.
        self._feature_ranges = {**ranges, key: (low, high)}
        return partial(noise, low=low.to(device), high=high.to(device))

    @staticmethod
    def _layer_codes(net, data, layer):
        """Codes of ``layer`` for every row of ``data``: the next layer's input."""
        encoder = net.module_.layers[layer]
        codes = torch.empty(
            (len(data), encoder.weight.shape[0]), device=data.storage_device
        )
        start = 0
        with torch.no_grad():
            for batch in BatchIterator(data, _INFERENCE_BATCH_SIZE):
                codes[start : start + len(batch)] = encoder.encode(batch)
                start += len(batch)
        return codes

    def _set_fitted(self, net):
        self.net_ = net
        self.device_ = net.device
        self.n_iter_ = len(net.history)
        self.loss_curve_ = [float(v) for v in net.history[:, "train_loss"]]
        self._n_features_out = self._layer_sizes()[-1]

    # -- inference ------------------------------------------------------------

    def _map_batches(self, X, func, tail_shape):
        """Apply ``func(module, batch)`` to X batch by batch without gradients.

        The arithmetic runs in X's float dtype: float64 input gets a float64 copy
        of the (float32-trained) weights, so results do not depend on the order
        or grouping of the rows beyond float64 rounding. Each result goes to the
        host at once, so device memory holds one batch whatever len(X).
        """
        dtype = torch.float64 if X.dtype == np.float64 else torch.float32
        module = self.net_.module_
        if dtype != torch.float32:
            module = copy.deepcopy(module).to(dtype)
        data = RowData(X, self.net_.device, resident=False, dtype=dtype)
        out = np.empty((len(data), *tail_shape), dtype=X.dtype)
        start = 0
        with torch.no_grad():
            for batch in BatchIterator(data, _INFERENCE_BATCH_SIZE):
                out[start : start + len(batch)] = func(module, batch).cpu().numpy()
                start += len(batch)
        return out

    def _validate_transform_input(self, X):
        check_is_fitted(self)
        return validate_data(
            self, X, reset=False, accept_sparse=("csr", "csc"), dtype=_FLOAT_DTYPES
        )

    def transform(self, X):
        """Codes of the top layer for the clean X (no noise).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data. With ``loss="bce"``, values slightly outside [0, 1] (test
            rows of a scaler fitted on training rows) are accepted.

        Returns
        -------
        X_new : ndarray of shape (n_samples, hidden_layer_sizes[-1])
            The codes, in X's float dtype.
        """
        X = self._validate_transform_input(X)
        return self._map_batches(
            X, lambda module, x: module.encode(x), (self._n_features_out,)
        )

    def inverse_transform(self, X):
        """Decode codes back to input space through every layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, hidden_layer_sizes[-1])
            Codes, as returned by ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
            The reconstruction, in the codes' float dtype.
        """
        check_is_fitted(self)
        X = check_array(X, dtype=_FLOAT_DTYPES)
        if X.shape[1] != self._n_features_out:
            raise ValueError(
                f"inverse_transform expects codes of width {self._n_features_out} "
                f"(the output of transform), but X has {X.shape[1]} columns."
            )
        return self._map_batches(
            X, lambda module, h: module.decode(h), (self.n_features_in_,)
        )

    def score_samples(self, X):
        """Negative reconstruction loss of each clean sample (higher is better).

        Usable as an anomaly score: rows unlike the training data reconstruct
        badly.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the mean over features of the ``loss`` between each row and its
            reconstruction through the whole stack.
        """
        X = self._validate_transform_input(X)
        kind = self.loss

        def neg_loss(module, x):
            z = module.reconstruct(x, logits=kind == "bce")
            return -elementwise_loss(z, x, kind).mean(dim=1)

        return self._map_batches(X, neg_loss, ())

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`: minus the mean reconstruction loss.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
