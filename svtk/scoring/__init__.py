"""Scoring: each task's standard metric, SLURP-compatible evaluation, and generated reports.

Modules:

- :mod:`~svtk.scoring.normalize`       English text normaliser (what it does and does not do)
- :mod:`~svtk.scoring.wer`             WER/CER with kaldialign, Kaldi-style summaries/alignments
- :mod:`~svtk.scoring.bleu`            BLEU and chrF with sacrebleu (with its signature)
- :mod:`~svtk.scoring.classification`  accuracy, UAR, per-class P/R/F1, confusion matrices
- :mod:`~svtk.scoring.slu`             SLURP entity metrics: span, word/char-distance, SLU-F1, SD-F1
- :mod:`~svtk.scoring.slurp`           SLURP-format predictions against SLURP gold jsonl
- :mod:`~svtk.scoring.hyps`            reading hyps.jsonl / reference ids, counting bad input
- :mod:`~svtk.scoring.score`           ``svtk score``: a decode dir -> scores.json + details
- :mod:`~svtk.scoring.report`          ``svtk report``: RESULTS.md, results.json, plots
- :mod:`~svtk.scoring.plots`           confusion matrices and training curves (matplotlib, Agg)

Nothing heavy is imported here; kaldialign, sacrebleu and matplotlib load when first used.

Usage::

    from svtk.scoring.score import score_dir
    score_dir("exp/mini/decode/greedy/test")
"""
