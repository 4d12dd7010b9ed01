"""The hand-derived gradients of one layer, and of a joint stack of several,
against autograd on the same loss, for every entry of the activation and loss
tables."""

import itertools

import pytest
import torch

from sk_dae._backprop import StackBackprop
from sk_dae._fill import InputFill
from sk_dae._functions import ACTIVATIONS, LOSSES
from sk_dae._loss import ReconstructionLoss, consistency_loss
from sk_dae.modules import DAELayer, StackedDenoisingAutoencoder, StackEnsemble

# (loss kind, decoder activation): each loss on the bottom layer's affine
# output (logits for cross-entropy), and squared error through every
# activation (the upper layers of a greedy stack reconstruct codes through the
# encoders' activation).
OUTPUTS = sorted(
    {(kind, "identity") for kind in LOSSES}
    | {("mse", activation) for activation in ACTIVATIONS}
)


def _layer(activation, output_activation, tied, dtype=torch.float64):
    layer = DAELayer(
        7,
        5,
        activation=activation,
        output_activation=output_activation,
        tied_weights=tied,
    ).to(dtype)
    generator = torch.Generator().manual_seed(0)
    layer.reset_parameters(generator)
    with torch.no_grad():  # non-zero biases, so that their gradients matter
        layer.bias.uniform_(-0.5, 0.5, generator=generator)
        layer.decoder_bias.uniform_(-0.5, 0.5, generator=generator)
    return layer


def _batch(dtype=torch.float64):
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(11, 7, generator=generator, dtype=dtype)
    corrupted = torch.rand(11, 7, generator=generator) < 0.3
    return x * corrupted.logical_not(), x, corrupted


def _holes(x, x_tilde, corrupted):
    """The batch with about a fifth of its entries missing: 0 in x and x~, and
    corrupted (as masking noise counts them)."""
    observed = torch.rand(x.shape, generator=torch.Generator().manual_seed(2)) > 0.2
    return (
        x_tilde.masked_fill(~observed, 0),
        x.masked_fill(~observed, 0),
        corrupted | ~observed,
        observed,
    )


def _autograd(layer, kind, emphasis, x_tilde, x, corrupted, observed=None):
    layer.zero_grad(set_to_none=True)
    out = layer.decode(layer.encode(x_tilde))
    loss = ReconstructionLoss(emphasis)(out, x, kind, corrupted, observed)
    loss.backward()
    grads = {name: p.grad.clone() for name, p in layer.named_parameters()}
    return loss.detach(), out.detach(), grads


@pytest.mark.parametrize(
    "activation, output, tied, emphasis, missing",
    itertools.product(
        ACTIVATIONS, OUTPUTS, [False, True], [None, (1.0, 0.25)], [False, True]
    ),
)
def test_loss_output_and_gradients_equal_autograd(
    activation, output, tied, emphasis, missing
):
    kind, output_activation = output
    layer = _layer(activation, output_activation, tied)
    x_tilde, x, corrupted = _batch()
    observed = None
    if missing:
        x_tilde, x, corrupted, observed = _holes(x, x_tilde, corrupted)
    want_loss, want_out, want_grads = _autograd(
        layer, kind, emphasis, x_tilde, x, corrupted, observed
    )
    layer.zero_grad(set_to_none=True)
    backprop = StackBackprop(layer, kind, emphasis)
    loss, out = backprop(x_tilde, x, corrupted, observed)
    torch.testing.assert_close(loss, want_loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(out, want_out, rtol=1e-12, atol=1e-14)
    assert {name for name, _ in layer.named_parameters()} == set(want_grads)
    for name, p in layer.named_parameters():
        assert p.grad.abs().max() > 0, name  # every parameter takes part
        torch.testing.assert_close(p.grad, want_grads[name], rtol=1e-10, atol=1e-14)


def test_float32_gradients_match_autograd_to_rounding():
    layer = _layer("sigmoid", "identity", tied=False, dtype=torch.float32)
    x_tilde, x, corrupted = _batch(torch.float32)
    _, _, want = _autograd(layer, "mse", None, x_tilde, x, corrupted)
    StackBackprop(layer, "mse")(x_tilde, x, corrupted)
    for name, p in layer.named_parameters():
        torch.testing.assert_close(p.grad, want[name], rtol=1e-5, atol=1e-7)


def test_gradients_are_recomputed_not_accumulated():
    layer = _layer("sigmoid", "identity", tied=True)
    x_tilde, x, corrupted = _batch()
    step = StackBackprop(layer, "mse")
    step(x_tilde, x, corrupted)
    first = {name: p.grad.clone() for name, p in layer.named_parameters()}
    step(x_tilde, x, corrupted)
    for name, p in layer.named_parameters():
        torch.testing.assert_close(p.grad, first[name], rtol=0, atol=0)


def test_the_step_builds_no_autograd_graph():
    layer = _layer("sigmoid", "identity", tied=False)
    loss, out = StackBackprop(layer, "mse")(*_batch())
    assert loss.grad_fn is None and out.grad_fn is None


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_each_losss_mean_is_the_mean_of_its_elementwise_loss(kind):
    loss = LOSSES[kind]
    x_tilde, x, corrupted = _batch()
    z = torch.randn(x.shape, generator=torch.Generator().manual_seed(2), dtype=x.dtype)
    weight = corrupted * 0.75 + 0.25
    elementwise = loss.elementwise(z, x)
    torch.testing.assert_close(loss.mean(z, x, None), elementwise.mean())
    torch.testing.assert_close(loss.mean(z, x, weight), (elementwise * weight).mean())


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_each_activations_in_place_form_equals_its_forward(name):
    activation = ACTIVATIONS[name]
    a = torch.randn(6, 5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(activation.forward_(a.clone()), activation.forward(a))


def test_an_unknown_activation_or_loss_raises():
    with pytest.raises(ValueError, match="Unknown activation 'softsign'"):
        DAELayer(
            3,
            2,
            activation="softsign",
            output_activation="identity",
            tied_weights=False,
        )
    layer = _layer("sigmoid", "identity", tied=False)
    with pytest.raises(ValueError, match="Unknown loss 'huber'.*'bce', 'mse'"):
        StackBackprop(layer, "huber")


@pytest.mark.parametrize("kind", sorted(LOSSES))
@pytest.mark.parametrize("emphasis", [None, (1.0, 0.25)])
def test_the_loss_averages_over_observed_entries_only(kind, emphasis):
    layer = _layer("sigmoid", "identity", tied=False)
    x_tilde, x, corrupted = _batch()
    x_tilde, x, corrupted, observed = _holes(x, x_tilde, corrupted)
    out = layer.decode(layer.encode(x_tilde))
    loss = ReconstructionLoss(emphasis)(out, x, kind, corrupted, observed)
    # By hand: the emphasis weights of the observed entries, over their count.
    alpha, beta = emphasis or (1.0, 1.0)
    weight = torch.where(corrupted, alpha, beta)
    values = LOSSES[kind].elementwise(out, x) * weight
    want = values[observed].sum() / observed.sum()
    # The weights are float32, as the training batches are.
    torch.testing.assert_close(loss, want, rtol=1e-6, atol=0)
    # Whatever the target holds where it is missing, the loss is the same.
    other = torch.where(observed, x, torch.rand(x.shape, dtype=x.dtype))
    again = ReconstructionLoss(emphasis)(out, other, kind, corrupted, observed)
    torch.testing.assert_close(again, loss, rtol=1e-12, atol=0)


def test_a_batch_with_no_observed_entry_weighs_nothing():
    x = torch.rand(4, 3, dtype=torch.float64)
    observed = torch.zeros(4, 3, dtype=torch.bool)
    loss = ReconstructionLoss()(x + 1, x, "mse", None, observed)
    assert loss.item() == 0.0


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_a_learned_fill_gets_the_gradient_of_the_inputs_it_stood_in_for(
    kind, missing, tied
):
    layer = _layer("tanh", "identity", tied)
    fill = InputFill(7, "learned", torch.linspace(-0.5, 0.5, 7)).to(torch.float64)
    x_tilde, x, corrupted = _batch()
    observed = None
    if missing:
        x_tilde, x, corrupted, observed = _holes(x, x_tilde, corrupted)
    holes = corrupted  # masking noise: the dropped inputs, the missing ones too
    layer.zero_grad(set_to_none=True)
    filled = fill(x_tilde, holes)
    out = layer.decode(layer.encode(filled))
    want = ReconstructionLoss()(out, x, kind, corrupted, observed)
    want.backward()
    want_grads = {name: p.grad.clone() for name, p in layer.named_parameters()}
    want_fill = fill.value.grad.clone()
    assert want_fill.abs().max() > 0
    step = StackBackprop(layer, kind, fill=fill.value)
    loss, _ = step(filled.detach(), x, corrupted, observed, holes)
    torch.testing.assert_close(loss, want.detach(), rtol=1e-12, atol=0)
    for name, p in layer.named_parameters():
        torch.testing.assert_close(p.grad, want_grads[name], rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(fill.value.grad, want_fill, rtol=1e-10, atol=1e-14)
    # No hole in the batch: the fill takes no part, and gets no gradient.
    step(x, x, None, None, None)
    torch.testing.assert_close(fill.value.grad, torch.zeros_like(fill.value))


def test_a_fixed_fill_gets_no_gradient():
    fill = InputFill(7, "mean", torch.linspace(-0.5, 0.5, 7))
    step = StackBackprop(_layer("tanh", "identity", False), "mse", fill=fill.value)
    assert "fill" not in step.grads


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_the_consistency_term_matches_autograd(kind, tied):
    layer = _layer("sigmoid", "identity", tied)
    x_tilde, x, corrupted = _batch()
    with torch.no_grad():
        clean = layer.encode(x)
    layer.zero_grad(set_to_none=True)
    h = layer.encode(x_tilde)
    out = layer.decode(h)
    want = ReconstructionLoss()(out, x, kind, corrupted)
    want = want + consistency_loss(h, clean, 0.7)
    want.backward()
    want_grads = {name: p.grad.clone() for name, p in layer.named_parameters()}
    loss, _ = StackBackprop(layer, kind, consistency=0.7)(
        x_tilde, x, corrupted, clean_codes=clean
    )
    torch.testing.assert_close(loss, want.detach(), rtol=1e-12, atol=0)
    for name, p in layer.named_parameters():
        torch.testing.assert_close(p.grad, want_grads[name], rtol=1e-10, atol=1e-14)


# -- a joint stack of several layers, and an ensemble of stacks ----------------


def _biased(module, seed):
    """``module`` in float64 with non-zero biases, so that their gradients
    matter; mostly positive, so that relu leaves no layer dead (then a
    parameter would take no part)."""
    module = module.to(torch.float64)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "bias" in name:
                p.uniform_(-0.2, 0.5, generator=generator)
    return module


# The modules: a joint stack of 2 or 3 layers on 7 columns, and an ensemble
# of 3 members on 3 copies of them, side by side or numeric entries first.
MODULES = {
    "stack of 2": lambda act, tied: StackedDenoisingAutoencoder(
        7, (5, 4), activation=act, tied_weights=tied
    ),
    "stack of 3": lambda act, tied: StackedDenoisingAutoencoder(
        7, (6, 5, 3), activation=act, tied_weights=tied
    ),
    "ensemble": lambda act, tied: StackEnsemble(
        21, (5, 4), n_members=3, activation=act, tied_weights=tied
    ),
    "ensemble, reordered": lambda act, tied: StackEnsemble(
        21, (6,), n_members=3, n_numeric=4, activation=act, tied_weights=tied
    ),
}


def _module_batch(name, missing, seed=5):
    """``(x_tilde, x, corrupted, observed)`` for a module of ``MODULES``."""
    generator = torch.Generator().manual_seed(seed)
    width = 21 if name.startswith("ensemble") else 7
    x = torch.rand(11, width, generator=generator, dtype=torch.float64)
    corrupted = torch.rand(11, width, generator=generator) < 0.3
    x_tilde = x * corrupted.logical_not()
    if not missing:
        return x_tilde, x, corrupted, None
    return _holes(x, x_tilde, corrupted)


def _stack_autograd(module, kind, x_tilde, x, corrupted, observed=None, **terms):
    """Autograd's loss and gradients, by parameter name; ``terms``: emphasis,
    and consistency with the clean codes."""
    module.zero_grad(set_to_none=True)
    h = module.encode(x_tilde)
    loss = ReconstructionLoss(terms.get("emphasis"))(
        module.decode(h), x, kind, corrupted, observed
    )
    if "clean" in terms:
        loss = loss + consistency_loss(h, terms["clean"], 0.7)
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in module.named_parameters()}


def _assert_gradients(module, want_grads, fill=None, want_fill=None):
    for name, p in module.named_parameters():
        assert p.grad.abs().max() > 0, name  # every parameter takes part
        torch.testing.assert_close(p.grad, want_grads[name], rtol=1e-10, atol=1e-14)
    if fill is not None:
        torch.testing.assert_close(fill.grad, want_fill, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    "name, activation, kind, tied, emphasis, missing",
    itertools.product(
        MODULES,
        ACTIVATIONS,
        sorted(LOSSES),
        [False, True],
        [None, (1.0, 0.25)],
        [False, True],
    ),
)
def test_a_stacks_loss_and_gradients_equal_autograd(
    name, activation, kind, tied, emphasis, missing
):
    module = _biased(MODULES[name](activation, tied), seed=3)
    x_tilde, x, corrupted, observed = _module_batch(name, missing)
    want_loss, want_grads = _stack_autograd(
        module, kind, x_tilde, x, corrupted, observed, emphasis=emphasis
    )
    with torch.no_grad():
        want_out = module.decode(module.encode(x_tilde))
    module.zero_grad(set_to_none=True)
    step = StackBackprop(module, kind, emphasis)
    loss, out = step(x_tilde, x, corrupted, observed)
    torch.testing.assert_close(loss, want_loss, rtol=1e-12, atol=0)
    torch.testing.assert_close(out, want_out, rtol=1e-12, atol=1e-14)
    assert set(step.grads) == set(want_grads)
    _assert_gradients(module, want_grads)


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("name", ["stack of 2", "ensemble, reordered"])
def test_a_stacks_fill_and_consistency_gradients_equal_autograd(name, tied):
    module = _biased(MODULES[name]("tanh", tied), seed=3)
    x_tilde, x, corrupted, observed = _module_batch(name, missing=True)
    width = x.shape[1]
    fill = InputFill(width, "learned", torch.linspace(-0.5, 0.5, width))
    fill = fill.to(torch.float64)
    with torch.no_grad():
        clean = module.encode(fill(x, ~observed))
    filled = fill(x_tilde, corrupted)
    want_loss, want_grads = _stack_autograd(
        module, "mse", filled, x, corrupted, observed, clean=clean
    )
    want_fill = fill.value.grad.clone()
    assert want_fill.abs().max() > 0
    step = StackBackprop(module, "mse", consistency=0.7, fill=fill.value)
    loss, _ = step(filled.detach(), x, corrupted, observed, corrupted, clean)
    torch.testing.assert_close(loss, want_loss, rtol=1e-12, atol=0)
    _assert_gradients(module, want_grads, fill.value, want_fill)


def test_an_ensemble_of_one_column_a_member_equals_autograd():
    # Each member's (B, 1) reconstruction, side by side: a layout that a view
    # of the members' products can hold with strides that are not a row's.
    ensemble = StackEnsemble(2, (3,), n_members=2, init_seed=0).to(torch.float64)
    x = torch.rand(
        9, 2, generator=torch.Generator().manual_seed(6), dtype=torch.float64
    )
    corrupted = torch.zeros(9, 2, dtype=torch.bool)
    corrupted[::3] = True
    x_tilde = x * corrupted.logical_not()
    want_loss, want_grads = _stack_autograd(ensemble, "mse", x_tilde, x, corrupted)
    loss, _ = StackBackprop(ensemble, "mse")(x_tilde, x, corrupted)
    torch.testing.assert_close(loss, want_loss, rtol=1e-12, atol=0)
    for name, p in ensemble.named_parameters():
        torch.testing.assert_close(p.grad, want_grads[name], rtol=1e-10, atol=1e-14)
