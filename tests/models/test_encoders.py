"""Each encoder family's wrapper, loaded through from_pretrained: lengths, layers, padding, Whisper."""

import numpy as np
import pytest
import torch

from svtk.models.config import EncoderConfig
from svtk.models.encoders import build_encoder
from svtk.testing.models import ENCODER_BUILDERS

FAMILIES = ["native", "wavlm", "hubert", "wav2vec2", "whisper"]


@pytest.fixture(scope="module")
def audio():
    g = torch.Generator().manual_seed(0)
    lens = torch.tensor([16000, 11000, 5123])
    x = 0.1 * torch.randn(3, 16000, generator=g)
    for i, n in enumerate(lens):
        x[i, n:] = 0.0
    return x, lens


def _encoder(kind, root):
    path = root / f"enc-{kind}"
    if not path.exists():
        ENCODER_BUILDERS[kind](path)
    return build_encoder(EncoderConfig(kind=kind, name_or_path=str(path))).eval()


@pytest.mark.parametrize("kind", FAMILIES)
def test_encoder_family(kind, model_root, audio):
    enc = _encoder(kind, model_root)
    assert not any(p.device.type == "meta" for p in enc.parameters())
    x, lens = audio
    with torch.no_grad():
        out = enc(x, lens)
    assert len(out.hidden_states) == enc.num_hidden_states
    assert torch.equal(out.lengths, enc.output_lengths(lens))
    t = out.hidden_states[-1].shape[1]
    assert t == int(out.lengths.max())
    assert all(h.shape == (3, t, enc.hidden_size) for h in out.hidden_states)
    # frame rate agrees with the lengths: 1 s of audio -> ~frame_rate frames
    assert abs(int(out.lengths[0]) - enc.frame_rate) <= 3
    tol = 1e-4
    for i in range(3):
        n = int(lens[i])
        with torch.no_grad():
            alone = enc(x[i: i + 1, :n], lens[i: i + 1])
        m = int(alone.lengths[0])
        assert m == int(out.lengths[i])
        for h_b, h_a in zip(out.hidden_states, alone.hidden_states, strict=False):
            torch.testing.assert_close(h_b[i, :m], h_a[0, :m], atol=tol, rtol=tol)


def test_whisper_full_length_matches_transformers(model_root):
    """On a full-length input (the '30 s' of this tiny model) our encoder is HF's exactly."""
    from transformers import WhisperModel

    enc = _encoder("whisper", model_root)
    hf = WhisperModel.from_pretrained(model_root / "enc-whisper").get_encoder().eval()
    full = 2 * enc.max_frames * enc.hop  # samples that make exactly max_source_positions frames
    x = 0.1 * torch.randn(2, full, generator=torch.Generator().manual_seed(1))
    lens = torch.tensor([full, full])
    with torch.no_grad():
        ours = enc(x, lens)
        feats = enc.features(x, lens)
        ref = hf(feats).last_hidden_state
    torch.testing.assert_close(ours.hidden_states[-1], ref, atol=1e-5, rtol=1e-5)


def test_whisper_short_clip(model_root):
    """transformers rejects short mel input; ours runs on the clip's own length. Versus padding the
    clip to the full window, valid frames differ (Whisper attends to the padded silence); we
    measure that difference and require it to be finite and the first frames' conv path equal."""
    enc = _encoder("whisper", model_root)
    n = 8000  # 0.5 s of a 3 s window
    x = 0.1 * torch.randn(1, n, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        short = enc(x, torch.tensor([n]))
        with pytest.raises(ValueError):
            enc.encoder(enc.features(x, torch.tensor([n])))
        full = 2 * enc.max_frames * enc.hop
        padded = torch.nn.functional.pad(x, (0, full - n))
        feats = enc.features(padded, torch.tensor([full]))
        long = enc.encode_features(feats, None)
    t = int(short.lengths[0])
    assert short.hidden_states[-1].shape[1] == t == 25
    # embeddings (conv + positions) agree on valid frames except the edge frame, whose conv sees
    # log-mel of padding instead of zeros
    torch.testing.assert_close(short.hidden_states[0][0, : t - 1], long[0][0, : t - 1], atol=1e-4, rtol=1e-4)
    diff = (short.hidden_states[-1][0, :t] - long[-1][0, :t]).abs().mean()
    assert torch.isfinite(diff)


def test_native_save_load_and_ctc(tmp_path):
    from svtk.models.native import NativeEncoder
    from svtk.testing.models import tiny_native_config

    torch.manual_seed(0)
    enc = NativeEncoder(tiny_native_config(vocab_size=6))
    x = 0.1 * torch.randn(2, 5000)
    lens = torch.tensor([5000, 4000])
    targets = torch.tensor([[1, 2, 3, 4, 5], [2, 2, 4, 0, 0]])
    tlens = torch.tensor([5, 3])
    opt = torch.optim.Adam(enc.parameters(), lr=5e-3)
    first = None
    for _ in range(30):
        out = enc(x, lens)
        loss = enc.ctc_loss(out.hidden_states[-1], out.lengths, targets, tlens)
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first
    enc.eval()
    with torch.no_grad():
        out = enc(x, lens)
        hyp = enc.ctc_greedy(out.hidden_states[-1], out.lengths)
    assert hyp[0] == [1, 2, 3, 4, 5] and hyp[1] == [2, 2, 4]
    enc.save_pretrained(tmp_path / "enc")
    again = NativeEncoder.from_pretrained(tmp_path / "enc").eval()
    with torch.no_grad():
        out2 = again(x, lens)
    for a, b in zip(out.hidden_states, out2.hidden_states, strict=False):
        assert torch.equal(a, b)
    assert again.frame_rate == 25.0


def test_native_fbank_frames():
    from svtk.models.native import NativeEncoder, fbank_frames
    from svtk.testing.models import tiny_native_config

    enc = NativeEncoder(tiny_native_config())
    for n in (400, 401, 559, 560, 16000, 12345):
        feats, lens = enc.features(torch.randn(1, n), torch.tensor([n]))
        assert feats.shape[1] == int(lens[0]) == int(fbank_frames(torch.tensor(n))) == 1 + (n - 400) // 160
    assert np.isclose(float(enc.features(torch.randn(1, 4000), torch.tensor([4000]))[0].mean()), 0, atol=1e-5)


def test_native_spec_augment_masks_in_training_only():
    from svtk.models.native import NativeEncoder
    from svtk.testing.models import tiny_native_config

    cfg = tiny_native_config(freq_masks=2, freq_width=10, time_masks=3, time_width=0.1)
    enc = NativeEncoder(cfg)
    feats = torch.randn(4, 200, cfg.num_mel_bins)
    lens = torch.tensor([200, 150, 60, 1])
    torch.manual_seed(0)
    out = enc.spec_augment(feats, lens)
    zero = out == 0
    for i, n in enumerate(lens.tolist()):
        bins = zero[i, :n].all(0)  # masked bins: zero at every valid frame
        frames = zero[i, :n].all(1)  # masked frames: zero in every bin
        assert 0 < int(bins.sum()) + int(frames.sum())  # the seed masks something everywhere
        assert int(bins.sum()) <= 2 * 10
        assert int(frames.sum()) <= 3 * int(0.1 * n)
        kept = ~zero[i, :n]
        assert torch.equal(out[i, :n][kept], feats[i, :n][kept])  # the rest is untouched
    enc.train()
    audio, alens = 0.1 * torch.randn(2, 8000), torch.tensor([8000, 6000])
    torch.manual_seed(1)
    a = enc(audio, alens).hidden_states[0]
    torch.manual_seed(2)
    b = enc(audio, alens).hidden_states[0]
    assert not torch.equal(a, b)  # fresh masks each step (dropout is 0 here)
    enc.eval()
    with torch.no_grad():
        c, d = enc(audio, alens).hidden_states[0], enc(audio, alens).hidden_states[0]
    assert torch.equal(c, d)
    enc_off = NativeEncoder(tiny_native_config()).eval()
    enc_off.load_state_dict(enc.state_dict())
    with torch.no_grad():
        assert torch.equal(enc_off(audio, alens).hidden_states[-1], enc(audio, alens).hidden_states[-1])


def test_native_attention_window_limits_context_only():
    from svtk.models.native import NativeEncoder, attention_mask
    from svtk.testing.models import tiny_native_config

    valid = torch.tensor([[True] * 6 + [False] * 2])
    m = attention_mask(valid, 2)[0, 0]
    for i in range(8):
        for j in range(8):
            assert bool(m[i, j]) == ((abs(i - j) <= 2 and j < 6) or i == j), (i, j)
    assert torch.equal(attention_mask(valid, 0), valid[:, None, None, :])

    # a transformer block (no conv module) with window 1 over 1 layer: a frame's output does not
    # depend on frames further away than the subsampling's and the window's reach
    torch.manual_seed(0)
    cfg = tiny_native_config(block="transformer", num_layers=1, subsampling=[1],
                             attention_window=1)
    enc = NativeEncoder(cfg).eval()
    feats, lens = torch.randn(2, 40, cfg.num_mel_bins), torch.tensor([40, 31])
    feats[1, 31:] = 0.0  # padding, as normalise() leaves it
    far = feats.clone()
    far[:, 30:] += 5.0  # change frames 30.. only
    with torch.no_grad():
        a, b = enc.encode(feats, lens), enc.encode(far, lens)
        # subsampling conv (kernel 3) reaches 1 frame, the window 1 more: frames <= 27 unchanged
        assert torch.allclose(a.hidden_states[-1][:, :28], b.hidden_states[-1][:, :28])
        assert not torch.allclose(a.hidden_states[-1][:, 28:30], b.hidden_states[-1][:, 28:30])
        full = NativeEncoder(tiny_native_config(block="transformer", num_layers=1,
                                                subsampling=[1])).eval()
        full.load_state_dict(enc.state_dict())
        assert not torch.allclose(full.encode(feats, lens).hidden_states[-1][:, :28],
                                  full.encode(far, lens).hidden_states[-1][:, :28])
        # padding invariance holds with the window: item 1 alone gives the same frames
        one = enc.encode(feats[1:, :31], lens[1:])
        assert torch.allclose(a.hidden_states[-1][1, :31], one.hidden_states[-1][0], atol=1e-5)


@pytest.mark.parametrize("kernel", [1, 3, 15])
def test_native_depthwise_conv_equals_conv1d(kernel):
    """The CPU depthwise conv of the conformer module (channels-last conv2d, shifted sums for
    the weight gradient) gives nn.Conv1d's output and gradients, also when T < kernel."""
    from torch import nn

    from svtk.models.native import depthwise_conv

    torch.manual_seed(0)
    for b, t, c in [(3, 17, 8), (1, 2, 4)]:
        conv = nn.Conv1d(c, c, kernel, padding=kernel // 2, groups=c).double()
        x = torch.randn(b, t, c, dtype=torch.double, requires_grad=True)
        y, ref = depthwise_conv(x, conv), conv(x.transpose(1, 2)).transpose(1, 2)
        torch.testing.assert_close(y, ref)
        g = torch.randn_like(y)
        got = torch.autograd.grad(y, (x, conv.weight, conv.bias), g)
        want = torch.autograd.grad(ref, (x, conv.weight, conv.bias), g)
        for a, w in zip(got, want, strict=True):
            torch.testing.assert_close(a, w)


@pytest.mark.parametrize("subsampling", [[2, 3], [4], [2, 2, 2], [5]])
def test_native_subsampling_reads_every_frame(subsampling):
    """Every fbank frame reaches some output frame (a kernel-3 conv at stride 4 would skip one
    in four), and the output length is what output_lengths says."""
    from svtk.models.native import NativeEncoder, fbank_frames
    from svtk.testing.models import tiny_native_config

    torch.manual_seed(0)
    enc = NativeEncoder(tiny_native_config(subsampling=subsampling)).eval()
    n = 16000
    frames = int(fbank_frames(torch.tensor(n)))
    feats = torch.randn(1, frames, 80, requires_grad=True)
    out = enc.encode(feats, torch.tensor([frames]))  # not forward_fbank: its per-utterance
    # normalisation would make every output depend on every frame
    assert out.hidden_states[0].shape[1] == int(enc.output_lengths(torch.tensor([n]))[0])
    h = out.hidden_states[0]
    (g,) = torch.autograd.grad((h * torch.randn_like(h)).sum(), feats)  # not h.sum(): LayerNorm
    assert bool((g.abs().sum(-1) > 0).all())


def test_native_conv_kernel_must_be_odd():
    from svtk.models.config import NativeEncoderConfig

    with pytest.raises(ValueError, match="odd"):
        NativeEncoderConfig(conv_kernel=4)
