"""The skorch engine: a ``NeuralNet`` that trains with the denoising criterion.

Only documented hooks are overridden (``get_default_callbacks``,
``initialize_history``, ``get_dataset``, ``get_iterator``,
``run_single_epoch``, ``train_step``, ``train_step_single``,
``validation_step``, ``evaluation_step``, ``get_loss``, ``on_epoch_begin``);
skorch's ``fit_loop`` runs every epoch, and the bookkeeping around it (the
``on_train_begin``/``on_train_end`` notifications, the history) goes through
skorch's public ``notify`` and ``History`` calls, so its callbacks work
unchanged. A stage that trains one layer (every greedy stage) computes its
gradients by hand (:mod:`sk_dae._backprop`); a joint stage over several layers
uses autograd.

Training runs in *stages* (:meth:`DenoisingAutoencoderNet.fit_stages`): one per
layer for greedy layer-wise pretraining (the stage's data are the codes of the
layer below), or a single stage over the whole stack for joint training. One
Adam optimizer covers the whole stack: a greedy stage gives gradients to its own
layer only, and Adam skips parameters without a gradient, so each layer keeps
its own moments across stages and ``partial_fit`` calls.
"""

import functools

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, EpochTimer, LRScheduler, PrintLog
from skorch.helper import predefined_split
from skorch.utils import TeeGenerator

from ._backprop import LayerBackprop
from ._callbacks import ContinuedScoring, Outcome, StopStage
from ._data import BatchIterator, RowData, each_batch
from ._functions import ACTIVATIONS, LOSSES
from ._history import RowHistory
from ._loss import ReconstructionLoss, consistency_loss
from ._missing import holes_of, split_missing
from ._noise import NoiseRNG
from ._threads import chooser

_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")


def _works_per_batch(callback):
    """Whether ``callback`` overrides a per-batch hook. An ``LRScheduler``
    stepping per epoch does not count for its own batch hook, which returns at
    once; a subclass that overrides a hook again does."""
    cls = type(callback)
    base = Callback
    if isinstance(callback, LRScheduler) and callback.step_every == "epoch":
        base = LRScheduler
    return any(getattr(cls, hook) is not getattr(base, hook) for hook in _BATCH_HOOKS)


class DenoisingAutoencoderNet(NeuralNet):
    """skorch net around a :class:`~sk_dae._modules.StackedDenoisingAutoencoder`.

    Each training step corrupts the clean batch ``x`` into ``x~`` with fresh noise,
    reconstructs ``z = g(f(x~))`` and minimises ``L(x, z)``: the loss is measured
    against the clean input. As a skorch net, ``forward(X)`` and ``predict(X)``
    return the reconstructions of the clean rows of X.

    Parameters
    ----------
    module : StackedDenoisingAutoencoder class
        Configured through ``module__*`` parameters, as usual in skorch.
    input_loss : str
        Loss of the stages that reconstruct the input, a key of
        :data:`~sk_dae._functions.LOSSES`. Upper layers of a greedy stack
        reconstruct codes of the layer below with squared error.
    noise_seed, shuffle_seed : int
        Seeds of the private generators for the corruption and the shuffling.
    consistency : float, default=0.0
        Weight of a term of the loss that pulls the codes of the corrupted
        rows towards those of the clean rows
        (:func:`~sk_dae._loss.consistency_loss`).
    **kwargs
        Passed to :class:`skorch.NeuralNet`.
    """

    def __init__(
        self,
        module,
        *args,
        criterion=ReconstructionLoss,
        input_loss="mse",
        noise_seed=0,
        shuffle_seed=0,
        consistency=0.0,
        **kwargs,
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.input_loss = input_loss
        self.noise_seed = noise_seed
        self.shuffle_seed = shuffle_seed
        self.consistency = consistency

    def get_default_callbacks(self):
        # skorch's, but the scores keep their best across calls, and the
        # epoch table is made only when it is printed (tabulating it cost
        # 0.6 ms an epoch, a fifth of a small partial_fit call).
        callbacks = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", ContinuedScoring(name="train_loss", on_train=True)),
            ("valid_loss", ContinuedScoring(name="valid_loss")),
        ]
        if self.verbose:
            callbacks.append(("print_log", PrintLog()))
        return callbacks

    def initialize_history(self):
        self.history_ = RowHistory()
        return self

    def initialize(self):
        super().initialize()
        self.threads_ = None  # the ThreadChooser of the stage that trains
        self.end_stage()
        self.noise_generator_ = NoiseRNG(self.device, self.noise_seed)
        self.shuffle_generator_ = torch.Generator().manual_seed(self.shuffle_seed)
        # Validation corrupts with the same noise at every epoch, so that the
        # validation curve moves with the model, not with the noise draw.
        self.valid_generator_ = NoiseRNG(self.device)
        return self

    # -- stages ---------------------------------------------------------------

    def fit_stages(
        self, data, *, levels, corrupter, epochs, joint=False, valid=None, drops=False
    ):
        """Train every stage for up to ``epochs`` epochs.

        Parameters
        ----------
        data, valid : RowData
            Training rows, and validation rows (or None) for early stopping.
        levels : list of float
            Corruption level of each layer (one level for a joint stack).
        corrupter : callable
            ``corrupter(layer, data) -> corrupt``, the corruption of a stage,
            given the rows it trains on; ``corrupt(X, level, rng) -> (X_tilde,
            corrupted)`` as the functions of :mod:`sk_dae._noise`.
        epochs : int
            Epochs of each stage.
        joint : bool
            Train the whole stack as one stage, rather than layer by layer.
        drops : bool
            Whether the corruption drops inputs (masking noise): those enter
            the encoder as the input fill, as missing entries do.

        Returns
        -------
        outcome : Outcome
            How the last stage run ended. A greedy stack goes on to the next
            layer after ``DONE`` or ``EARLY_STOPPED``, and stops after
            ``DIVERGED`` or ``INTERRUPTED``.
        layer : int or None
            The layer of the last stage run; None for a joint stack.
        """
        layers = [None] if joint else list(range(len(levels)))
        try:
            for layer in layers:
                level = levels[layer or 0]
                corrupt = corrupter(layer, data)
                self.begin_stage(
                    layer, corrupt, level, valid, missing=data.missing, drops=drops
                )
                outcome = self.fit_stage(data, epochs)
                last = layer is None or layer + 1 == len(layers)
                if last or outcome in (Outcome.DIVERGED, Outcome.INTERRUPTED):
                    return outcome, layer
                data = self.layer_codes(data, layer)
                valid = None if valid is None else self.layer_codes(valid, layer)
        finally:
            self.end_stage()

    def fit_stage(self, data, epochs):
        """Run up to ``epochs`` epochs of the current stage; return the Outcome.

        skorch's ``partial_fit`` without its catch-all: the callback that stops
        training says why (:class:`~sk_dae._callbacks.StopStage`); any other
        ``KeyboardInterrupt`` is a user's skorch ``EarlyStopping`` that ran out of
        patience, or else Ctrl-C.
        """
        self.threads_ = chooser("train", self.device)
        self.notify("on_train_begin", X=data, y=None)
        try:
            self.fit_loop(data, epochs=epochs)
            outcome = Outcome.DONE
        except StopStage as stop:
            outcome = stop.outcome
        except KeyboardInterrupt:
            outcome = self._plain_interrupt_outcome()
        self.notify("on_train_end", X=data, y=None)
        return outcome

    def _plain_interrupt_outcome(self):
        """A plain KeyboardInterrupt is Ctrl-C, unless a user's own skorch
        ``EarlyStopping`` (which raises one too) has run out of patience."""
        for _, cb in self.callbacks_:
            if isinstance(cb, EarlyStopping) and cb.misses_ >= cb.patience:
                return Outcome.EARLY_STOPPED
        return Outcome.INTERRUPTED

    def begin_stage(
        self, layer, corrupt, level, valid=None, missing=False, drops=False
    ):
        """Train ``layer`` (None: the whole stack) with ``corrupt`` at ``level``.

        ``corrupt(X, level, generator, observed) -> (X_tilde, corrupted)`` is a
        function of :mod:`sk_dae._noise`; ``valid`` holds the stage's validation
        rows, or None; ``missing`` says whether the stage's rows have missing
        entries (NaN), which its steps then split off every batch; ``drops``
        whether the corruption drops the inputs it touches (masking noise).
        """
        self.layer_ = layer
        self.corrupt_ = corrupt
        self.level_ = level
        self.missing_ = missing
        self.drops_ = drops
        # Whether the stage fills its input's holes with anything but 0
        # (looked up once: a module's attribute costs 2 us a batch).
        self.fills_ = self.module_.layers[layer or 0].fill is not None
        bottom = layer is None or layer == 0
        self.loss_kind_ = self.input_loss if bottom else "mse"
        self.train_split = None if valid is None else predefined_split(valid)
        # Validation rows with targets of their own are held-out entries.
        self.held_out_ = valid is not None and valid.has_targets
        self.backprop_ = self._layer_backprop(layer) if corrupt else None
        # Gradients left by the last stage must not reach Adam in this one.
        self.module_.zero_grad(set_to_none=True)
        return self

    def _layer_backprop(self, layer):
        """Hand-derived gradients for a stage that trains one layer; None (use
        autograd) for a joint stage over several layers."""
        layers = self.module_.layers
        if layer is None and len(layers) > 1:
            return None
        return LayerBackprop(
            layers[layer or 0],
            self.loss_kind_,
            self.criterion_.emphasis,
            self.consistency,
        )

    def end_stage(self):
        """Drop what the stage held (device tensors, validation rows)."""
        return self.begin_stage(None, corrupt=None, level=0.0)

    def layer_codes(self, data, layer):
        """Codes of ``layer`` for every row of ``data``: the next stage's input,
        kept where ``data`` keeps its rows."""
        encoder = self.module_.layers[layer]
        codes = torch.empty(
            (len(data), encoder.weight.shape[0]), device=data.storage_device
        )

        def encode(rows, x, observed):
            codes[rows] = encoder.encode(encoder.fill_in(x, holes_of(observed)))

        each_batch(data, encode, chooser("infer", self.device))
        # The holes entered filled: the codes have none.
        return RowData(codes, self.device, missing=False)

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        self.module_.train()
        self.noise_generator_.new_epoch()
        self.valid_generator_.manual_seed(self.noise_seed + 1)
        # Greedy stacks run one stage per layer: say which layer each epoch trained.
        self.history.record("layer", self.layer_)

    # -- data -----------------------------------------------------------------

    def get_dataset(self, X, y=None):
        return X if isinstance(X, RowData) else RowData(X, self.device)

    def get_iterator(self, dataset, training=False):
        return BatchIterator(
            dataset,
            self.batch_size,
            shuffle=training,
            generator=self.shuffle_generator_ if training else None,
        )

    # -- steps ----------------------------------------------------------------

    def observed_part(self, batch):
        """``(x, observed)``: the clean rows of a batch ``(X, y)`` with their
        missing entries set to 0, and the mask of the others (None when the
        stage's rows have no missing entry: complete data pays nothing)."""
        x = batch[0]
        return split_missing(x) if self.missing_ else (x, None)

    def corrupt(self, x, observed, generator):
        """``(x_tilde, corrupted, holes)``: the stage's corruption of the clean
        batch, and the inputs it lacks (dropped by masking noise, or missing),
        which enter the encoder as the stage's bottom layer fills them (None:
        none, or a zero fill, which needs no mask)."""
        x_tilde, corrupted = self.corrupt_(x, self.level_, generator, observed=observed)
        if not self.fills_:
            return x_tilde, corrupted, None
        if self.drops_:  # what it touched, the missing entries included
            return x_tilde, corrupted, corrupted
        return x_tilde, corrupted, holes_of(observed)

    def clean_codes(self, x, observed):
        """The stage's codes of the clean batch, which the consistency term
        pulls the codes of the corrupted batch towards; None without it."""
        if not self.consistency:
            return None
        with torch.no_grad():
            return self.module_.stage_codes(x, self.layer_, holes_of(observed))

    def denoising_loss(self, x, observed, generator, training):
        """Corrupt the clean batch ``x``, reconstruct it, and score it (autograd):
        ``(loss, z)``."""
        x_tilde, corrupted, holes = self.corrupt(x, observed, generator)
        logits = LOSSES[self.loss_kind_].on_logits
        h, z = self.module_.reconstruct(
            x_tilde, layer=self.layer_, logits=logits, holes=holes, codes=True
        )
        loss = self.get_loss(
            z, x, training=training, corrupted=corrupted, observed=observed
        )
        clean = self.clean_codes(x, observed)
        if clean is not None:
            loss = loss + consistency_loss(h, clean, self.consistency)
        return loss, z

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        threads = getattr(self, "threads_", None)  # None: a net used as skorch's
        if threads is not None and not training:
            threads.settle()  # validation runs on the count training chose
        if iterator is None or self._batch_hooks_in_use():
            if threads is not None and training:
                step_fn = functools.partial(threads.run, step_fn)
            return super().run_single_epoch(
                iterator, training, prefix, step_fn, **fit_params
            )
        # No callback works per batch (the default; ProgressBar, a scoring
        # callback, gradient clipping or a per-batch LRScheduler would): skip
        # skorch's per-batch notify calls, and read the batch losses off the
        # device once per epoch rather than once per batch (on a GPU, one
        # synchronisation per epoch). The history ends up as skorch's loop
        # leaves it (tests/test_training_loop.py).
        step = self._train_batch if training else self._validation_loss
        if threads is not None and training:
            step = functools.partial(threads.run, step)
        losses, sizes = [], []
        for batch in iterator:
            losses.append(step(batch).detach())
            sizes.append(len(batch[0]))
        values = torch.stack(losses).tolist() if losses else []
        for loss, size in zip(values, sizes, strict=True):
            self.history.new_batch()
            self.history.record_batch(f"{prefix}_loss", loss)
            self.history.record_batch(f"{prefix}_batch_size", size)
        self.history.record(f"{prefix}_batch_count", len(sizes))

    def _batch_hooks_in_use(self):
        """Whether a callback works per batch."""
        return any(_works_per_batch(cb) for _, cb in self.callbacks_)

    def _train_batch(self, batch):
        """One optimizer step on a batch, no callback notified; the loss."""
        if self.backprop_ is None:
            self.optimizer_.zero_grad()
        loss, _ = self._loss_and_gradients(batch)
        self.optimizer_.step()
        return loss

    def _validation_loss(self, batch):
        return self._validation_loss_and_output(batch)[0]

    def train_step(self, batch, **fit_params):
        if self.backprop_ is None:
            return super().train_step(batch, **fit_params)
        # skorch's step zeroes the gradients and hands Adam a closure; the hand-
        # derived step overwrites its gradients and Adam calls no closure, so the
        # step is done directly (skorch's documented way to take control of it).
        step = self.train_step_single(batch, **fit_params)
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        self.optimizer_.step()
        return step

    def train_step_single(self, batch, **fit_params):
        loss, z = self._loss_and_gradients(batch)
        return {"loss": loss, "y_pred": self._as_output(z)}

    def _loss_and_gradients(self, batch):
        """The denoising loss of a batch and the stage's reconstruction (logits
        for a loss on logits); the gradients are left in ``.grad``."""
        # No per-batch module.train(): the module has no train-mode behaviour
        # (no dropout, no batch norm); on_epoch_begin sets the mode.
        x, observed = self.observed_part(batch)
        if self.backprop_ is not None:
            x_tilde, corrupted, holes = self.corrupt(x, observed, self.noise_generator_)
            if holes is not None:
                x_tilde = self.backprop_.layer.fill_in(x_tilde, holes)
            clean = self.clean_codes(x, observed)
            return self.backprop_(x_tilde, x, corrupted, observed, holes, clean)
        loss, z = self.denoising_loss(x, observed, self.noise_generator_, True)
        loss.backward()
        return loss, z

    def _as_output(self, z):
        """The stage's reconstruction as its decoder outputs it, from what the
        loss took (its logits, for a loss on logits): callbacks score this."""
        if not LOSSES[self.loss_kind_].on_logits:
            return z
        return ACTIVATIONS[LOSSES[self.loss_kind_].output].forward(z.detach())

    def validation_step(self, batch, **fit_params):
        loss, z = self._validation_loss_and_output(batch)
        return {"loss": loss, "y_pred": self._as_output(z)}

    def _validation_loss_and_output(self, batch):
        self.module_.eval()
        if self.held_out_:
            return self._held_out_loss(batch)
        x, observed = self.observed_part(batch)
        with torch.no_grad():
            return self.denoising_loss(x, observed, self.valid_generator_, False)

    def _held_out_loss(self, batch):
        """The loss on held-out entries (``(X, y)``: y is NaN but where X
        lacks an entry that was held out): the rows as they are, without
        noise, reconstructed and scored on those entries only, as an imputer
        would be."""
        x, observed = split_missing(batch[0])
        target, held = split_missing(batch[1])
        holes = holes_of(observed) if self.fills_ else None
        logits = LOSSES[self.loss_kind_].on_logits
        with torch.no_grad():
            z = self.module_.reconstruct(
                x, layer=self.layer_, logits=logits, holes=holes
            )
            return self.get_loss(z, target, training=False, observed=held), z

    def evaluation_step(self, batch, training=False):
        # forward and predict: the clean rows' reconstructions, their missing
        # entries entering as the input fill, as in transform.
        self.check_is_fitted()
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        x, observed = split_missing(x)
        with torch.set_grad_enabled(training):
            self.module_.train(training)
            return self.infer(x, holes=holes_of(observed))

    def get_loss(
        self, y_pred, y_true, X=None, training=False, corrupted=None, observed=None
    ):
        """Mean denoising loss of the batch: reconstruction ``y_pred`` against the
        clean input ``y_true`` over its ``observed`` entries (None: all);
        ``corrupted`` marks the components to emphasise."""
        return self.criterion_(y_pred, y_true, self.loss_kind_, corrupted, observed)
