"""A user's module: built from the estimator's ``module`` parameter, and held
to the protocol of :mod:`sk_dae.modules` before any training.

``module`` is a torch ``nn.Module`` class, configured by the estimator's
``module__<name>`` parameters (as in skorch) and given ``n_features`` when
its ``__init__`` takes it, or an instance, deep-copied so that the caller's
object is never trained.
"""

import copy
import inspect

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

PREFIX = "module__"


def prefixed_params(params):
    """The ``module__<name>`` entries of ``params``, without the prefix."""
    return {k[len(PREFIX) :]: v for k, v in params.items() if k.startswith(PREFIX)}


def check_module_kind(module, module_params):
    """A class or an instance of ``nn.Module``; ``module__`` parameters only
    for a class."""
    is_class = isinstance(module, type) and issubclass(module, nn.Module)
    if not (is_class or isinstance(module, nn.Module)):
        raise TypeError(
            "module must be None (the built-in stack), a torch.nn.Module class "
            f"or an instance of one; got {module!r}."
        )
    if module_params and not is_class:
        names = ", ".join(PREFIX + name for name in module_params)
        raise ValueError(
            f"{names} configure a module class, but module is an instance of "
            f"{type(module).__name__}. Pass the class (module="
            f"{type(module).__name__}) with these parameters, or drop them."
        )


def module_identity(module):
    """What fixes a module's shape, for a warm start to compare: None (the
    built-in stack), a class, or an instance's class and parameter shapes."""
    if module is None or isinstance(module, type):
        return module
    shapes = tuple((k, tuple(v.shape)) for k, v in module.state_dict().items())
    return (type(module), shapes)


def build_module(module, module_params, n_features, seed):
    """A new module: a deep copy of an instance, or the class built with
    ``module_params`` (and ``n_features``, and ``init_seed`` as the
    built-in stack takes it, when its ``__init__`` takes them).

    The class's own initialisation draws from torch's global generator:
    it runs in a fork of it, seeded with ``seed``, so that the weights are
    the same at every fit with the same ``random_state`` and the caller's
    random stream is left as it was.
    """
    check_module_kind(module, module_params)
    if isinstance(module, nn.Module):
        return copy.deepcopy(module)
    kwargs = dict(module_params)
    accepted = inspect.signature(module.__init__).parameters
    if "n_features" in accepted:
        kwargs.setdefault("n_features", n_features)
    if "init_seed" in accepted:  # a module that seeds itself, as the built-in
        kwargs.setdefault("init_seed", seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return module(**kwargs)


def _probe_rows(X, device):
    """The first rows of X (two, where X has them) as a float32 batch with
    its missing entries at 0."""
    rows = X[:2]
    rows = rows.toarray() if sp.issparse(rows) else np.asarray(rows)
    rows = np.nan_to_num(rows.astype(np.float32), nan=0.0)
    return torch.from_numpy(rows).to(device)


def check_protocol(module, X, device):
    """Run ``encode`` and ``decode`` on the first rows of X, before training:
    the shape of one row's code, ``H.shape[1:]``; or an error that says what
    is missing."""
    name = type(module).__name__
    missing = [
        m for m in ("encode", "decode") if not callable(getattr(module, m, None))
    ]
    if missing:
        raise TypeError(
            f"module {name} has no {' and no '.join(missing)} method. sk_dae "
            "trains modules with encode(X) -> H and decode(H) -> X_hat "
            "(logits for loss='bce'); see sk_dae.modules."
        )
    x = _probe_rows(X, device)
    was_training = module.training
    module.eval()  # a probe must not move batch-norm statistics
    try:
        with torch.no_grad():
            h = _run(module.encode, x, f"{name}.encode")
            _check_tensor(h, f"{name}.encode", (len(x),), "(batch, ...)")
            z = _run(module.decode, h, f"{name}.decode")
            _check_tensor(z, f"{name}.decode", tuple(x.shape), "(batch, n_features)")
    finally:
        module.train(was_training)
    return tuple(h.shape[1:])


def _run(method, value, what):
    """``method(value)``; an error it raises says where it came from (a
    note keeps its type)."""
    try:
        return method(value)
    except Exception as exc:
        shape = tuple(getattr(value, "shape", ()))
        exc.add_note(
            f"sk_dae ran {what} on a batch of shape {shape} before training, "
            "to check the module; encode takes (batch, n_features) rows and "
            "decode what encode returns."
        )
        raise


def _check_tensor(value, what, leading, expected):
    shape = tuple(getattr(value, "shape", ()))
    if isinstance(value, torch.Tensor) and shape[: len(leading)] == leading:
        if len(leading) == 1 or shape == leading:
            return
    got = shape if isinstance(value, torch.Tensor) else type(value).__name__
    raise ValueError(
        f"{what} must return a torch.Tensor of shape {expected}, here "
        f"{leading if len(leading) > 1 else (leading[0], '...')}; got {got}."
    )


class ModuleParamsMixin:
    """The ``module__<name>`` parameters of an estimator that takes
    ``module``: kept as attributes by ``__init__`` (``**module_params``),
    seen by ``get_params``, set by ``set_params``, checked at fit."""

    def get_params(self, deep=True):
        """Get the parameters, the ``module__<name>`` ones included.

        Parameters
        ----------
        deep : bool, default=True
            Also return the parameters of sub-objects that are estimators.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        params.update(
            (name, value)
            for name, value in vars(self).items()
            if name.startswith(PREFIX)
        )
        return params

    def set_params(self, **params):
        """Set the parameters; ``module__<name>`` ones may be new.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : object
            The estimator.
        """
        # "module_params", the signature's name for them, is stored as
        # __init__ stores it (scikit-learn's checks pass every name of the
        # signature to both): fit refuses it.
        extra = [n for n in params if n.startswith(PREFIX) or n == "module_params"]
        for name in extra:
            setattr(self, name, params.pop(name))
        return super().set_params(**params)

    def _module_params(self):
        return prefixed_params(vars(self))

    def _check_extra_params(self):
        """Keyword arguments given to __init__ that are no parameter."""
        known = set(self._get_param_names())
        unknown = [
            name
            for name in vars(self)
            if not name.startswith(("_", PREFIX))
            and not name.endswith("_")
            and name not in known
        ]
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected parameters {unknown}; only "
                "module__<name> parameters of a module class are passed through."
            )
        if self._module_params() and self.module is None:
            names = [PREFIX + name for name in self._module_params()]
            raise ValueError(
                f"{', '.join(names)} configure the module class given as module, "
                "but module is None (the built-in stack). Pass module=YourClass, "
                "or drop them."
            )
