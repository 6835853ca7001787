"""SpeechLM with both LLM kinds: ragged batches, loss only on targets, prefix padding, groups."""

import pytest
import torch

from svtk.models.llm import IGNORE, position_ids_from_mask
from svtk.models.speechlm import SpeechLM
from svtk.testing.models import tiny_model_config

KINDS = {"t5": "encoder-decoder", "llama": "decoder-only"}


@pytest.fixture(scope="module", params=["t5", "llama"])
def model(request, model_root):
    torch.manual_seed(0)
    m = SpeechLM.from_config(tiny_model_config(model_root, encoder="native", llm=request.param))
    return m.eval()


def test_kind_and_components(model):
    assert model.llm_kind in KINDS.values()
    assert model.llm.model.get_input_embeddings() is not None
    groups = model.parameter_groups()
    assert set(groups) == {"encoder", "layer_mix", "downsampler", "lora", "llm"}
    assert groups["lora"] and groups["downsampler"] and groups["encoder"] and groups["llm"]
    trainable = {n for n, ps in groups.items() if any(p.requires_grad for p in ps)}
    assert trainable == {"downsampler", "lora"}  # frozen encoder and base LLM (paper)


def test_padded_batch_equals_items_alone(model, task_cuts):
    batch = model.collate(task_cuts)
    assert batch.audio is not None and batch.latents is None
    assert len(set(batch.prompt_lens.tolist())) > 1 and len(set(batch.audio_lens.tolist())) > 1
    with torch.no_grad():
        out = model(batch)
        alone = [model(model.collate([c])) for c in task_cuts]
    for i, a in enumerate(alone):
        torch.testing.assert_close(out.loss_per_item[i], a.loss_per_item[0], atol=1e-4, rtol=1e-4)
        assert int(out.num_tokens[i]) == int(a.num_tokens[0])
    # targets end with eos and count it; loss is the token-weighted mean
    tok = model.tokenizer
    for i, c in enumerate(task_cuts):
        assert int(out.num_tokens[i]) == len(tok.encode(c.custom["target"])) + 1
        assert int(batch.target_ids[i, out.num_tokens[i] - 1]) == tok.eos_id
    expect = (out.loss_per_item * out.num_tokens).sum() / out.num_tokens.sum()
    torch.testing.assert_close(out.loss, expect)


def test_loss_is_on_target_tokens_only(model, task_cuts):
    """Independent reference: the HF model's own loss with labels masking everything but the target."""
    cut = task_cuts[1]
    batch = model.collate([cut])
    with torch.no_grad():
        ours = model(batch).loss_per_item[0]
        prefix, mask = model.prefix(batch)
        target = batch.target_ids
        hf = model.llm.model
        if model.llm_kind == "decoder-only":
            seq = torch.cat([prefix, model.llm.embed(target)], dim=1)
            labels = torch.cat([torch.full(prefix.shape[:2], IGNORE), target], dim=1)
            ref = hf(inputs_embeds=seq, labels=labels).loss
        else:
            ref = hf(inputs_embeds=prefix, attention_mask=mask.long(), labels=target).loss
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-5)


def test_prefix_layout(model, task_cuts):
    batch = model.collate(task_cuts)
    with torch.no_grad():
        embeds, mask = model.prefix(batch)
        audio, audio_lens = model.audio_tokens(batch)
    assert embeds.shape[:2] == mask.shape and embeds.shape[2] == model.llm.hidden_size
    assert torch.equal(mask.sum(1), audio_lens + batch.prompt_lens)
    assert torch.equal(audio_lens, model.downsampler.output_lengths(model.encoder.output_lengths(batch.audio_lens)))
    assert torch.equal(audio_lens, model.num_audio_tokens(batch.audio_lens))
    assert model.audio_token_rate == model.encoder.frame_rate / 4  # strides [2, 2]
    # what decoding sorts and batches by: the prefix length, from the cut alone
    for c, n in zip(task_cuts, mask.sum(1).tolist(), strict=True):
        assert abs(model.prefix_length(c) - n) <= 1
    if model.llm_kind == "decoder-only":
        assert mask[:, -1].all()  # left-padded: every item ends at the right edge
    else:
        assert mask[:, 0].all()
    # audio tokens come first, then the prompt embeddings
    i = int(torch.argmin(mask.sum(1)))
    start = int((~mask[i]).sum()) if model.llm_kind == "decoder-only" else 0
    n = int(audio_lens[i])
    torch.testing.assert_close(embeds[i, start: start + n], audio[i, :n])
    prompt = model.llm.embed(batch.prompt_ids[i: i + 1, : batch.prompt_lens[i]])[0]
    torch.testing.assert_close(embeds[i, start + n: start + n + len(prompt)], prompt)


def test_left_padded_prefix_next_token_matches_alone(model_root, task_cuts):
    """What the decoder relies on: left padding + position ids from the mask change nothing."""
    model = SpeechLM.from_config(tiny_model_config(model_root, encoder="native", llm="llama")).eval()
    batch = model.collate(task_cuts)
    hf = model.llm.model
    with torch.no_grad():
        embeds, mask = model.prefix(batch)
        logits = hf(inputs_embeds=embeds, attention_mask=mask.long(),
                    position_ids=position_ids_from_mask(mask)).logits[:, -1]
        for i, c in enumerate(task_cuts):
            e1, m1 = model.prefix(model.collate([c]))
            ref = hf(inputs_embeds=e1, attention_mask=m1.long()).logits[0, -1]
            torch.testing.assert_close(logits[i], ref, atol=1e-4, rtol=1e-4)


def test_gradients_and_trainable_state(model_root, task_cuts):
    torch.manual_seed(0)
    cfg = tiny_model_config(model_root, encoder="native", llm="llama", layer="weighted")
    m = SpeechLM.from_config(cfg)
    m.train()
    assert not m.encoder.training  # frozen encoder stays in eval mode
    m.set_trainable(["layer_mix", "downsampler", "lora"])
    out = m(m.collate(task_cuts[:3]))
    out.loss.backward()
    groups = m.parameter_groups()
    assert groups["layer_mix"][0].grad is not None
    assert all(p.grad is not None for p in groups["downsampler"])
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in groups["lora"])
    assert all(p.grad is None for p in groups["encoder"] + groups["llm"])
    # phase 1 of the curriculum: downsampler (+ layer weights) only
    m.set_trainable(["layer_mix", "downsampler"])
    assert not any(p.requires_grad for p in groups["lora"])
    with torch.no_grad():
        for p in groups["downsampler"] + groups["layer_mix"]:
            p.add_(0.01 * torch.randn_like(p))
    state = m.trainable_state_dict()
    assert any("lora_" in k for k in state) and any(k.startswith("downsampler.") for k in state)
    assert not any(k.startswith("encoder.") for k in state)
    fresh = SpeechLM.from_config(cfg).eval()
    m.eval()
    missing, unexpected = fresh.load_state_dict(state, strict=False)
    assert not unexpected
    batch = m.collate(task_cuts[:3])
    with torch.no_grad():
        torch.testing.assert_close(fresh(batch).loss, m(batch).loss)


def test_collate_without_targets(model, task_cuts):
    cuts = [c.with_custom("target", None) for c in task_cuts]
    batch = model.collate(cuts)
    assert batch.target_ids is None
    embeds, mask = model.prefix(batch)
    assert embeds.shape[0] == len(cuts)
    with pytest.raises(ValueError):
        model(batch)


@pytest.mark.parametrize("kind,model_type", [("decoder-only", "llama"), ("encoder-decoder", "t5")])
def test_from_scratch_llm_dir_loads_like_any_other(tmp_path, kind, model_type, task_cuts):
    """The mini recipe's path: train a tokenizer, init an LLM from an inline config, save both,
    then the SpeechLM loads the directory through from_pretrained/AutoTokenizer."""
    from svtk.models.config import LLMConfig
    from svtk.models.llm import init_llm
    from svtk.models.tokenizer import train_sentencepiece
    from svtk.testing.models import TEXTS

    tok = train_sentencepiece(TEXTS, tmp_path / "tok", vocab_size=70)
    small = {"llama": dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                           num_attention_heads=2, num_key_value_heads=2),
             "t5": dict(d_model=32, d_ff=64, d_kv=16, num_heads=2, num_layers=1)}[model_type]
    llm = init_llm(LLMConfig(kind=kind, config={"model_type": model_type, **small}), tokenizer=tok)
    assert llm.config.vocab_size == tok.vocab_size and llm.config.eos_token_id == tok.eos_id
    llm.save_pretrained(tmp_path / "llm")
    tok.save_pretrained(tmp_path / "llm")
    cfg = tiny_model_config(tmp_path, encoder="native", llm="t5" if model_type == "t5" else "llama")
    cfg.llm.name_or_path = str(tmp_path / "llm")
    model = SpeechLM.from_config(cfg).eval()
    assert model.tokenizer.vocab_size == tok.vocab_size
    with torch.no_grad():
        out = model(model.collate(task_cuts[:2]))
    assert torch.isfinite(out.loss)


@pytest.mark.parametrize("attention", ["segments", "block_mask"])
def test_packed_training_equals_padded(model_root, task_cuts, monkeypatch, attention):
    """llm.packed: one sequence, attention within each item (segment_attention, or a
    block-diagonal causal mask for LLMs that are not sdpa) gives the padded batch's per-item
    losses and the same gradients (LoRA and downsampler), with no padding computed."""
    from dataclasses import replace

    import svtk.models.llm

    monkeypatch.setattr(svtk.models.llm, "packing_saves", lambda lens, break_even: True)
    if attention == "block_mask":
        monkeypatch.setattr(svtk.models.llm, "use_segment_attention", lambda model: False)
    cfg = tiny_model_config(model_root, encoder="native", llm="llama")
    models = []
    for packed in (False, True):
        torch.manual_seed(0)
        models.append(SpeechLM.from_config(replace(cfg, llm=replace(cfg.llm, packed=packed))))
    assert models[1].llm.segments == (attention == "segments") and not models[0].llm.segments
    batch = models[0].collate(task_cuts)
    outs = []
    for m in models:
        m.train()
        out = m(batch)
        out.loss.backward()
        outs.append(out)
    torch.testing.assert_close(outs[1].loss_per_item, outs[0].loss_per_item, atol=1e-5, rtol=1e-5)
    assert torch.equal(outs[1].num_tokens, outs[0].num_tokens)
    grads = [{n: p.grad for n, p in m.named_parameters() if p.requires_grad} for m in models]
    assert grads[0].keys() == grads[1].keys() and any("lora_" in n for n in grads[0])
    for n, g in grads[0].items():
        torch.testing.assert_close(grads[1][n], g, atol=1e-5, rtol=1e-4)


def test_frozen_zero_lora_is_skipped_with_the_same_loss_and_gradients(model_root, task_cuts,
                                                                     monkeypatch):
    """Phase 1 (LoRA frozen, lora_B still 0): the LLM runs without its adapters (no dropout
    masks, no LoRA matmuls), gives the same loss and downsampler gradients, and the adapters
    stay frozen; once LoRA trains (or its B is not 0) the adapters run."""
    import contextlib

    from svtk.models.llm import LLMAdapter

    torch.manual_seed(0)
    model = SpeechLM.from_config(tiny_model_config(model_root, encoder="native", llm="llama"))
    model.train()
    model.set_trainable(["downsampler"])
    batch = model.collate(task_cuts)
    dropouts = [m for n, m in model.llm.named_modules() if n.endswith("lora_dropout.default")]
    assert dropouts
    calls = []
    for m in dropouts:
        m.register_forward_hook(lambda *a: calls.append(1))

    def run():
        model.zero_grad(set_to_none=True)
        out = model(batch)
        out.loss.backward()
        return out.loss_per_item, [p.grad for p in model.parameter_groups()["downsampler"]]

    loss, grads = run()
    assert not calls
    assert not any(p.requires_grad for p in model.parameter_groups()["lora"])
    with monkeypatch.context() as mp:
        mp.setattr(LLMAdapter, "inert_lora", lambda self: contextlib.nullcontext())
        ref_loss, ref_grads = run()
    assert calls  # the adapters ran
    torch.testing.assert_close(loss, ref_loss)
    for g, r in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, r)
    calls.clear()
    model.set_trainable(["downsampler", "lora"])
    run()
    assert calls


def test_segment_attention_equals_block_causal_mask():
    """The packed sequence's logits and input gradients are the same under segment_attention
    as under the dense block-diagonal mask, with grouped-query heads too; without segments it
    is sdpa, and the switch is not saved with the model."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from svtk.models.llm import SEGMENT_ATTENTION, block_causal_mask, use_segment_attention

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2)
    dense, segmented = LlamaForCausalLM(cfg).eval(), LlamaForCausalLM(cfg).eval()
    segmented.load_state_dict(dense.state_dict())
    assert use_segment_attention(segmented) and segmented.config._attn_implementation == SEGMENT_ATTENTION
    lens = [3, 5, 1, 4]
    positions = torch.cat([torch.arange(n) for n in lens])[None]
    segment = torch.repeat_interleave(torch.arange(len(lens)), torch.tensor(lens))
    x = torch.randn(1, sum(lens), 32)
    xs = [x.clone().requires_grad_() for _ in range(2)]
    ref = dense(inputs_embeds=xs[0], position_ids=positions, use_cache=False,
                attention_mask=block_causal_mask(segment, x.dtype)).logits
    out = segmented(inputs_embeds=xs[1], position_ids=positions, use_cache=False,
                    segment_lens=lens).logits
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)
    g = torch.randn_like(ref)
    ref.backward(g)
    out.backward(g)
    torch.testing.assert_close(xs[1].grad, xs[0].grad, atol=1e-5, rtol=1e-5)
    # no segments: plain sdpa under the model's own padding mask
    ids = torch.randint(0, 50, (2, 6))
    pad = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    with torch.no_grad():
        torch.testing.assert_close(segmented(ids, attention_mask=pad).logits,
                                   dense(ids, attention_mask=pad).logits)


def test_block_causal_mask():
    from svtk.models.llm import block_causal_mask

    m = block_causal_mask(torch.tensor([0, 0, 1, 1, 1]), torch.float32)[0, 0]
    allowed = (m == 0).int().tolist()
    assert allowed == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 1, 1, 0],
                       [0, 0, 1, 1, 1]]


def test_packing_only_when_it_saves_compute():
    from svtk.models.llm import packing_saves

    assert packing_saves(torch.tensor([20, 25, 150, 30, 22, 160, 18, 40, 35]), 1664.0)  # prompts
    assert not packing_saves(torch.tensor([70, 68, 66, 65, 64, 62] * 3), 1664.0)  # like lengths
    assert not packing_saves(torch.tensor([100, 100]), 1664.0)


@pytest.mark.parametrize("layer", ["last", "weighted"])
def test_prefix_and_ctc_share_one_encoder_pass(tmp_path, model_root, task_cuts, layer):
    """Joint CTC/LLM decoding's inputs: the same prefix as prefix(), and the CTC head's
    log-probabilities over the encoder's last layer, from audio or from cached latents."""
    from dataclasses import replace

    from svtk.testing.models import tiny_native

    enc_dir = tiny_native(tmp_path / "enc", vocab_size=40, seed=3)
    cfg = tiny_model_config(model_root, encoder="native", llm="llama", layer=layer)
    cfg = replace(cfg, encoder=replace(cfg.encoder, name_or_path=str(enc_dir)))
    m = SpeechLM.from_config(cfg).eval()
    batch = m.collate(task_cuts[:3])
    with torch.no_grad():
        embeds, mask, ctc, lens = m.prefix_and_ctc(batch)
        e0, m0 = m.prefix(batch)
        out = m.encoder(batch.audio, batch.audio_lens)
        ref = m.encoder.ctc_logits(out.hidden_states[-1]).log_softmax(-1)
        torch.testing.assert_close(embeds, e0)
        assert torch.equal(mask, m0)
        torch.testing.assert_close(ctc, ref)
        assert torch.equal(lens, out.lengths) and ctc.shape[-1] == 40
        assert m.ctc_blank_id == m.encoder.config.blank_id
        # the latent cache holds what the layer mix reads: CTC from it is the same
        batch.latents, batch.latent_lens = m.layer_mix.select(out.hidden_states), out.lengths
        batch.audio = batch.audio_lens = None
        torch.testing.assert_close(m.prefix_and_ctc(batch)[2], ref)


def test_ctc_scores_need_a_ctc_head(model, task_cuts):
    from svtk.errors import UserError

    with pytest.raises(UserError, match="CTC head"):
        model.prefix_and_ctc(model.collate(task_cuts[:2]))


@pytest.mark.parametrize("llm", ["t5", "llama"])
def test_merged_lora_decodes_like_the_adapters(model_root, task_cuts, llm):
    """``merge_lora`` (decoding) folds trained, non-zero adapters into the weights: the same
    next-token log-probabilities and greedy outputs, no adapter left acting."""
    from svtk.decoding.incremental import make_decoder
    from svtk.decoding.search import greedy_search

    torch.manual_seed(0)
    m = SpeechLM.from_config(tiny_model_config(model_root, encoder="native", llm=llm)).eval()
    with torch.no_grad():
        for p in m.parameter_groups()["lora"]:
            p.normal_(0, 0.3)  # PEFT starts B at zero: make every adapter change the function
    batch = m.collate(task_cuts)
    tok = m.tokenizer

    def decode():
        dec = make_decoder(m.llm_kind, m.llm.model)
        with torch.no_grad():
            embeds, mask = m.prefix(batch)
            _, logp = dec.start(embeds, mask)
            out = greedy_search(dec, embeds, mask, max_new_tokens=6, eos_id=tok.eos_id,
                                pad_id=tok.pad_id)
        return logp, out.sequences

    logp, seqs = decode()
    assert m.llm.merge_lora()
    merged_logp, merged_seqs = decode()
    torch.testing.assert_close(merged_logp, logp, atol=1e-4, rtol=1e-4)
    assert merged_seqs == seqs
    lora = [mod for mod in m.llm.model.modules() if hasattr(mod, "merged") and hasattr(mod, "lora_A")]
    assert lora and all(mod.merged for mod in lora)
    # unmerged, the adapters made a difference (the test above is not vacuous)
    m.llm.model.unmerge_adapter()
    with m.llm.model.disable_adapter(), torch.no_grad():
        _, plain = make_decoder(m.llm_kind, m.llm.model).start(*m.prefix(batch))
    assert (plain - logp).abs().max() > 1e-2
