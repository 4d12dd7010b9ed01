"""DenoisingAutoencoderTransformer: the scikit-learn face of the skorch engine."""

import copy
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import ProgressBar

from ._callbacks import DivergenceGuard, Outcome, StageEarlyStopping
from ._device import resolve_device
from ._fill import FILLS
from ._functions import ACTIVATIONS, LOSSES
from ._inference import Inference, map_batches
from ._loss import EMPHASIS_PRESETS
from ._missing import empty_rows
from ._net import DenoisingAutoencoderNet
from ._noise import NOISE_FUNCTIONS, Corruption
from ._placement import PlacementMixin
from ._protocol import (
    ModuleParamsMixin,
    build_module,
    check_module_kind,
    module_identity,
)
from ._random import draw_seeds
from ._state import net_state, restore_net, unchanged_on_error
from ._table import (
    FROM_DTYPE,
    TableColumns,
    categorical_mask,
    check_still_numeric,
    column_kinds,
    finite_table_or_missing,
    most_probable,
)
from ._threads import keeps_callers_threads
from ._validation import (
    check_emphasis,
    check_layer_sizes,
    check_levels,
    check_table_corruption,
    check_training_data,
    check_unit_interval,
    check_user_module_params,
    check_warm_structure,
    finite_or_missing,
)
from .modules import StackedDenoisingAutoencoder

_FLOAT_DTYPES = (np.float64, np.float32)


class DenoisingAutoencoderTransformer(
    ModuleParamsMixin,
    PlacementMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
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

    Missing values (NaN) are accepted everywhere but in ``inverse_transform``. A
    missing entry enters the encoder as an entry dropped by masking noise
    does, as ``input_fill`` says (0 by default, so scale the data so that 0 is
    a neutral value, e.g. with ``MinMaxScaler`` or ``StandardScaler``, which
    both pass NaN through; or fill with the column means), and it is never a
    reconstruction target: the training and validation losses and
    :meth:`score_samples` average over observed entries only. A row with no
    observed entry trains nothing, gets the code of a row of fill values
    (``input_fill_``), and scores NaN. A column with no observed entry in
    ``fit``'s X is learned from nothing (a warning says so).

    A call that raises (in ``fit``, ``partial_fit`` or any other method)
    leaves a fitted model exactly as it was: every training call builds a new
    net from the fitted one's state, and the fitted net is never trained in
    place.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Code width of each encoder layer of the built-in stack, bottom first.
        ``transform`` returns the codes of the last layer.

    module : torch.nn.Module class or instance, or None, default=None
        The network to train. None: the built-in dense stack
        (:class:`sk_dae.modules.StackedDenoisingAutoencoder`), shaped by
        ``hidden_layer_sizes``, ``activation``, ``tied_weights`` and
        ``stacking``. Otherwise a module with ``encode(X) -> H`` and
        ``decode(H) -> X_hat`` (logits for ``loss="bce"``; see
        :mod:`sk_dae.modules`), trained end to end with every noise, the input
        fill, the losses, early stopping and the rest of this estimator.

        - A class is built at each fresh fit with the ``module__<name>``
          parameters (``module__width=64`` reaches its ``__init__`` as
          ``width=64``; ``get_params``, ``set_params``, ``clone`` and grid
          searches see them), and with ``n_features``, the input's width,
          when its ``__init__`` takes it. Its initialisation runs seeded by
          ``random_state``, in a fork of torch's generator (the caller's
          stream is left as it was), or gets that seed as ``init_seed``
          when its ``__init__`` takes one.
        - An instance is deep-copied at each fresh fit, its weights as they
          are; the object given is never trained.

        ``transform`` returns ``encode``'s output flattened to one row per
        sample. With a module, ``hidden_layer_sizes``, ``tied_weights`` and
        ``activation`` must keep their defaults (they shape the built-in
        stack), and either ``stacking`` trains the module as one stage.
        Pickling stores the class by reference: it must be importable where
        the model is loaded, and ``skops.io.load`` must be told to trust it
        (skops cannot store a model given an instance; pickle can).

    corruption : {"mask", "block_mask", "gaussian", "salt_and_pepper", "swap"} \
            or callable, default="mask"
        The corruption process ``q(x~ | x)``:

        - ``"mask"``: drop a random fraction of the inputs (masking noise): they
          enter the encoder as ``input_fill`` says (0 by default).
        - ``"block_mask"``: masking noise for images (needs ``image_shape``).
          Each row loses either a random fraction of its pixels, as with
          ``"mask"``, or, with even odds, one square of pixels at a random
          place, whose side is drawn uniformly from 0 to that of a square of
          ``corruption_level`` times the image's area: it trains the features
          to survive occlusions, which i.i.d. masking never shows the network.
          Upper layers of a greedy stack, which see codes, get ``"mask"``.
        - ``"gaussian"``: add isotropic Gaussian noise.
        - ``"salt_and_pepper"``: set a random fraction of the inputs to their
          feature's minimum or maximum over the training data, with even odds.
        - ``"swap"``: replace a random fraction of the inputs by the same
          feature's value in another random row of the mini-batch (the tabular
          "swap noise" of the Porto Seguro winning solution).
        - a callable ``f(X, level, generator) -> X_tilde`` on torch tensors of
          shape (batch, features), drawing its randomness from the given
          ``torch.Generator``, which lives on the batch's device (draw with
          ``device=X.device``). The components it changes count as corrupted.

        Missing entries stay missing under every corruption: salt and pepper
        uses the range of the observed values, swap noise never takes a
        missing value, and with masking noise a missing entry counts as
        corrupted (for ``emphasis``).

    corruption_level : float or sequence of float, default=0.3
        The fraction of corrupted inputs (``"mask"``, ``"salt_and_pepper"``,
        ``"swap"``; in [0, 1)) or the noise's standard deviation
        (``"gaussian"``). A sequence gives one level per layer of a greedy stack.
        0 trains a plain (non-denoising) autoencoder.

    categorical_features : "from_dtype", array-like of int, str or bool, \
            or None, default="from_dtype"
        Which columns of X are categorical, as in
        :class:`~sklearn.ensemble.HistGradientBoostingClassifier`:

        - ``"from_dtype"``: a DataFrame's category, string, object and bool
          columns (pandas; polars' ``Categorical``, ``Enum``, ``String`` and
          ``Boolean``), a string array's every column, and an object array's
          columns that hold anything but numbers. A numeric or bool numpy
          array has none (a bool array is read as 0 and 1, a binary image).
        - a boolean mask, column indices or column names: those columns (an
          integer-coded column can be declared categorical).
        - None: every column is numeric.

        A categorical column enters the network as a one-hot group of its
        categories (sorted, as ``OrdinalEncoder`` sorts them), missing as a
        whole when its value is (NaN, None or ``pd.NA``) and, at ``transform``,
        when its category was unseen at fit (with a warning). The noise acts on
        whole columns: masking drops a column's whole group, swap noise takes
        another row's category, salt and pepper sets a category drawn
        uniformly from its levels, and Gaussian noise leaves categories as
        they are. Its loss is the softmax cross-entropy over its group,
        counted once per category, as its one-hot entries would count, against
        once for a numeric column (the weighting that
        ``benchmarks/mixed_tables.py`` chose).
        ``inverse_transform`` returns the most probable category. The
        encoding is fixed at the first fit: a warm start or ``partial_fit``
        encodes with it.

    max_categories : int or None, default=None
        At most this many levels per categorical column, the rarest grouped
        into one, as in :class:`~sklearn.preprocessing.OneHotEncoder` (which
        counts the group as one of them). None: no limit, but a column of more
        than 1,000 levels is refused.

    min_frequency : int, float or None, default=None
        Categories seen fewer times than this (a count, or a share of the
        rows in (0, 1)) are grouped into one level, as in
        :class:`~sklearn.preprocessing.OneHotEncoder`. The group decodes as
        its most frequent category.

    image_shape : tuple of int or None, default=None
        The shape of the image each row of X holds, ``(height, width)`` or
        ``(height, width, channels)``, its values in C order (channels last,
        as ``images.reshape(n_images, -1)`` lays them out). Needed by
        ``corruption="block_mask"`` and unused by the other corruptions; when
        given, its product must be the number of features.

    input_fill : {"zero", "mean", "learned"}, default="zero"
        What an input the encoder does not see (a missing entry, or one
        dropped by masking noise) enters it as:

        - ``"zero"``: 0, as in Vincent et al. The encoder cannot tell such a
          hole from a true 0 (a black pixel).
        - ``"mean"``: the mean of the feature's observed values in ``fit``'s X.
        - ``"learned"``: a value per feature trained with the weights,
          starting at that mean.

        It applies to the bottom layer (upper layers of a greedy stack fill
        with 0) in training and in every method that encodes, and
        ``input_fill_`` holds the fitted values. With missing inputs at
        test time, or occlusions, ``"mean"`` or ``"learned"`` keeps a hole
        from reading as a dark patch: see the user guide's recipe
        (Missing data, "Images with holes").

    consistency : float, default=0.0
        Weight of a term added to the training loss,
        ``consistency * mean((h~ - h)^2)``, that pulls the codes ``h~`` of each
        corrupted row towards the codes ``h`` of its clean row (held
        constant), so that the features of a row with missing inputs stay
        close to those a classifier trained on clean rows has seen. For a
        greedy stack, each layer's codes. 0 (the default) trains the plain
        denoising criterion. The training and validation losses include it.

    emphasis : {"full", "double"}, tuple (alpha, beta) or None, default=None
        Emphasized denoising (Vincent et al., 2010): weight
        ``alpha`` on the loss of the corrupted components and ``beta`` on the
        others. ``"full"`` is (1, 0), ``"double"`` is (1, 0.5). None weighs all
        components alike. Needs a corruption that touches a subset of the inputs
        (not ``"gaussian"``). ``(0, 1)`` is the opposite of ``"full"``: the
        loss counts only the inputs the network saw, which kept clean
        accuracy in the user guide's recipe for holed images.

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
        ``"auto"`` uses the current GPU when one is visible and the CPU
        otherwise; ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` choose explicitly
        (asking for CUDA where there is none is an error). ``"auto"`` and
        ``"cuda"`` resolve at fit to one GPU, which the model keeps. After
        ``set_params(device=...)`` on a fitted model, the next ``transform``,
        ``partial_fit`` or warm ``fit`` moves the network there. On a GPU,
        float64 input is computed in float32 (the precision the network was
        trained in) and returned as float64.

    random_state : int, RandomState instance or None, default=None
        Seeds the private generators of the weight initialisation, the
        shuffling, the early-stopping split and the noise. An int gives the
        same model on the same device at every fit (within float32 rounding
        across machines); a ``RandomState`` is drawn from, as in scikit-learn.
        None draws the seeds from fresh operating-system entropy: unlike
        scikit-learn's convention, it never reads numpy's global generator
        (``np.random.seed`` does not make such fits repeatable), and no global
        numpy or torch generator is read or advanced.

    early_stopping : bool, default=False
        Hold out part of the training data (see ``validation``; chosen by
        ``random_state``, the same at every call), stop when the validation
        loss has not improved by more than ``tol`` for ``n_iter_no_change``
        epochs, and restore the weights of the best epoch. ``fit`` only.

    validation_fraction : float, default=0.1
        Share of the training rows (or of the observed entries) held out for
        early stopping, in (0, 1).

    validation : {"rows", "entries"}, default="rows"
        What early stopping holds out.

        - ``"rows"``: whole rows; the validation loss is their denoising loss,
          with the same noise at every epoch. For a greedy stack this applies
          to each layer in turn, on the codes of the held-out rows.
        - ``"entries"``: a share of the observed entries of every row, which
          training never sees (they are missing to it); the validation loss is
          the loss of their reconstruction from the rest of their row, without
          noise: how well the model fills a hole. Every row still trains, so
          it suits small data. Dense X only, and a joint stack (or one layer).

    n_iter_no_change : int, default=10
        Epochs without improvement before early stopping ends training.

    tol : float, default=1e-4
        Smallest decrease of the validation loss that counts as an improvement.

    warm_start : bool, default=False
        If True, ``fit`` continues training the fitted network for another
        ``max_epochs`` epochs instead of starting from new weights. The network's
        shape (``hidden_layer_sizes``, ``activation``, ``loss``,
        ``tied_weights``, ``stacking``) and the number of features must not
        change in between.

    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (``LRScheduler``, ``EpochScoring``,
        ``Checkpoint``, ...) passed to the net. Each training call (``fit``,
        warm ``fit``, ``partial_fit``) runs deep copies of the callbacks given
        at that call, so the objects given here are never modified; the last
        call's are in ``net_.callbacks_``. A batch is a pair ``(X, X)``: the
        clean rows are their own target, which skorch's scoring callbacks
        score the reconstructions against.

    verbose : int, default=0
        0 prints nothing. 1 prints one line per epoch (training loss, validation
        loss, duration) and shows a progress bar during each epoch.

    **module_params : dict
        ``module__<name>`` parameters of a ``module`` class (see ``module``).

    Attributes
    ----------
    coefs_ : list of ndarray
        The built-in stack's weights (a user's module has none: its weights
        are in ``net_.module_``) as read-only arrays, laid out as
        ``MLPRegressor.coefs_``:
        the network from the input back to it, the encoders bottom up and then
        the decoders top down, layer ``i`` computing ``activations_[i](X @
        coefs_[i] + intercepts_[i])``. ``coefs_[0]`` is the first encoder,
        of shape ``(n_features_in_, hidden_layer_sizes[0])``; a tied decoder's
        coef is its encoder's, transposed.

    intercepts_ : list of ndarray
        The built-in stack's biases, aligned with ``coefs_``.

    activations_ : list of str
        The non-linearity of each layer of ``coefs_``.

    input_fill_ : ndarray of shape (n_inputs,)
        The value each input enters the encoder as when it is missing or
        masked (read-only): zeros for ``input_fill="zero"``. An input is a
        numeric feature, or one category of a categorical one (the numeric
        features come first, then each categorical one's categories).

    is_categorical_ : ndarray of shape (`n_features_in_`,), dtype=bool
        Which columns were treated as categorical.

    categories_ : list of ndarray
        For each categorical column, in column order, the categories seen at
        fit, sorted (the rare ones that ``max_categories`` or
        ``min_frequency`` group included).

    corruption_ : Corruption
        The noise as the model was trained with it: its ``kind``, the
        ``levels`` of each layer's stage and, for salt and pepper, the feature
        ``ranges`` it learned. ``sk_dae.inspection`` corrupts with it.

    net_ : DenoisingAutoencoderNet
        The fitted skorch net; ``net_.module_`` is the trained torch module
        (the built-in stack, or a copy of ``module``) and ``net_.history`` the
        training history (with a ``"layer"`` column). It is the fitted state:
        train through the estimator's methods, which never change it in
        place (``net_.fit`` and ``net_.partial_fit`` refuse).

    n_iter_ : int
        Epochs run, over all layers of a greedy stack.

    loss_curve_ : list of float
        Mean training denoising loss of each epoch, in the order run (layer by
        layer for a greedy stack).

    validation_scores_ : list of float or None
        Minus the validation denoising loss of each epoch (higher is better, as
        in :meth:`score`), NaN for an epoch without validation (``partial_fit``,
        or a fit without ``early_stopping`` after one with it); None when no
        epoch had validation.

    device_ : str
        The device the network is on, with its index (``"cpu"``, ``"cuda:0"``).
        A loaded model keeps the device it was saved from until it is first
        used: loading touches no GPU.

    n_features_in_ : int
        Number of features seen during fit.

    feature_names_in_ : ndarray of shape (n_features,)
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
        "module": [None, type, torch.nn.Module],
        "corruption": [StrOptions(set(NOISE_FUNCTIONS)), callable],
        "corruption_level": [Interval(Real, 0, None, closed="left"), "array-like"],
        "categorical_features": [None, StrOptions({FROM_DTYPE}), "array-like"],
        "max_categories": [None, Interval(Integral, 1, None, closed="left")],
        "min_frequency": [
            None,
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="neither"),
        ],
        "image_shape": [None, "array-like"],
        "input_fill": [StrOptions(set(FILLS))],
        "consistency": [Interval(Real, 0, None, closed="left")],
        "emphasis": [None, StrOptions(set(EMPHASIS_PRESETS)), tuple],
        "stacking": [StrOptions({"greedy", "joint"})],
        # The identity is for the affine decoder of "mse", not an encoder.
        "activation": [StrOptions(set(ACTIVATIONS) - {"identity"})],
        "loss": [StrOptions(set(LOSSES))],
        "tied_weights": ["boolean"],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "validation": [StrOptions({"rows", "entries"})],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "warm_start": ["boolean"],
        "callbacks": [None, list],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        module=None,
        corruption="mask",
        corruption_level=0.3,
        categorical_features=FROM_DTYPE,
        max_categories=None,
        min_frequency=None,
        image_shape=None,
        input_fill="zero",
        consistency=0.0,
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
        early_stopping=False,
        validation_fraction=0.1,
        validation="rows",
        n_iter_no_change=10,
        tol=1e-4,
        warm_start=False,
        callbacks=None,
        verbose=0,
        **module_params,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.module = module
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.categorical_features = categorical_features
        self.max_categories = max_categories
        self.min_frequency = min_frequency
        self.image_shape = image_shape
        self.input_fill = input_fill
        self.consistency = consistency
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.validation = validation
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.warm_start = warm_start
        self.callbacks = callbacks
        self.verbose = verbose
        # Stored as given (__init__ never raises); fit refuses names that are
        # not module__<name>.
        for name, value in module_params.items():
            setattr(self, name, value)

    # -- fitting --------------------------------------------------------------

    @keeps_callers_threads
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on X.

        Starts from freshly initialised weights, or, with ``warm_start=True`` on
        a fitted model, continues from the fitted ones. A call that raises
        leaves the model as it was before it.

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
        warm = self.warm_start and self._is_fitted()
        with unchanged_on_error(self):
            X, image_shape, missing = self._validate_fit_input(
                X, reset=not warm, whole=True
            )
            net = self._training_net(X.shape[1], image_shape, warm, self.early_stopping)
            first_row = len(net.history)
            self._train(
                net, X, missing, self.max_epochs, self.early_stopping, fresh=not warm
            )
            self._set_fitted(net, first_row)
        return self

    @keeps_callers_threads
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train one more epoch on X (per layer, for greedy stacking).

        The first call initialises the model as ``fit`` does; later calls
        continue from the fitted weights and optimizer state, with fresh noise.
        Early stopping does not apply: every row is trained on, and with
        ``early_stopping=True`` each call warns (``UserWarning``) that it is
        ignored. A call that raises leaves the model as it was before it.

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
        continued = self._is_fitted()
        if self.early_stopping:
            warnings.warn(
                "partial_fit ignores early_stopping=True: it trains one epoch on "
                "every row it is given, with no validation split. Use fit to stop "
                "early, or set early_stopping=False to silence this warning.",
                UserWarning,
                stacklevel=2,
            )
        with unchanged_on_error(self):
            X, image_shape, missing = self._validate_fit_input(X, reset=not continued)
            net = self._training_net(
                X.shape[1], image_shape, continued, early_stopping=False
            )
            first_row = len(net.history)
            self._train(net, X, missing, 1, validate=False, fresh=not continued)
            self._set_fitted(net, first_row)
        return self

    def _is_fitted(self):
        # Not hasattr(self, "net_"): that would rebuild a loaded model's net.
        return "device_" in vars(self)

    def _validate_fit_input(self, X, reset, *, whole=False):
        """``(X, image_shape, missing)``, validated; ``whole``: X is the whole
        training set (``fit``), not one more part. ``missing``, whether X has
        a missing entry, is found once, here, and goes down with X."""
        self._check_extra_params()
        if self.module is not None:
            check_module_kind(self.module, self._module_params())
            check_user_module_params(self, type(self)())
        levels = self._levels()  # the cross-parameter checks, before any training
        check_emphasis(self.emphasis, self.corruption)
        holds_out = None
        if whole and self.early_stopping and self.validation == "entries":
            holds_out = (self._stacking(), len(levels))
        X, missing = self._validated_rows(X, reset)
        image_shape = check_training_data(
            X,
            loss=self.loss,
            image_shape=self.image_shape,
            corruption=self.corruption,
            whole=whole,
            holds_out=holds_out,
            missing=missing,
        )
        return X, image_shape, missing

    def _table_columns(self, X):
        """The fitted :class:`~sk_dae._table.TableColumns` of a table with
        categorical columns, or None when every column is numeric."""
        mask = categorical_mask(X, self.categorical_features)
        if mask is None:
            return None
        check_table_corruption(self.corruption, self.image_shape)
        return TableColumns(
            mask, max_categories=self.max_categories, min_frequency=self.min_frequency
        ).fit(X)

    def _validated_rows(self, X, reset):
        """``(X, missing)``: X as the network's float input, validated, and
        encoded when the model has categorical columns (``_columns``, found
        here on ``reset``); and whether it has a missing entry, found in the
        pass that refuses inf."""
        if reset:
            self._columns = self._table_columns(X)
        columns = getattr(self, "_columns", None)
        if columns is None:
            if not reset:
                check_still_numeric(X)
            X = validate_data(
                self,
                X,
                reset=reset,
                accept_sparse=("csr", "csc"),
                dtype=_FLOAT_DTYPES,
                ensure_all_finite=False,  # finite_or_missing: the same, one pass
            )
            return X, finite_or_missing(X)
        # The names and the width only: the table is read column by column.
        validate_data(self, X, reset=reset, skip_check_array=True)
        X = columns.encode(X, warn_unknown=not reset)
        return X, finite_table_or_missing(X)

    def _stacking(self):
        """How the stages run: a user's module is one stage, as a joint stack."""
        return "joint" if self.module is not None else self.stacking

    def _levels(self):
        n_layers = 1
        if self.module is None:
            n_layers = len(check_layer_sizes(self.hidden_layer_sizes))
        return check_levels(
            self.corruption_level, n_layers, self.corruption, self._stacking()
        )

    def _structure(self):
        """The parameters that fix the network's shape."""
        structure = {
            "hidden_layer_sizes": check_layer_sizes(self.hidden_layer_sizes),
            "activation": self.activation,
            "loss": self.loss,
            "tied_weights": self.tied_weights,
            "stacking": self._stacking(),
            "input_fill": self.input_fill,
        }
        structure["module"] = module_identity(self.module)
        structure["module_params"] = self._module_params()
        return structure

    def _output_activation(self):
        """The link from the module's output to the input's scale."""
        return LOSSES[self._spec["loss"]].output

    # -- the one way to a net ---------------------------------------------------

    def _training_net(self, n_features, image_shape, continued, early_stopping):
        """The net a training call trains: a new one, built with the
        parameters the estimator holds now, from the fitted net's state when
        ``continued`` and from fresh weights otherwise. The fitted net itself
        is never trained, so a call that fails leaves it as it was."""
        emphasis = check_emphasis(self.emphasis, self.corruption)
        if continued:
            check_warm_structure(self._spec, self._structure())
            source = self._placed_net()
            device, state = source.device, net_state(source)
            self.corruption_ = self.corruption_.continued(
                self.corruption, self._levels(), image_shape
            )
        else:
            init, noise, shuffle, split = draw_seeds(self.random_state, 4)
            self._spec = {
                "n_features": n_features,
                **self._structure(),
                "init_seed": init,
                "noise_seed": noise,
                "shuffle_seed": shuffle,
                "split_seed": split,
            }
            if self.module is not None:
                # The module to rebuild from: a copy (the caller's instance
                # may change after fit), on the CPU (a model loads anywhere).
                self._spec["module_source"] = copy.deepcopy(self.module)
                if isinstance(self.module, torch.nn.Module):
                    self._spec["module_source"].cpu()
            device, state = resolve_device(self.device), None
            layout = None if self._columns is None else self._columns.layout_
            self._spec["columns"] = None if layout is None else layout.to_dict()
            self.corruption_ = Corruption(
                self.corruption,
                self._levels(),
                image_shape=image_shape,
                columns=self._spec["columns"],
            )
        # The emphasis is the criterion's, so a loaded net gets the last one.
        self._spec = {**self._spec, "emphasis": emphasis}
        return self._build_net(device, state, early_stopping=early_stopping)

    def _new_module(self):
        """The fitted architecture with fresh weights: the built-in stack, or
        the user's module built as ``module`` says."""
        spec = self._spec
        if spec.get("module_source") is None:
            return StackedDenoisingAutoencoder(
                spec["n_features"],
                spec["hidden_layer_sizes"],
                activation=spec["activation"],
                tied_weights=spec["tied_weights"],
                init_seed=spec["init_seed"],
            )
        return build_module(
            spec["module_source"],
            spec["module_params"],
            spec["n_features"],
            spec["init_seed"],
        )

    def _build_net(self, device, state=None, *, early_stopping=False):
        """Every route to a net ends here: build one from the fitted
        architecture and the estimator's training parameters and callbacks as
        they are now, then load ``state`` (from ``net_state``; None keeps the
        fresh weights)."""
        spec = self._spec
        net = DenoisingAutoencoderNet(
            module=self._new_module(),
            n_features=spec["n_features"],
            input_fill=spec["input_fill"],
            stacking=spec["stacking"],
            criterion__emphasis=spec["emphasis"],
            input_loss=spec["loss"],
            noise_seed=spec["noise_seed"],
            shuffle_seed=spec["shuffle_seed"],
            consistency=self.consistency,
            columns=spec.get("columns"),
            # Adam's fused step is one kernel per parameter group instead of a
            # dozen per tensor: about a third of the for-loop step's time at
            # batch 100 on CPU (54 vs 152 ms per 600 steps of 784-100-784).
            optimizer=torch.optim.Adam,
            optimizer__fused=True,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=None,
            callbacks=self._net_callbacks(early_stopping),
            verbose=self.verbose,
            device=device,
        ).initialize()
        if state is not None:
            restore_net(net, state)
            # Each call starts at the lr the estimator holds (a scheduler
            # callback takes it from there), not at the saved one.
            for group in net.optimizer_.param_groups:
                group["lr"] = self.lr
        return net

    def _net_callbacks(self, early_stopping):
        callbacks = [("divergence_guard", DivergenceGuard())]
        if early_stopping:
            stopper = StageEarlyStopping(
                monitor="valid_loss",
                patience=self.n_iter_no_change,
                threshold=self.tol,
                threshold_mode="abs",
                load_best=True,
            )
            callbacks.append(("early_stopping", stopper))
        if self.verbose:
            callbacks.append(("progress_bar", ProgressBar()))
        # A copy: fitting must not change the user's objects (nor share their
        # state between the folds of a grid search, or between calls).
        return callbacks + copy.deepcopy(list(self.callbacks or []))

    def _train(self, net, X, missing, epochs, validate, fresh):
        """Run ``epochs`` epochs of every stage; warn if training stopped short.

        X goes down to the net once, with whether it has a missing entry: the
        net checks the module, sets the input fill and splits off the
        validation data itself."""
        result = net.fit_data(
            X,
            missing,
            self.corruption_,
            epochs,
            holdout=self.validation if validate else None,
            fraction=self.validation_fraction,
            seed=self._spec["split_seed"],
            fresh=fresh,
        )
        # The noise as trained: salt and pepper learned each stage's ranges.
        self.corruption_ = result.corruption
        if fresh:
            self._spec = {**self._spec, "code_shape": result.code_shape}
        if result.outcome in (Outcome.DIVERGED, Outcome.INTERRUPTED):
            self._warn_stopped(result, len(net.history))

    def _warn_stopped(self, result, epoch):
        untrained = ""
        layer = result.layer
        if layer is not None and layer + 1 < len(self._spec["hidden_layer_sizes"]):
            untrained = f" Layers above layer {layer} were not trained."
        if result.outcome is Outcome.DIVERGED:
            message = (
                f"Training diverged in epoch {epoch}: the loss became "
                f"{result.bad_loss}. Training stopped and the weights of the last "
                f"epoch that ended finite were restored. Lower lr (now {self.lr}) "
                "or scale X (e.g. StandardScaler or MinMaxScaler)."
            )
            warnings.warn(message + untrained, ConvergenceWarning, stacklevel=4)
        else:
            message = (
                "Training was interrupted (KeyboardInterrupt) in epoch "
                f"{epoch}. The model keeps the weights it had reached and is "
                "usable; continue with partial_fit, or fit with warm_start=True."
            )
            warnings.warn(message + untrained, UserWarning, stacklevel=4)

    def _set_fitted(self, net, first_row):
        """Make ``net`` the fitted net; extend the per-epoch attributes by the
        epochs this call ran, from history row ``first_row`` on; say which
        columns are categorical."""
        new = list.__getitem__(net.history, slice(first_row, None))
        rows = [row for row in new if "train_loss" in row]
        curve = self.loss_curve_ if first_row else []
        scores = self.validation_scores_ if first_row else None
        new_scores = [-float(row.get("valid_loss", np.nan)) for row in rows]
        if scores is not None or any("valid_loss" in row for row in rows):
            scores = [*(scores or [np.nan] * len(curve)), *new_scores]
        # New lists, not appends: a failed call restores the old ones.
        self.loss_curve_ = [*curve, *(float(row["train_loss"]) for row in rows)]
        self.validation_scores_ = scores
        self.n_iter_ = len(self.loss_curve_)
        self.is_categorical_, self.categories_ = column_kinds(
            self._columns, self.n_features_in_
        )
        self._place(net)

    @property
    def _n_features_out(self):
        # The width of get_feature_names_out (ClassNamePrefixFeaturesOutMixin).
        if self._spec.get("module_source") is None:
            return self._spec["hidden_layer_sizes"][-1]
        return int(np.prod(self._spec["code_shape"]))

    # -- inference ------------------------------------------------------------

    def _map_batches(self, X, method, tail_shape, nan_rows=(), missing=None):
        net = self._placed_net()

        def inference(dtype):
            return Inference(net, dtype, self._code_shape(), self._spec["loss"])

        return map_batches(net, X, method, tail_shape, inference, nan_rows, missing)

    def _code_shape(self):
        spec = self._spec
        if spec.get("module_source") is None:
            return (spec["hidden_layer_sizes"][-1],)
        return spec["code_shape"]

    def _validate_transform_input(self, X):
        """``(X, missing)``, as :meth:`_validated_rows` gives them."""
        check_is_fitted(self)
        return self._validated_rows(X, reset=False)

    @keeps_callers_threads
    def transform(self, X):
        """Encode X: the codes of the top layer for the clean X (no noise).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data; missing entries (NaN) enter as ``input_fill_``. With
            ``loss="bce"``, values slightly outside [0, 1] (test rows of a
            scaler fitted on training rows) are accepted.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_codes)
            The codes, in X's float dtype: ``hidden_layer_sizes[-1]`` of
            them, or a ``module``'s ``encode`` output flattened.
        """
        X, missing = self._validate_transform_input(X)
        return self._map_batches(
            X, "transform", (self._n_features_out,), missing=missing
        )

    @keeps_callers_threads
    def inverse_transform(self, X):
        """Decode codes back to input space through every layer.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_codes)
            Codes, as returned by ``transform``.

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features) or table
            The reconstruction, in the codes' float dtype. For a model with
            categorical columns, the table in the kind fitted on: a pandas or
            polars DataFrame with the columns' dtypes, or an object array;
            each categorical column holds its most probable category.
        """
        check_is_fitted(self)
        X = check_array(X, accept_sparse=("csr", "csc"), dtype=_FLOAT_DTYPES)
        if X.shape[1] != self._n_features_out:
            raise ValueError(
                f"inverse_transform expects codes of width {self._n_features_out} "
                f"(the output of transform), but X has {X.shape[1]} columns."
            )
        Z = self._decoded(X)
        columns = self.__dict__.get("_columns")
        if columns is None:
            return Z
        numeric, groups = columns.layout_.split(Z)
        return columns.decode(numeric, [most_probable(p) for p in groups])

    def _decoded(self, codes):
        """The network's output for ``codes``: the input's scale, and each
        categorical column's probabilities over its levels."""
        return self._map_batches(
            codes, "inverse_transform", (self._spec["n_features"],)
        )

    def _reconstruction(self, X):
        """``(numeric, groups)``: the reconstruction of X, a table with
        categorical columns, as its numeric columns and each categorical
        column's probabilities (what the imputer fills holes with)."""
        check_is_fitted(self)
        X = self._columns.encode(X, warn_unknown=False)
        codes = self._map_batches(X, "transform", (self._n_features_out,))
        return self._columns.layout_.split(self._decoded(codes))

    @keeps_callers_threads
    def score_samples(self, X):
        """Negative reconstruction loss of each clean sample (higher is better).

        Usable as an anomaly score: rows unlike the training data reconstruct
        badly. With ``loss="bce"``, X must lie in [0, 1], as at fit: the
        cross-entropy of a value outside it is no loss (it can fall below that
        of the training rows), so such rows would look normal.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the mean over the observed features of the ``loss`` between
            each row and its reconstruction through the whole stack; NaN for a
            row with no observed feature.
        """
        X, missing = self._validate_transform_input(X)
        if self._spec["loss"] == "bce":
            check_unit_interval(X, "score_samples")
        nan_rows = empty_rows(X) if missing is not False else ()
        return self._map_batches(X, "score_samples", (), nan_rows, missing)

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
            The mean over the rows that have an observed entry.
        """
        scores = self.score_samples(X)
        scores = scores[~np.isnan(scores)]
        if not scores.size:
            raise ValueError(
                "score needs a row with an observed entry; every entry of X is "
                "missing (NaN)."
            )
        return float(np.mean(scores))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        # Strings are taken too, but the "string" tag would have the common
        # checks expect fit to accept a dict in an object column, which is no
        # category (unhashable): it is refused with a TypeError instead.
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
