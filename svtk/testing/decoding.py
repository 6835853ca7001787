"""Test helpers for decoding: tiny tokenizers, tiny HF LLMs, and a fake SpeechLM.

Everything is built offline from configs in about a second and goes through the real
``save_pretrained`` / ``from_pretrained`` path:

- ``tiny_tokenizer(kind, dir)``: ``"bpe"`` is byte-level BPE (GPT-2/Llama-3/Qwen style, ``Ġ``
  for a leading space), ``"unigram"`` is a sentencepiece-style unigram model (T5/Llama-2 style,
  ``▁`` prefix) — the two tokenizations constrained decoding must handle;
- ``tiny_llm(kind, tokenizer, dir)``: ``"llama"``, ``"qwen2"`` (decoder-only) or ``"t5"``
  (encoder-decoder) with a few thousand parameters, fp32;
- ``FakeSpeechLM``: implements the part of the SpeechLM contract decoding uses (``collate``,
  ``prefix``, ``prefix_and_ctc``, ``tokenizer``, ``llm_kind``, ``llm.model``,
  ``trainable_state_dict``), with audio
  tokens derived deterministically from each cut's id, so the decode driver is tested before and
  independently of ``svtk.models``.

Usage::

    tok = tiny_tokenizer("bpe", tmp_path / "tok")
    llm = tiny_llm("llama", tok, tmp_path / "llm")
    model = FakeSpeechLM(llm, tok)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

LABELS = ["play_music", "play", "set_alarm", "weather_query", "yes", "no", "neutral", "happy"]
SLOT_TYPES = ["date", "time", "place_name", "time_zone"]
CORPUS = [
    "ASR: play some music | IC: play_music |",
    "ASR: wake me up at seven | IC: set_alarm |",
    "ASR: what is the weather like today | IC: weather_query |",
    "date: tomorrow; time: five pm; place_name: paris",
    "time_zone: utc; date: monday",
    "hello world how are you doing today",
    "yes no neutral happy play set alarm weather query",
    "transcribe the audio. what is the intent? which slots are mentioned?",
] * 3
SPECIALS = ["<pad>", "</s>", "<unk>"]
EXTRA_VOCAB = 5  # model vocabulary is wider than the tokenizer, as with real padded vocabs


def tiny_tokenizer(kind: str, out_dir: str | Path):
    """Train, save and reload a tiny tokenizer (``"bpe"`` or ``"unigram"``)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=330, special_tokens=SPECIALS,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    elif kind == "unigram":
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
        tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
        alphabet = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:;|?.,'")
        trainer = trainers.UnigramTrainer(vocab_size=160, special_tokens=SPECIALS,
                                          unk_token="<unk>", initial_alphabet=alphabet)
    else:
        raise ValueError(f"unknown tiny tokenizer kind {kind!r} (bpe, unigram)")
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")
    fast.save_pretrained(str(out_dir))
    return AutoTokenizer.from_pretrained(str(out_dir))


def tiny_llm(kind: str, tokenizer, out_dir: str | Path, seed: int = 0, hidden: int = 32,
             layers: int = 2):
    """Build a tiny LLM from a config, save it and load it back with ``from_pretrained``."""
    import transformers as tf

    torch.manual_seed(seed)
    V = len(tokenizer) + EXTRA_VOCAB
    common = dict(vocab_size=V, pad_token_id=tokenizer.pad_token_id,
                  eos_token_id=tokenizer.eos_token_id)
    if kind in ("llama", "qwen2"):
        cfg_cls = tf.LlamaConfig if kind == "llama" else tf.Qwen2Config
        cfg = cfg_cls(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      tie_word_embeddings=False, **common)
        cls = tf.AutoModelForCausalLM
    elif kind == "t5":
        cfg = tf.T5Config(d_model=hidden, d_kv=8, d_ff=2 * hidden, num_layers=layers,
                          num_decoder_layers=layers, num_heads=4, decoder_start_token_id=tokenizer.pad_token_id,
                          tie_word_embeddings=False, **common)
        cls = tf.AutoModelForSeq2SeqLM
    else:
        raise ValueError(f"unknown tiny llm kind {kind!r} (llama, qwen2, t5)")
    model = cls.from_config(cfg).eval()
    _calibrate_logits(model, kind)
    model.save_pretrained(str(out_dir))
    return cls.from_pretrained(str(out_dir)).eval()


def _calibrate_logits(model, kind: str, target_std: float = 2.5) -> None:
    """Scale the output layer so random inputs give logits of std ``target_std``: peaked enough
    that search paths differ, not so peaked that one token always wins."""
    g = torch.Generator().manual_seed(0)
    D = model.get_input_embeddings().weight.shape[1]
    embeds = torch.randn(2, 6, D, generator=g)
    with torch.no_grad():
        if kind == "t5":
            logits = model(inputs_embeds=embeds, decoder_input_ids=torch.zeros(2, 3, dtype=torch.long)).logits
        else:
            logits = model(inputs_embeds=embeds).logits
        model.get_output_embeddings().weight.mul_(target_std / float(logits.std()))


@dataclass
class FakeBatch:
    ids: list[str]
    audio: torch.Tensor  # (B, A, F) padded audio features
    audio_lens: torch.Tensor  # (B,)
    prompt_ids: list[list[int]]


class FakeSpeechLM(nn.Module):
    """The decoding-facing part of the SpeechLM contract, over a real (tiny) HF LLM.

    Audio features are a deterministic function of the cut id (4 frames per second of
    duration), mapped to the LLM's width by a linear "downsampler"; prompts are embedded with
    the LLM's input embeddings. ``prefix`` is LEFT-padded for decoder-only LLMs.
    """

    FEAT_DIM = 8

    def __init__(self, hf_model, tokenizer, llm_kind: str | None = None):
        super().__init__()
        from svtk.decoding.incremental import llm_kind_of

        self.llm = SimpleNamespace(model=hf_model)
        self._hf = hf_model  # registered, so .to() and state dicts see it
        self.tokenizer = tokenizer
        self.llm_kind = llm_kind or llm_kind_of(hf_model)
        dim = hf_model.get_input_embeddings().weight.shape[1]
        torch.manual_seed(1)
        self.downsampler = nn.Linear(self.FEAT_DIM, dim)
        # a fixed "CTC head" over the tokenizer's ids (joint CTC/LLM decoding), the same for
        # every LLM: blank = the pad id, never the end of sequence
        torch.manual_seed(2)
        self.ctc_head = nn.Linear(self.FEAT_DIM, len(tokenizer))
        self.ctc_blank_id = int(tokenizer.pad_token_id)
        self.eval()  # an inference model; decode_cuts restores whatever mode it found

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        return {f"downsampler.{k}": v for k, v in self.downsampler.state_dict().items()}

    def collate(self, cuts) -> FakeBatch:
        feats, ids, prompts = [], [], []
        for cut in cuts:
            n = max(1, round(cut.duration * 4))
            g = torch.Generator().manual_seed(zlib.crc32(cut.id.encode()))
            feats.append(torch.randn(n, self.FEAT_DIM, generator=g))
            ids.append(cut.id)
            prompt = (cut.custom or {}).get("prompt", "")
            prompts.append(list(self.tokenizer(prompt, add_special_tokens=False)["input_ids"]))
        lens = torch.tensor([f.shape[0] for f in feats])
        audio = nn.utils.rnn.pad_sequence(feats, batch_first=True)
        return FakeBatch(ids, audio, lens, prompts)

    def prefix(self, batch: FakeBatch) -> tuple[torch.Tensor, torch.Tensor]:
        emb = self.llm.model.get_input_embeddings()
        device = emb.weight.device
        audio = self.downsampler(batch.audio.to(device))  # (B, A, D)
        rows = []
        for i, pids in enumerate(batch.prompt_ids):
            a = audio[i, : int(batch.audio_lens[i])]
            p = emb(torch.tensor(pids, dtype=torch.long, device=device))
            rows.append(torch.cat([a, p], dim=0))  # (T_i, D)
        T = max(r.shape[0] for r in rows)
        D = rows[0].shape[1]
        embeds = audio.new_zeros(len(rows), T, D)
        mask = torch.zeros(len(rows), T, dtype=torch.long, device=device)
        left = self.llm_kind == "decoder-only"
        for i, r in enumerate(rows):
            sl = slice(T - r.shape[0], T) if left else slice(0, r.shape[0])
            embeds[i, sl] = r
            mask[i, sl] = 1
        return embeds, mask  # (B, T, D), (B, T)

    def prefix_and_ctc(self, batch: FakeBatch):
        """:meth:`prefix`, and CTC log-probabilities (B, A, V) of the audio features."""
        embeds, mask = self.prefix(batch)
        logits = self.ctc_head(batch.audio.to(embeds.device)) * 3.0
        logits[..., self.tokenizer.eos_token_id] = float("-inf")
        return embeds, mask, logits.log_softmax(-1), batch.audio_lens


def dummy_task_cuts(n: int, tasks: tuple[str, ...] = ("asr", "ic", "sf"), seed: int = 0):
    """``n`` lhotse MonoCuts (no real audio) carrying the task-cut custom fields."""
    import random

    from lhotse import CutSet
    from lhotse.testing.dummies import dummy_cut, dummy_supervision

    rng = random.Random(seed)
    cuts = []
    for i in range(n):
        task = tasks[i % len(tasks)]
        dur = rng.choice([0.5, 1.0, 1.5, 2.0, 3.0])
        cut = dummy_cut(i, duration=dur, supervisions=[dummy_supervision(i, duration=dur, text="play some music")])
        cut.id = f"utt{i:03d}"
        target = {"asr": "play some music", "ic": "play_music", "sf": "date: tomorrow; time: five pm",
                  "st": "spiel etwas musik"}.get(task, "yes")
        cut.custom = {
            "task": task,
            "prompt": f"{task} prompt number {i % 3}",
            "target": target,
            "labels": LABELS if task == "ic" else (SLOT_TYPES if task == "sf" else None),
            "joint": False,
        }
        cuts.append(cut)
    return CutSet.from_cuts(cuts)


class RandomLogitsDecoder:
    """An incremental decoder that ignores its input and returns random log-probabilities:
    the adversary for property tests of constrained search (any token may win)."""

    llm_kind = "random"

    def __init__(self, vocab_size: int, seed: int = 0, scale: float = 4.0):
        self.vocab_size = vocab_size
        self.scale = scale
        self.gen = torch.Generator().manual_seed(seed)

    def _draw(self, n: int) -> torch.Tensor:
        logits = torch.randn(n, self.vocab_size, generator=self.gen) * self.scale
        return torch.log_softmax(logits, dim=-1)  # (n, V)

    def start(self, embeds, mask):
        return None, self._draw(embeds.shape[0])

    def step(self, state, tokens):
        return state, self._draw(tokens.shape[0])

    def reorder(self, state, index):
        return state


class HashLogitsDecoder:
    """An incremental decoder whose log-probabilities are a pseudo-random function of (item,
    tokens so far): unlike :class:`RandomLogitsDecoder` the scores do not depend on how rows
    are batched, selected or reordered, so searches that run different numbers of steps on
    different rows (jump-forward, batch compaction) can be compared output for output."""

    llm_kind = "hash"

    def __init__(self, vocab_size: int, seed: int = 0, scale: float = 4.0):
        self.vocab_size = vocab_size
        self.seed = seed
        self.scale = scale
        self.calls = 0  # rows computed, over all steps (what compaction saves)

    def _draw(self, state: list[tuple[int, tuple[int, ...]]]) -> torch.Tensor:
        self.calls += len(state)
        rows = []
        for item, hist in state:
            g = torch.Generator().manual_seed(zlib.crc32(repr((self.seed, item, hist)).encode()))
            rows.append(torch.randn(self.vocab_size, generator=g) * self.scale)
        return torch.log_softmax(torch.stack(rows), dim=-1)  # (N, V)

    def start(self, embeds, mask):
        state = [(i, ()) for i in range(embeds.shape[0])]
        return state, self._draw(state)

    def step(self, state, tokens):
        state = [(i, h + (t,)) for (i, h), t in zip(state, tokens.tolist(), strict=True)]
        return state, self._draw(state)

    def reorder(self, state, index):
        return [state[j] for j in index.tolist()]
