import pytest
import torch

from sk_dae._loss import ReconstructionLoss
from sk_dae.modules import DAELayer, StackedDenoisingAutoencoder


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
