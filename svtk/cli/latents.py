"""``svtk latents``: Encoder-latent cache: run the frozen encoder once, store its latents.

Usage::

    svtk latents extract --config conf/model/mini.yaml --cuts data/tasks/train.jsonl.gz --split train
    svtk latents tag --config conf/model/mini.yaml          # prints the cache's encoder tag
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from svtk.cli.common import ConfigOpt, ForceOpt, SetOpt

app = typer.Typer(
    help="Encoder-latent cache: run the frozen encoder once, store its latents.\n\nExample:  svtk latents extract --config conf/model/mini.yaml --cuts data/tasks/train.jsonl.gz --split train",
)


@app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        from svtk.cli.common import group_without_command

        group_without_command(ctx, app, "latents", "the model/latents issue")

DtypeOpt = Annotated[str, typer.Option("--dtype", help="fp16 (half the bytes) or fp32 (lossless).")]


@app.command("extract")
def extract(
    config: ConfigOpt,
    cuts: Annotated[Path, typer.Option("--cuts", help="Task cuts (jsonl.gz) to extract for.")],
    split: Annotated[str, typer.Option("--split", help="Name of the output cuts: <out-dir>/<tag>/<split>.jsonl.gz.")],
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Cache root; latents go to <out-dir>/<encoder_tag>/.")] = Path("data/latents"),
    dtype: DtypeOpt = "fp16",
    max_duration: Annotated[float, typer.Option("--max-duration", help="Seconds of padded audio per batch.")] = 120.0,
    max_batch: Annotated[int, typer.Option("--max-batch", help="Most recordings per batch.")] = 32,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:1 ...")] = "cpu",
    overrides: SetOpt = None,
    force: ForceOpt = False,
) -> None:
    """Run the model config's frozen encoder over task cuts, once per recording; write cuts with latents.

    Example:  svtk latents extract --config conf/model/mini.yaml --cuts data/tasks/train.jsonl.gz --split train
    """
    from svtk.cli.common import load
    from svtk.latents.extract import extract_latents
    from svtk.models.config import ModelConfig

    cfg = load(ModelConfig, config, overrides)
    out = extract_latents(cfg, cuts, out_dir, split, dtype=dtype, max_duration=max_duration,
                          max_batch=max_batch, device=device, force=force)
    typer.echo(str(out))


@app.command("tag")
def tag(config: ConfigOpt, dtype: DtypeOpt = "fp16", overrides: SetOpt = None) -> None:
    """Print the encoder tag (cache directory name) for a model config.

    Example:  svtk latents tag --config conf/model/mini.yaml
    """
    from svtk.cli.common import load
    from svtk.latents.tag import encoder_tag
    from svtk.models.config import ModelConfig

    typer.echo(encoder_tag(load(ModelConfig, config, overrides).encoder, dtype))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="latents")
