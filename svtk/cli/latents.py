"""``svtk latents``: Encoder-latent cache: run the frozen encoder once, store its latents.

Usage::

    svtk latents extract --config conf/model/mini.yaml --split train --split dev
    svtk latents tag --config conf/model/mini.yaml          # prints the cache's encoder tag
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from svtk.cli.common import ConfigOpt, ForceOpt, SetOpt

app = typer.Typer(
    help="Encoder-latent cache: run the frozen encoder once, store its latents.\n\nExample:  svtk latents extract --config conf/model/mini.yaml --split train --split dev",
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
    split: Annotated[list[str], typer.Option("--split", help="Split: reads <data-dir>/<split>.jsonl.gz, writes <out-dir>/<tag>/<split>.jsonl.gz; repeat it to extract several with one start-up.")],
    cuts: Annotated[Path | None, typer.Option("--cuts", help="Extract for this cut manifest instead of <data-dir>/<split> (one --split).")] = None,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the task cuts of each split live.")] = Path("data/tasks"),
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Cache root; latents go to <out-dir>/<encoder_tag>/.")] = Path("data/latents"),
    dtype: DtypeOpt = "fp16",
    max_duration: Annotated[float, typer.Option("--max-duration", help="Seconds of padded audio per batch.")] = 120.0,
    max_batch: Annotated[int, typer.Option("--max-batch", help="Most recordings per batch.")] = 32,
    device: Annotated[str, typer.Option("--device", help="cpu, cuda, cuda:1 ...")] = "cpu",
    overrides: SetOpt = None,
    force: ForceOpt = False,
) -> None:
    """Run the model config's frozen encoder over task cuts, once per recording; write cuts with latents.

    Example:  svtk latents extract --config conf/model/mini.yaml --split train --split dev
    """
    from svtk.cli.common import load, split_inputs
    from svtk.latents.extract import extract_latents
    from svtk.models.config import ModelConfig

    cfg = load(ModelConfig, config, overrides)
    for name, path in split_inputs(split, cuts, data_dir).items():  # one after the other
        out = extract_latents(cfg, path, out_dir, name, dtype=dtype, max_duration=max_duration,
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
