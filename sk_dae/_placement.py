"""Where a fitted transformer's net lives, and how the model is saved and
loaded: a mixin of :class:`~sk_dae.DenoisingAutoencoderTransformer`.

A fitted net stays on its device until the ``device`` parameter changes; a
loaded model rebuilds its net from its saved state on first use (loading
touches no GPU). Every route ends in the estimator's ``_build_net``, which
builds a net and loads a state into it (:mod:`sk_dae._state`).
"""

from ._device import resolve_device, resolve_loaded_device
from ._noise import Corruption
from ._state import net_state
from ._table import table_from_state, table_state
from .modules import StackedDenoisingAutoencoder

# Attributes of a loaded model that appear when its net is rebuilt, on first use.
_REBUILT = ("net_", "coefs_", "intercepts_", "activations_", "input_fill_")
# Those that only the built-in stack has.
_STACK_WEIGHTS = ("coefs_", "intercepts_", "activations_")


def _as_array(tensor):
    """A read-only numpy array: a view of a CPU tensor (a fitted net is never
    trained in place), a copy of a GPU one."""
    array = tensor.detach().cpu().numpy()
    array.flags.writeable = False
    return array


def public_weights(net, output_activation):
    """The fitted attributes read off ``net``: ``input_fill_`` for any
    module, and ``coefs_``, ``intercepts_``, ``activations_`` for the
    built-in stack (``output_activation`` is the link of its output)."""
    weights = {"input_fill_": _as_array(net.fill_.values(net.n_features))}
    if isinstance(net.module_, StackedDenoisingAutoencoder):
        coefs, intercepts, activations = net.module_.mlp_weights(output_activation)
        weights["coefs_"] = [_as_array(c) for c in coefs]
        weights["intercepts_"] = [_as_array(b) for b in intercepts]
        weights["activations_"] = activations
    return weights


class PlacementMixin:
    """Placement, loading and pickling of the fitted net."""

    def _place(self, net):
        """Make ``net`` the fitted net, for the current ``device`` parameter."""
        # net_ first: a thread that reads net_ meanwhile finds either.
        self.net_ = net
        self.device_ = net.device
        self._placed_for = self.device  # the device parameter net_ was placed for
        for name in _STACK_WEIGHTS:
            self.__dict__.pop(name, None)
        self.__dict__.update(public_weights(net, self._output_activation()))
        self.__dict__.pop("_saved_net", None)

    def _placed_net(self):
        """``net_`` on the device that ``device`` resolves to now.

        A fitted network stays where it is until ``device`` is changed with
        ``set_params`` (so ``"auto"`` and ``"cuda"`` keep the GPU they resolved
        to at fit, whatever GPU is current later); then it is rebuilt there from
        its state. A loaded model is rebuilt from its saved state here, on
        first use. Where ``device`` cannot be met (a GPU model loaded on a
        machine without that GPU) the network goes to the CPU, with a warning.
        """
        net = self.__dict__.get("net_")
        unchanged = self.device == getattr(self, "_placed_for", None)
        if net is not None and unchanged:
            return net
        if net is None and unchanged:
            device = self._loaded_device()
        else:  # a device the user has just set must be met, as at fit
            device = resolve_device(self.device)
        if net is None or device != net.device:
            state = self.__dict__["_saved_net"] if net is None else net_state(net)
            net = self._build_net(device, state)
        self._place(net)
        return net

    def _loaded_device(self):
        """Where a loaded model goes: the device it was saved from where that is
        here (a model placed on cuda:1 comes back on cuda:1), else where its
        ``device`` resolves to here, else the CPU, with a warning."""
        try:
            return resolve_device(self.device_)
        except ValueError:
            return resolve_loaded_device(self.device, self.device_)

    def __getattr__(self, name):
        # Only reached when normal lookup fails: the net and its weights of a
        # loaded model that has not been used yet.
        if name in _REBUILT and "_saved_net" in self.__dict__:
            try:
                self._placed_net()
            except AttributeError as exc:
                # Not "no net_": that would make fit and partial_fit start over.
                raise RuntimeError(f"Rebuilding net_ failed: {exc}") from exc
            if name in self.__dict__:
                return self.__dict__[name]
        if name in _STACK_WEIGHTS and "_spec" in self.__dict__:
            raise AttributeError(
                f"{name} holds the weights of the built-in stack; this model "
                "trains its own module, whose weights are in net_.module_."
            )
        raise AttributeError(
            f"{type(self).__name__!r} object has no attribute {name!r}"
        )

    def __getstate__(self):
        # The net travels as numpy arrays and plain values (see _state); the
        # public weights are rebuilt from them.
        state = dict(super().__getstate__())
        net = state.pop("net_", None)
        saved = state.pop("_saved_net", None)
        for name in _REBUILT:
            state.pop(name, None)
        if net is not None or saved is not None:
            state["_net_state"] = (
                net_state(net, portable=True) if net is not None else saved
            )
        if "corruption_" in state:
            state["corruption_"] = state["corruption_"].to_dict()
        if state.get("_columns") is not None:
            state["_columns"] = table_state(state["_columns"])
        return state

    def __setstate__(self, state):
        # No torch object is made here: net_ is rebuilt where it is first needed,
        # so that loading touches no GPU (nor creates a CUDA context on each Dask
        # worker the model is sent to) and set_params(device=...) can pick the
        # device before that.
        state = dict(state)
        saved = state.pop("_net_state", None)
        if "corruption_" in state:
            state["corruption_"] = Corruption(**state["corruption_"])
        if state.get("_columns") is not None:
            state["_columns"] = table_from_state(state["_columns"])
        super().__setstate__(state)
        if saved is not None:
            self._saved_net = saved
