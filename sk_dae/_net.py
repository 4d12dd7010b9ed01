"""The skorch engine: a ``NeuralNet`` that trains with the denoising criterion.

Only documented hooks are overridden (``get_dataset``, ``get_iterator``,
``run_single_epoch``, ``train_step``, ``train_step_single``,
``validation_step``, ``get_loss``, ``on_epoch_begin``); skorch's ``fit_loop``
keeps its bookkeeping, so its callbacks, history and device handling work
unchanged. A stage that trains one layer (every greedy
stage) computes its gradients by hand (:mod:`sk_dae._backprop`); a joint stage
over several layers uses autograd.

Training runs in *stages*: one per layer for greedy layer-wise pretraining (the
stage's data are the codes of the layer below), or a single stage over the whole
stack for joint training. :meth:`begin_stage` sets the layer, the corruption and
the loss. One Adam optimizer covers the whole stack: a greedy stage gives
gradients to its own layer only, and Adam skips parameters without a gradient, so
each layer keeps its own moments across stages and ``partial_fit`` calls.
"""

import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping
from skorch.helper import predefined_split
from skorch.utils import TeeGenerator

from ._backprop import LayerBackprop
from ._data import BatchIterator, RowData
from ._loss import ReconstructionLoss
from ._noise import NoiseRNG


class DenoisingAutoencoderNet(NeuralNet):
    """skorch net around a :class:`~sk_dae._modules.StackedDenoisingAutoencoder`.

    Each training step corrupts the clean batch ``x`` into ``x~`` with fresh noise,
    reconstructs ``z = g(f(x~))`` and minimises ``L(x, z)``: the loss is measured
    against the clean input.

    Parameters
    ----------
    module : StackedDenoisingAutoencoder class
        Configured through ``module__*`` parameters, as usual in skorch.
    input_loss : {"mse", "bce"}
        Loss of the stages that reconstruct the input. Upper layers of a greedy
        stack reconstruct codes of the layer below with squared error.
    noise_seed, shuffle_seed : int
        Seeds of the private generators for the corruption and the shuffling.
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
        **kwargs,
    ):
        super().__init__(module, *args, criterion=criterion, **kwargs)
        self.input_loss = input_loss
        self.noise_seed = noise_seed
        self.shuffle_seed = shuffle_seed

    def initialize(self):
        super().initialize()
        self.end_stage()
        self.noise_generator_ = NoiseRNG(self.device, self.noise_seed)
        self.shuffle_generator_ = torch.Generator().manual_seed(self.shuffle_seed)
        # Validation corrupts with the same noise at every epoch, so that the
        # validation curve moves with the model, not with the noise draw.
        self.valid_generator_ = NoiseRNG(self.device)
        return self

    # -- stages ---------------------------------------------------------------

    def begin_stage(self, layer, corrupt, level, valid=None):
        """Train ``layer`` (None: the whole stack) with ``corrupt`` at ``level``.

        ``corrupt(X, level, generator) -> (X_tilde, corrupted)`` is a function of
        :mod:`sk_dae._noise`; ``valid`` holds the stage's validation rows, or None.
        """
        self.layer_ = layer
        self.corrupt_ = corrupt
        self.level_ = level
        bottom = layer is None or layer == 0
        self.loss_kind_ = self.input_loss if bottom else "mse"
        self.train_split = None if valid is None else predefined_split(valid)
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
            layers[layer or 0], self.loss_kind_, self.criterion_.emphasis
        )

    def end_stage(self):
        """Drop what the stage held (device tensors, validation rows)."""
        return self.begin_stage(None, corrupt=None, level=0.0)

    def train_stage(self, data, epochs):
        """Run up to ``epochs`` epochs; return why training stopped: ``"done"``,
        ``"early_stopped"``, ``"diverged"`` or ``"interrupted"`` (Ctrl-C)."""
        epochs_before = len(self.history)
        # skorch's partial_fit passes extra keywords on to fit_loop(epochs=...).
        self.partial_fit(data, epochs=epochs)
        if len(self.history) - epochs_before >= epochs:
            return "done"
        callbacks = [cb for _, cb in self.callbacks_]
        if any(getattr(cb, "diverged_", False) for cb in callbacks):
            return "diverged"
        if any(
            isinstance(cb, EarlyStopping) and cb.misses_ >= cb.patience
            for cb in callbacks
        ):
            return "early_stopped"
        return "interrupted"

    def on_epoch_begin(self, net, dataset_train=None, dataset_valid=None, **kwargs):
        super().on_epoch_begin(net, dataset_train, dataset_valid, **kwargs)
        self._set_training(True)
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

    def denoise(self, x, generator):
        """Corrupt the clean batch ``x`` and reconstruct it: ``(z, corrupted)``."""
        x_tilde, corrupted = self.corrupt_(x, self.level_, generator)
        logits = self.loss_kind_ == "bce"
        z = self.module_.reconstruct(x_tilde, layer=self.layer_, logits=logits)
        return z, corrupted

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        if not training or self._batch_hooks_in_use():
            return super().run_single_epoch(
                iterator, training, prefix, step_fn, **fit_params
            )
        # No callback works per batch (the default; ProgressBar, gradient
        # clipping or LRScheduler would): skip skorch's per-batch notify and
        # history calls, and read the batch losses off the device once per
        # epoch rather than once per batch. The history ends up as skorch's
        # loop leaves it (tests/test_training_loop.py).
        if self.backprop_ is not None:
            step_fn = self._hand_derived_step  # nothing listens to its gradients
        losses, sizes = [], []
        for batch in iterator:
            losses.append(step_fn(batch, **fit_params)["loss"].detach())
            sizes.append(len(batch))
        values = torch.stack(losses).tolist() if losses else []
        batches = self.history[-1]["batches"]
        for loss, size in zip(values, sizes, strict=True):
            batches.append({f"{prefix}_loss": loss, f"{prefix}_batch_size": size})
        self.history.record(f"{prefix}_batch_count", len(sizes))

    def _batch_hooks_in_use(self):
        """Whether a callback overrides a per-batch hook."""
        return any(
            getattr(type(cb), hook) is not getattr(Callback, hook)
            for _, cb in self.callbacks_
            for hook in ("on_batch_begin", "on_batch_end", "on_grad_computed")
        )

    def train_step(self, batch, **fit_params):
        if self.backprop_ is None:
            return super().train_step(batch, **fit_params)
        # skorch's step zeroes the gradients and hands Adam a closure; the hand-
        # derived step overwrites its gradients and Adam calls no closure, so the
        # step is done directly (skorch's documented way to take control of it).
        return self._hand_derived_step(batch, notify=True, **fit_params)

    def _hand_derived_step(self, batch, notify=False, **fit_params):
        step = self.train_step_single(batch, **fit_params)
        if notify:
            self.notify(
                "on_grad_computed",
                named_parameters=TeeGenerator(self.get_all_learnable_params()),
                batch=batch,
                training=True,
            )
        self.optimizer_.step()
        return step

    def train_step_single(self, batch, **fit_params):
        if self.backprop_ is not None:
            # No per-batch _set_training: the module has no train-mode behaviour
            # (no dropout, no batch norm); on_epoch_begin sets the mode.
            noise = self.noise_generator_
            x_tilde, corrupted = self.corrupt_(batch, self.level_, noise)
            loss, z = self.backprop_(x_tilde, batch, corrupted)
            return {"loss": loss, "y_pred": z}
        self._set_training(True)
        z, corrupted = self.denoise(batch, self.noise_generator_)
        loss = self.get_loss(z, batch, training=True, corrupted=corrupted)
        loss.backward()
        return {"loss": loss, "y_pred": z}

    def validation_step(self, batch, **fit_params):
        self._set_training(False)
        with torch.no_grad():
            z, corrupted = self.denoise(batch, self.valid_generator_)
            loss = self.get_loss(z, batch, training=False, corrupted=corrupted)
        return {"loss": loss, "y_pred": z}

    def get_loss(self, y_pred, y_true, X=None, training=False, corrupted=None):
        """Mean denoising loss of the batch: reconstruction ``y_pred`` against the
        clean input ``y_true``; ``corrupted`` marks the components to emphasise."""
        return self.criterion_.mean(y_pred, y_true, self.loss_kind_, corrupted)
