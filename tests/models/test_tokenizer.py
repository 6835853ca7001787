"""Sentencepiece tokenizer trained by svtk, saved as an HF tokenizer dir, same ids as spm."""

import sentencepiece as spm

from svtk.cli import run
from svtk.models.tokenizer import Tokenizer, split_openers, train_sentencepiece
from svtk.testing.models import TEXTS


def test_spm_as_hf_tokenizer(tmp_path):
    tok = train_sentencepiece(TEXTS, tmp_path / "tok", vocab_size=80)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "tok" / "spm.model"))
    again = Tokenizer.from_pretrained(tmp_path / "tok")  # AutoTokenizer path
    assert (tok.pad_id, tok.bos_id, tok.eos_id) == (0, 2, 3)
    assert again.vocab_size == sp.get_piece_size() == tok.vocab_size
    for text in ["set an alarm for seven am", "ASR: play some jazz music | IC: alarm_set |",
                 "intent: alarm_set; time: seven am"]:
        ids = again.encode(text)
        assert ids == sp.encode(text)
        assert again.decode(ids) == text
    assert again.eos_id not in again.encode("the quick brown fox")


def test_quoted_and_bracketed_words_keep_their_pieces(tmp_path):
    """A keyword in quotes, a label after "(": the same pieces as in a transcript."""
    texts = [*TEXTS, 'Is the word "alarm" spoken? (yes or no)', "Pick one (alarm_set, play_music)",
             "lights_on (switch the lights on)", "switch the lights on"] * 3
    tok = train_sentencepiece(texts, tmp_path / "tok", vocab_size=90)
    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "tok" / "spm.model"))
    for inner, text in [("alarm", 'Is the word "alarm" spoken?'),
                        ("alarm_set", "Pick one (alarm_set, play_music)"),
                        ("switch the lights on", "lights_on (switch the lights on)")]:
        ids, inner_ids = tok.encode(text), tok.encode(inner)
        assert any(ids[i:i + len(inner_ids)] == inner_ids for i in range(len(ids))), text
        assert ids == sp.encode(split_openers(text))
        assert tok.decode(ids) == text
    assert split_openers('x(y) "a" ((b') == 'x(y) " a" (( b'


def test_train_tokenizer_cli(tmp_path, task_cuts):
    cuts = tmp_path / "tasks.jsonl.gz"
    task_cuts.to_file(cuts)
    out = tmp_path / "tok"
    assert run(["model", "train-tokenizer", "--cuts", str(cuts), "--out-dir", str(out),
                "--vocab-size", "60"]) == 0
    tok = Tokenizer.from_pretrained(out)
    assert tok.decode(tok.encode("set an alarm for seven am")) == "set an alarm for seven am"
    stamp = (out / "tokenizer.json").stat().st_mtime_ns
    assert run(["model", "train-tokenizer", "--cuts", str(cuts), "--out-dir", str(out),
                "--vocab-size", "60"]) == 0  # done: skipped
    assert (out / "tokenizer.json").stat().st_mtime_ns == stamp
    assert run(["model", "train-tokenizer", "--cuts", str(cuts), "--out-dir", str(out),
                "--vocab-size", "50"]) == 2  # changed config without --force


def test_train_lm_cli_over_the_tokenizers_pieces(tmp_path, task_cuts):
    """A token n-gram of the ASR targets, in ARPA over the tokenizer's sentencepiece pieces:
    it reads back through the tokenizer, and a training transcript outscores its reversal."""
    from svtk.decoding.ngram import BOS, NgramLM

    cuts = tmp_path / "tasks.jsonl.gz"
    task_cuts.to_file(cuts)
    tok_dir = tmp_path / "tok"
    assert run(["model", "train-tokenizer", "--cuts", str(cuts), "--out-dir", str(tok_dir),
                "--vocab-size", "60"]) == 0
    out = tmp_path / "lm" / "asr.3gram.arpa"
    args = ["model", "train-lm", "--cuts", str(cuts), "--tokenizer", str(tok_dir), "--out",
            str(out), "--order", "3"]
    assert run(args) == 0
    tok = Tokenizer.from_pretrained(tok_dir)
    lm = NgramLM.read_arpa(out, tok, tok.eos_id)
    assert lm.order == 3 and all(lm.num_ngrams)
    asr = next(c.custom["target"] for c in task_cuts if c.custom["task"] == "asr")

    def logprob(ids):
        ctx, total = (BOS,), 0.0
        for t in [*ids, tok.eos_id]:
            total += lm.logprob(ctx, t)
            ctx = (*ctx, t)
        return total

    ids = tok.encode(asr)
    assert logprob(ids) > logprob(ids[::-1]) + 1.0
    stamp = out.stat().st_mtime_ns
    assert run(args) == 0 and out.stat().st_mtime_ns == stamp  # done: skipped
    assert run([*args[:-1], "4"]) == 2  # another order without --force
