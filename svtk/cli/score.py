"""``svtk score``: Score hypotheses with each task's standard metric.

Reads ``DIR/hyps.jsonl`` (written by ``svtk decode``) and writes ``DIR/scores.json``,
``DIR/scores.txt`` and per-task details (WER alignments, BLEU signature, confusion matrices);
see :mod:`svtk.scoring.score`. With ``--slurp-gold``/``--slurp-pred`` it instead scores
predictions in SLURP's own format against SLURP gold, as SLURP's evaluation does
(:mod:`svtk.scoring.slurp`).

Usage::

    svtk score exp/mini/decode/greedy/test --ref-cuts data/tasks/test.jsonl.gz
    svtk score --slurp-gold $SLURP/test.jsonl --slurp-pred predictions.jsonl
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from svtk.cli.common import ForceOpt


def score(
    dirs: Annotated[list[Path] | None, typer.Argument(
        help="Decode directories holding hyps.jsonl.", show_default=False)] = None,
    ref_cuts: Annotated[Path | None, typer.Option(
        "--ref-cuts", help="Task cuts the decode ran on: finds utterances with no hypothesis.",
        show_default=False)] = None,
    ids: Annotated[Path | None, typer.Option(
        "--ids", help="Id list (first field per line) of the utterances expected.",
        show_default=False)] = None,
    mode: Annotated[str, typer.Option(
        help="Missing hypotheses: all (score as empty), present (skip), strict (refuse).")] = "all",
    normalizer: Annotated[str, typer.Option(
        help="Text normaliser for WER, KWE and SF: english, english-keep-numbers, none.")
    ] = "english",
    bleu_tokenize: Annotated[str | None, typer.Option(
        help="sacrebleu tokenizer (default: sacrebleu's choice for the target language).",
        show_default=False)] = None,
    average: Annotated[str, typer.Option(help="SLU-F1 averaging over slot types: micro, macro.")
                       ] = "micro",
    slurp_gold: Annotated[Path | None, typer.Option(
        "--slurp-gold", help="SLURP gold jsonl (e.g. test.jsonl of the SLURP release).",
        show_default=False)] = None,
    slurp_pred: Annotated[Path | None, typer.Option(
        "--slurp-pred", help="Predictions in SLURP format (file, scenario, action, entities).",
        show_default=False)] = None,
    slurp_key: Annotated[str, typer.Option(
        help="Match SLURP items by recording 'file' or by 'slurp_id' (gold-text predictions).")
    ] = "file",
    slurp_json: Annotated[Path | None, typer.Option(
        "--slurp-json", help="Also write the SLURP results as JSON here.", show_default=False)
    ] = None,
    force: ForceOpt = False,
) -> None:
    """Score hypotheses with each task's standard metric (or SLURP predictions against gold).

    Example:  svtk score exp/mini/decode/greedy/test --ref-cuts data/tasks/test.jsonl.gz
    """
    from svtk.errors import UserError

    if slurp_gold or slurp_pred:
        if not (slurp_gold and slurp_pred):
            raise UserError("SLURP scoring needs both --slurp-gold and --slurp-pred")
        if dirs:
            raise UserError("give either decode directories or --slurp-gold/--slurp-pred")
        from svtk.scoring.slurp import evaluate_slurp, format_slurp

        res = evaluate_slurp(slurp_gold, slurp_pred, key=slurp_key, average=average)
        typer.echo(format_slurp(res))
        if slurp_json:
            from svtk.stage import atomic_write_json

            atomic_write_json(slurp_json, res)
        return
    if not dirs:
        raise UserError("nothing to score: give decode directories (or --slurp-gold/--slurp-pred)."
                        " Example: svtk score exp/mini/decode/greedy/test")
    if mode not in ("all", "present", "strict"):
        raise UserError(f"--mode must be all, present or strict, got {mode!r}")
    if average not in ("micro", "macro"):
        raise UserError(f"--average must be micro or macro, got {average!r}")
    from svtk.scoring.score import ScoreConfig, score_dir

    cfg = ScoreConfig(normalizer=normalizer, mode=mode, bleu_tokenize=bleu_tokenize,
                      average=average)
    for d in dirs:
        score_dir(d, cfg, ref_cuts=ref_cuts, ids=ids, force=force)
        typer.echo(f"== {d}")
        typer.echo((d / "scores.txt").read_text().rstrip())


def register(root: typer.Typer) -> None:
    root.command("score")(score)
