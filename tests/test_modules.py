import pytest
import torch

from sk_dae._loss import ReconstructionLoss
from sk_dae.modules import DAELayer, StackedDenoisingAutoencoder, StackEnsemble


def _stack(**kwargs):
    params = dict(n_features=12, hidden_layer_sizes=(8, 5, 3), init_seed=0)
    return StackedDenoisingAutoencoder(**{**params, **kwargs})


def test_stack_shapes():
    module = _stack()
    x = torch.rand(7, 12)
    assert module.encode(x).shape == (7, 3)
    assert module.encode(x, depth=1).shape == (7, 8)
    assert module.decode(module.encode(x)).shape == (7, 12)
    assert module(x).shape == (7, 12)
    # A greedy stage of layer 1 maps codes of layer 0 back to themselves.
    assert module.layers[1](torch.rand(7, 8)).shape == (7, 8)


def test_stages_are_the_layers_when_greedy_and_the_stack_when_joint():
    module = _stack()
    assert module.stages("greedy") == list(module.layers)
    assert module.stages("joint") == [module]
    one = _stack(hidden_layer_sizes=(4,))
    assert one.stages("joint") == [one.layers[0]]  # the same model either way


def test_tied_weights_are_shared_not_copied():
    layer = DAELayer(
        6, 4, activation="sigmoid", output_activation="identity", tied_weights=True
    )
    names = {name for name, _ in layer.named_parameters()}
    assert names == {"weight", "bias", "decoder_bias"}
    h = torch.rand(3, 4)
    before = layer.decode(h)
    with torch.no_grad():
        layer.weight.add_(1.0)
    assert not torch.allclose(before, layer.decode(h))
    # The decoder's gradient reaches the encoder weight.
    layer.zero_grad()
    layer.decode(h).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_untied_layer_has_its_own_decoder_weight():
    layer = DAELayer(
        6, 4, activation="relu", output_activation="identity", tied_weights=False
    )
    assert layer.decoder_weight.shape == (6, 4)


def test_init_is_seeded_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a, b, c = _stack(init_seed=1), _stack(init_seed=1), _stack(init_seed=2)
    assert torch.equal(state, torch.get_rng_state())
    assert torch.equal(a.layers[0].weight, b.layers[0].weight)
    assert not torch.equal(a.layers[0].weight, c.layers[0].weight)


def test_the_bottom_decoder_is_affine_whatever_the_activation():
    # Its output is on the loss's scale (logits for cross-entropy): the
    # estimator applies the loss's link, never the module.
    module = _stack(activation="sigmoid")
    h = torch.rand(5, 3)
    bottom = module.layers[0]
    below = module.layers[1].decode(module.layers[2].decode(h))
    want = below @ bottom.decoder_matrix().T + bottom.decoder_bias
    torch.testing.assert_close(module.decode(h), want)
    _, _, activations = module.mlp_weights("sigmoid")
    assert activations == ["sigmoid"] * 6  # the link named last, for ONNX


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_upper_decoders_reconstruct_in_the_code_range(activation):
    module = _stack(activation=activation)
    z = module.layers[1](torch.randn(50, 8) * 5)
    lo, hi = {"sigmoid": (0, 1), "tanh": (-1, 1), "relu": (0, float("inf"))}[activation]
    assert torch.all((z >= lo) & (z <= hi))


def test_emphasis_weights_corrupted_and_clean_components():
    output = torch.zeros(1, 4)
    target = torch.tensor([[1.0, 1.0, 2.0, 2.0]])
    corrupted = torch.tensor([[True, True, False, False]])
    plain = ReconstructionLoss()(output, target, "mse", corrupted)
    full = ReconstructionLoss((1.0, 0.0))(output, target, "mse", corrupted)
    double = ReconstructionLoss((1.0, 0.5))(output, target, "mse", corrupted)
    assert plain.item() == pytest.approx((1 + 1 + 4 + 4) / 4)
    assert full.item() == pytest.approx((1 + 1) / 4)
    assert double.item() == pytest.approx((1 + 1 + 0.5 * 8) / 4)


# -- StackEnsemble ---------------------------------------------------------------


def _member_stack(ensemble, m, n_features):
    """Member ``m`` of ``ensemble`` as a StackedDenoisingAutoencoder."""
    coefs, intercepts, _ = ensemble.mlp_weights(m)
    n_layers = len(coefs) // 2
    stack = StackedDenoisingAutoencoder(
        n_features,
        tuple(c.shape[1] for c in coefs[:n_layers]),
        activation=ensemble.activation,
        tied_weights=ensemble.tied_weights,
    )
    with torch.no_grad():
        for k, layer in enumerate(stack.layers):
            layer.weight.copy_(coefs[k].t())
            layer.bias.copy_(intercepts[k])
            decoder = 2 * n_layers - 1 - k
            if layer.decoder_weight is not None:
                layer.decoder_weight.copy_(coefs[decoder].t())
            layer.decoder_bias.copy_(intercepts[decoder])
    return stack


@pytest.mark.parametrize("tied_weights", [False, True])
@pytest.mark.parametrize("n_numeric", [None, 2])
def test_each_member_is_a_stack_on_its_own_copy(n_numeric, tied_weights):
    ensemble = StackEnsemble(
        3 * 5,
        (6, 4),
        n_members=3,
        n_numeric=n_numeric,
        activation="tanh",
        tied_weights=tied_weights,
        init_seed=1,
    )
    x = torch.rand(7, 15)
    out = ensemble(x)
    for m in range(3):
        columns = ensemble.member_columns(m)
        expected = _member_stack(ensemble, m, 5)(x[:, columns])
        torch.testing.assert_close(out[:, columns], expected)
    # The layout: the numeric entries of every copy, then the others.
    if n_numeric == 2:
        assert ensemble.member_columns(1).tolist() == [2, 3, 9, 10, 11]


def test_members_neither_see_nor_train_each_other():
    ensemble = StackEnsemble(2 * 4, (5,), n_members=2, init_seed=0)
    x = torch.rand(6, 8)
    other = x.clone()
    other[:, 4:] = torch.rand(6, 4)  # member 1's copy changed
    torch.testing.assert_close(ensemble(x)[:, :4], ensemble(other)[:, :4])
    ensemble(x)[:, :4].sum().backward()  # member 0's loss
    for weight in ensemble.parameters():
        assert weight.grad[0].abs().sum() > 0
        assert not weight.grad[1].any()


def test_members_start_apart_and_the_start_is_seeded():
    a = StackEnsemble(3 * 4, (5,), n_members=3, init_seed=0)
    b = StackEnsemble(3 * 4, (5,), n_members=3, init_seed=0)
    weights = a.encoder_weights[0]
    assert not torch.equal(weights[0], weights[1])
    torch.testing.assert_close(weights, b.encoder_weights[0], rtol=0, atol=0)


def test_an_ensemble_needs_one_copy_per_member():
    with pytest.raises(ValueError, match="not a multiple of n_members"):
        StackEnsemble(10, (4,), n_members=3)
