"""``svtk model``: Model tools: summaries of presets, tokenizers, n-gram LMs.

Usage::

    svtk model summary --config conf/model/speechverse_paper.yaml
    svtk model train-tokenizer --cuts data/tasks/train.jsonl.gz --out-dir exp/tokenizer --vocab-size 1000
    svtk model train-lm --cuts data/tasks/train.jsonl.gz --tokenizer exp/tokenizer --out exp/lm/asr.4gram.arpa.gz
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from svtk.cli.common import ConfigOpt, ForceOpt, SetOpt

app = typer.Typer(
    help="Model tools: summaries of presets, tokenizers, n-gram LMs.\n\nExample:  svtk model summary --config conf/model/speechverse_paper.yaml",
)


@app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        from svtk.cli.common import group_without_command

        group_without_command(ctx, app, "model", "the model issue")


@app.command("summary")
def summary(
    config: ConfigOpt,
    overrides: SetOpt = None,
    weights: Annotated[bool, typer.Option("--weights/--meta", help="Load real weights instead of building on the meta device from configs.")] = False,
) -> None:
    """Total and trainable parameters per component of a model config (meta device: no weights).

    Example:  svtk model summary --config conf/model/speechverse_paper.yaml
    """
    from svtk.cli.common import load
    from svtk.models.config import ModelConfig
    from svtk.models.summary import print_summary

    print_summary(load(ModelConfig, config, overrides), meta=not weights)


@app.command("train-tokenizer")
def train_tokenizer(
    cuts: Annotated[list[Path], typer.Option("--cuts", help="Task cuts whose prompts, targets, transcripts and labels are the training text (repeatable).")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Tokenizer directory (HF-loadable: tokenizer.json + spm.model).")],
    vocab_size: Annotated[int, typer.Option("--vocab-size", help="Upper bound on pieces.")] = 1000,
    model_type: Annotated[str, typer.Option("--model-type", help="unigram or bpe.")] = "unigram",
    force: ForceOpt = False,
) -> None:
    """Train a sentencepiece tokenizer on task texts for an LLM trained from scratch.

    Example:  svtk model train-tokenizer --cuts data/tasks/train.jsonl.gz --out-dir exp/tokenizer
    """
    from svtk.models.tokenizer import train_tokenizer_from_cuts

    typer.echo(str(train_tokenizer_from_cuts(cuts, out_dir, vocab_size, model_type, force=force)))


@app.command("train-lm")
def train_lm(
    cuts: Annotated[list[Path], typer.Option("--cuts", help="Task cuts whose targets of --tasks are the training text (repeatable).")],
    tokenizer: Annotated[Path, typer.Option("--tokenizer", help="The tokenizer dir of the model that will decode (the LM's words are its pieces).")],
    out: Annotated[Path, typer.Option("--out", help="ARPA file to write (.gz: gzipped).")],
    order: Annotated[int, typer.Option("--order", help="N-gram order.")] = 4,
    tasks: Annotated[str, typer.Option("--tasks", help="Tasks whose targets are the text, comma-separated.")] = "asr",
    force: ForceOpt = False,
) -> None:
    """Train a token n-gram LM (interpolated Kneser-Ney, ARPA) for shallow fusion in decoding
    (svtk decode --lm FILE --lm-weight W).

    Example:  svtk model train-lm --cuts data/tasks/train.jsonl.gz --tokenizer exp/tokenizer --out exp/lm/asr.4gram.arpa.gz
    """
    from svtk.decoding.ngram import train_lm_from_cuts

    names = [t.strip() for t in tasks.split(",") if t.strip()]
    typer.echo(str(train_lm_from_cuts(cuts, tokenizer, out, order=order, tasks=names, force=force)))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="model")
