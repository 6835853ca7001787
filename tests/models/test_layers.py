"""Layer mix and downsampler: the length formula, padding invariance, the paper's block sizes."""

import pytest
import torch

from svtk.models.layers import Downsampler, LayerMix


@pytest.mark.parametrize("strides,kernel", [([2, 2], 3), ([2], 3), ([3, 2], 5), ([1, 2, 2], 3)])
def test_output_length_formula_matches_convolution(strides, kernel):
    torch.manual_seed(0)
    ds = Downsampler(8, 12, strides, kernel)
    for n in range(1, 40):
        x = torch.randn(1, n, 8)
        y, lens = ds(x, torch.tensor([n]))
        assert y.shape[1] == int(lens[0]) == int(ds.output_lengths(torch.tensor([n]))[0])
        expect = n
        for s in strides:  # floor((L + 2*(k//2) - k) / s) + 1
            expect = (expect + 2 * (kernel // 2) - kernel) // s + 1
        assert y.shape[1] == expect


def test_paper_downsampler_size():
    """2 blocks 1024 -> 2048 -> 2048, kernel 3, with LayerNorm: 18,886,656 parameters."""
    with torch.device("meta"):
        ds = Downsampler(1024, 2048, [2, 2], 3)
    assert sum(p.numel() for p in ds.parameters()) == 1024 * 2048 * 3 + 2048 + 2048 * 2048 * 3 + 2048 + 4 * 2048


def test_downsampler_is_padding_invariant():
    torch.manual_seed(0)
    ds = Downsampler(8, 16, [2, 2], 3)
    lens = torch.tensor([17, 9, 4])
    x = torch.randn(3, 17, 8)
    x[1, 9:] = 5.0  # garbage in padding must not leak
    x[2, 4:] = -3.0
    y, ylens = ds(x, lens)
    for i in range(3):
        alone, n = ds(x[i: i + 1, : lens[i]], lens[i: i + 1])
        assert int(n) == int(ylens[i])
        torch.testing.assert_close(y[i, : int(n)], alone[0], atol=1e-5, rtol=1e-5)
        assert torch.all(y[i, int(n):] == 0)


def test_layer_mix_modes():
    torch.manual_seed(0)
    states = [torch.randn(2, 5, 4) for _ in range(3)]
    assert torch.equal(LayerMix(3, "last")(LayerMix(3, "last").select(states)), states[-1])
    assert torch.equal(LayerMix(3, 1)(LayerMix(3, 1).select(states)), states[1])
    mix = LayerMix(3, "weighted")
    with torch.no_grad():
        mix.weights.copy_(torch.tensor([0.5, 2.0, -1.0]))
    stored = mix.select(states)
    assert stored.shape == (2, 5, 3, 4)
    expect = (0.5 * states[0] + 2.0 * states[1] - 1.0 * states[2]) / 3  # (1/L) sum_l w_l h_l
    torch.testing.assert_close(mix(stored), expect)
    mix(stored).sum().backward()
    assert mix.weights.grad is not None and mix.weights.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        LayerMix(3, 7)
