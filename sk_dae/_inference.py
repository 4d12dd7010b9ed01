"""Batched inference with a fitted net: encode, decode and score rows.

One loop (:func:`map_batches`) serves ``transform``, ``inverse_transform``
and ``score_samples``: X goes through the net batch by batch without
gradients, each result goes to the host at once, so device memory holds one
batch whatever len(X).
"""

import copy
import math

import numpy as np
import torch

from ._data import RowData, each_batch
from ._functions import ACTIVATIONS, LOSSES
from ._loss import row_losses
from ._missing import holes_of
from ._threads import chooser
from ._validation import check_finite_output


def compute_dtype(dtype, device):
    """The torch dtype that inference on ``dtype`` input runs in on ``device``.

    float64 on the CPU, where it costs about twice float32 and makes results
    independent of batching; float32 on a GPU, where float64 matrix products run
    at 1/2 to 1/64 of the float32 rate, depending on the card, and the network
    was trained in float32 anyway. Either way the output has the input's dtype.
    """
    on_gpu = torch.device(device).type == "cuda"
    return torch.float64 if dtype == np.float64 and not on_gpu else torch.float32


class Inference:
    """The fitted net's module and fill, in the dtype inference runs in.

    ``code_shape`` is one row's code as ``encode`` returns it (codes travel
    flattened); ``loss`` the key of :data:`~sk_dae._functions.LOSSES`
    whose output link takes ``decode``'s output to the input's scale. A
    mixed-type table's categorical columns (the net's ``columns_``) decode to
    their softmax probabilities and score their cross-entropy.
    """

    def __init__(self, net, dtype, code_shape, loss):
        module, fill = net.module_, net.fill_
        if dtype != torch.float32:
            module, fill = (
                copy.deepcopy(module).to(dtype),
                copy.deepcopy(fill).to(dtype),
            )
        module.eval()
        self.module, self.fill = module, fill
        self.code_shape = tuple(code_shape)
        self.loss = LOSSES[loss]
        self.link = ACTIVATIONS[self.loss.output].forward
        self.columns = net.columns_

    def encode(self, x, observed):  # (B, F) -> (B, prod(code_shape))
        h = self.module.encode(self.fill(x, holes_of(observed)))
        return h.reshape(len(h), -1)

    def decode(self, h):  # (B, prod(code_shape)) -> (B, F)
        z = self.module.decode(h.reshape(len(h), *self.code_shape))
        if self.columns is not None:
            return self.columns.link(self.link, z)
        return self.link(z)

    def neg_loss(self, x, observed):  # (B, F) -> (B,)
        h = self.module.encode(self.fill(x, holes_of(observed)))
        z = self.module.decode(h)
        return -row_losses(self.loss, z, x, observed, self.columns)

    @property
    def code_width(self):
        return math.prod(self.code_shape)


def map_batches(net, X, method, tail_shape, inference, nan_rows=(), missing=None):
    """``getattr(Inference, method)`` applied to X batch by batch: ``x`` is
    the batch with its missing entries set to 0 and ``observed`` their mask
    (None when X has no missing entry).

    The arithmetic runs in X's float dtype on the CPU (float64 input gets a
    float64 copy of the float32-trained weights, so results do not depend
    on the order or grouping of the rows beyond float64 rounding), and in
    float32 on a GPU (:func:`compute_dtype`). ``inference(dtype)`` builds the
    :class:`Inference`; ``missing``, whether X has a missing entry, where the
    caller knows (else X is looked at).
    """
    dtype = compute_dtype(X.dtype, net.device)
    infer = inference(dtype)
    step = {
        "transform": infer.encode,
        "inverse_transform": lambda h, observed: infer.decode(h),
        "score_samples": infer.neg_loss,
    }[method]
    data = RowData(X, net.device, resident=False, dtype=dtype, missing=missing)
    out = np.empty((len(data), *tail_shape), dtype=X.dtype)

    def write(rows, x, observed):
        out[rows] = step(x, observed).cpu().numpy()

    each_batch(data, write, chooser("infer", net.device))
    check_finite_output(out, method, nan_rows)
    return out
