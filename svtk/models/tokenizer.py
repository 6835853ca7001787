"""Text tokenizers behind one small interface; sentencepiece training for models built from scratch.

:class:`Tokenizer` wraps any tokenizer directory that ``transformers.AutoTokenizer`` loads (the
LLM's own). :func:`train_sentencepiece` trains a sentencepiece model on task texts and saves it
*as an HF tokenizer directory* (``tokenizer.json`` built from the spm pieces and scores, plus the
original ``spm.model``), so a from-scratch LLM directory loads like any other.

Both the training text and every text encoded later get one rewrite first
(:func:`split_openers`): an opening bracket or quote is split from the word it opens, so that
``"taxi"`` and ``(switch the lights on)`` in a prompt hold the same ``▁taxi`` and ``▁switch``
pieces as the transcript the model compares them with (glued, spm makes ``▁"`` + ``taxi`` and
``▁(`` + ``switch``). Decoding joins them back.

Reads task cuts (``data/tasks/<split>.jsonl.gz``: prompt, target, supervision text); writes
``<out_dir>/{tokenizer.json,tokenizer_config.json,spm.model,spm.vocab}``.

Usage::

    svtk model train-tokenizer --cuts data/tasks/train.jsonl.gz --out-dir exp/tokenizer --vocab-size 1000
    tok = Tokenizer.from_pretrained("exp/tokenizer"); tok.encode("hello"), tok.eos_id
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from svtk.errors import UserError

log = logging.getLogger(__name__)

SPM_MODEL = "spm.model"
# Symbols of the joint-decoding form `ASR: <transcript> | IC: <label> |` and slot syntax kept
# as single pieces so targets tokenize the same everywhere.
DEFAULT_USER_SYMBOLS = ("|", ":", ";")
# Characters that open a bracketed or quoted span: split from the word after them.
OPENERS = "([{\"“„«"


def _opener_pattern(ch: str) -> str:
    return rf"(?<!\w){re.escape(ch)}(?=\w)"


def split_openers(text: str) -> str:
    """``(switch "on"`` -> ``( switch " on"``: what the tokenizer's normalizer does, in Python."""
    for ch in OPENERS:
        text = re.sub(_opener_pattern(ch), ch + " ", text)
    return text


class Tokenizer:
    """encode/decode and special ids over an HF tokenizer (the LLM's own or a trained spm)."""

    def __init__(self, hf):
        self.hf = hf
        if hf.eos_token_id is None:
            raise UserError("tokenizer has no eos token; SpeechLM targets end with eos")

    @classmethod
    def from_pretrained(cls, path: str | Path) -> Tokenizer:
        from transformers import AutoTokenizer

        try:
            return cls(AutoTokenizer.from_pretrained(str(path)))
        except (OSError, ValueError) as e:
            raise UserError(f"cannot load a tokenizer from {path}: {e}") from e

    def encode(self, text: str) -> list[int]:
        """Token ids without special tokens (no bos/eos)."""
        return list(self.hf(text, add_special_tokens=False)["input_ids"])

    def decode(self, ids: Iterable[int], skip_special_tokens: bool = True) -> str:
        return self.hf.decode(list(ids), skip_special_tokens=skip_special_tokens).strip()

    @property
    def eos_id(self) -> int:
        return int(self.hf.eos_token_id)

    @property
    def pad_id(self) -> int:
        """Padding id (eos when the tokenizer has none, as for Llama; masks make it inert)."""
        pid = self.hf.pad_token_id
        return int(pid) if pid is not None else self.eos_id

    @property
    def bos_id(self) -> int | None:
        bid = self.hf.bos_token_id
        return int(bid) if bid is not None else None

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    def save_pretrained(self, out_dir: str | Path) -> None:
        self.hf.save_pretrained(str(out_dir))


def task_texts(cuts) -> Iterator[str]:
    """Every text a model reads or writes in task cuts: prompts, targets, transcripts, labels."""
    for cut in cuts:
        custom = cut.custom or {}
        for key in ("prompt", "target"):
            if custom.get(key):
                yield str(custom[key])
        for label in custom.get("labels") or ():
            yield str(label)
        for sup in cut.supervisions:
            if sup.text:
                yield sup.text


def spm_to_hf(spm_path: str | Path, user_symbols: Iterable[str] = ()):
    """An HF fast tokenizer that tokenizes ``text`` as the sentencepiece (unigram) model does
    ``split_openers(text)``, and decodes with the openers joined back to their words."""
    import sentencepiece as spm
    from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers
    from tokenizers import Tokenizer as TkTokenizer
    from transformers import PreTrainedTokenizerFast

    sp = spm.SentencePieceProcessor(model_file=str(spm_path))
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    tk = TkTokenizer(models.Unigram(vocab, unk_id=sp.unk_id(), byte_fallback=False))
    tk.normalizer = normalizers.Sequence(
        [normalizers.NFKC()]
        + [normalizers.Replace(Regex(_opener_pattern(ch)), ch + " ") for ch in OPENERS])
    tk.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tk.decoder = decoders.Sequence(
        [decoders.Metaspace(replacement="▁", prepend_scheme="always"), decoders.Fuse()]
        + [decoders.Replace(Regex(rf"(?<!\w){re.escape(ch)} (?=\w)"), ch) for ch in OPENERS])
    piece = sp.id_to_piece
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tk, pad_token=piece(sp.pad_id()), unk_token=piece(sp.unk_id()),
        bos_token=piece(sp.bos_id()), eos_token=piece(sp.eos_id()),
    )
    symbols = [s for s in user_symbols if sp.piece_to_id(s) != sp.unk_id()]
    if symbols:
        hf.add_tokens(symbols)
    return hf


def train_sentencepiece(texts: Iterable[str], out_dir: str | Path, vocab_size: int = 1000,
                        model_type: str = "unigram",
                        user_symbols: Iterable[str] = DEFAULT_USER_SYMBOLS) -> Tokenizer:
    """Train spm on ``texts`` and save it as an HF tokenizer dir in ``out_dir`` (atomically).

    Ids: 0 <pad>, 1 <unk>, 2 <s>, 3 </s>, then the user symbols. ``vocab_size`` is an upper
    bound: a small corpus gets the largest vocabulary its text supports.
    """
    import sentencepiece as spm

    from svtk.stage import atomic_path

    lines = [split_openers(t.replace("\n", " ")).strip() for t in texts]
    lines = [t for t in lines if t]
    if not lines:
        raise UserError("no text to train a tokenizer on (are the cuts missing prompt/target?)")
    out = Path(out_dir)
    user_symbols = list(user_symbols)
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        corpus = tmp / "text.txt"
        corpus.write_text("\n".join(lines) + "\n")
        spm.SentencePieceTrainer.train(
            input=str(corpus), model_prefix=str(tmp / "spm"), vocab_size=vocab_size,
            model_type=model_type, character_coverage=1.0, pad_id=0, unk_id=1, bos_id=2,
            eos_id=3, user_defined_symbols=user_symbols, hard_vocab_limit=False,
            input_sentence_size=2_000_000, shuffle_input_sentence=True, num_threads=1,
            minloglevel=2,
        )
        corpus.unlink()
        spm_to_hf(tmp / SPM_MODEL, user_symbols).save_pretrained(str(tmp))
    tok = Tokenizer.from_pretrained(out)
    log.info("trained a %s tokenizer with %d pieces in %s", model_type, tok.vocab_size, out)
    return tok


def train_tokenizer_from_cuts(cuts_paths: list[str | Path], out_dir: str | Path, vocab_size: int,
                              model_type: str = "unigram", force: bool = False) -> Path:
    """Stage wrapper: texts of task cuts -> sentencepiece HF tokenizer dir (skips when done)."""
    from lhotse import load_manifest_lazy

    from svtk.stage import Stage

    out = Path(out_dir)
    stage = Stage("train-tokenizer", out, config={"vocab_size": vocab_size, "model_type": model_type},
                  inputs=[str(p) for p in cuts_paths], force=force)
    if stage.is_done():
        return out

    def texts():
        for p in cuts_paths:
            if not Path(p).is_file():
                raise UserError(f"cuts not found: {p}")
            yield from task_texts(load_manifest_lazy(p))

    train_sentencepiece(texts(), out, vocab_size=vocab_size, model_type=model_type)
    stage.mark_done(outputs=[out / "tokenizer.json", out / SPM_MODEL])
    return out
