"""Decoding for svtk: batched greedy/beam search with a KV cache, token automata for
label-constrained and joint decoding, the decode driver that writes ``hyps.jsonl``, checkpoint
averaging and export.

Modules: ``automata`` (token-level finite-state constraints), ``grammars`` (automata built from a
tokenizer: label trie, slot filling, joint ``ASR: ... | TASK: ... |``), ``incremental`` (one
incremental decoder per LLM kind over the HF model), ``search`` (greedy and beam search, written
once), ``ctc`` (joint CTC/LLM scores, CTC prefix beam search), ``ngram`` (token n-gram LMs:
ARPA, Kneser-Ney, shallow fusion), ``driver`` (``decode_cuts``), ``cascade`` (GT->LLM,
ASR->LLM), ``average``, ``export``. The output formats (joint form,
slots, labels) are :mod:`svtk.tasks.formats`. Nothing heavy is imported here.

Usage::

    from svtk.decoding.driver import DecodeConfig, decode_cuts
    for rec in decode_cuts(model, cuts, DecodeConfig(beam=4, constrained=True)):
        print(rec["id"], rec["hyp"])
"""
