"""Options shared by svtk commands, so every command spells them the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

ConfigOpt = Annotated[
    Path,
    typer.Option("--config", "-c", help="YAML config (may name base: files).", show_default=False),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a config value: section.key=value (YAML value; repeatable).",
        show_default=False,
    ),
]
# decode options shared by `svtk decode` and `svtk infer` (None: the --config value stands)
ConstrainedOpt = Annotated[bool | None, typer.Option(
    "--constrained/--no-constrained", help="Restrict closed-set outputs to their labels (SF: slot types).",
    show_default=False)]
JointOpt = Annotated[bool | None, typer.Option(
    "--joint/--no-joint", help="Decode and parse 'ASR: ... | TASK: ... |'.", show_default=False)]
BeamOpt = Annotated[int | None, typer.Option(help="Beam size (1: greedy).", show_default=False)]
MaxNewTokensOpt = Annotated[int | None, typer.Option(help="Generation length limit.", show_default=False)]
CtcWeightOpt = Annotated[float | None, typer.Option(
    help="Joint CTC/LLM decoding of ASR and of joint outputs' transcripts: weight of the "
         "encoder's CTC prefix scores (0: LLM only).", show_default=False)]
LmOpt = Annotated[str | None, typer.Option(
    "--lm", help="Token n-gram LM for ASR shallow fusion: an ARPA file over the tokenizer's "
                 "pieces (svtk model train-lm).", show_default=False)]
LmWeightOpt = Annotated[float | None, typer.Option(
    help="Weight of the --lm n-gram log-probabilities added to ASR items' next-token scores "
         "(0: no LM).", show_default=False)]
PhaseOpt = Annotated[str | None, typer.Option(
    help="Curriculum phase to decode (default: the speechlm phase finished last).")]
ForceOpt = Annotated[
    bool,
    typer.Option("--force", help="Redo a finished stage even if its config or inputs changed."),
]


def not_yet(command: str, issue: str) -> NoReturn:
    """For a command whose implementation has not landed: say so and fail (exit 2)."""
    from svtk.errors import UserError

    raise UserError(f"'svtk {command}' is not implemented yet ({issue}); nothing was done.")


def group_without_command(ctx: typer.Context, group: typer.Typer, name: str, issue: str) -> NoReturn:
    """``svtk GROUP`` alone: the help (exit 2), or 'not implemented yet' while it has no command."""
    if not group.registered_commands and not group.registered_groups:
        not_yet(name, issue)
    typer.echo(ctx.get_help())
    raise typer.Exit(2)


def load(cls, config, overrides):  # noqa: ANN001, ANN201 - thin pass-through for commands
    """``load_config`` for a command's ``--config`` and ``--set`` options."""
    from svtk.config import load_config

    return load_config(cls, config, overrides or ())


def split_inputs(splits: list[str], cuts: Path | None, data_dir: Path) -> dict[str, Path]:
    """``--split`` (repeatable) with ``--data-dir``, or one ``--split`` named for ``--cuts``:
    split name -> its cut manifest, each checked to exist, in the order given."""
    from svtk.errors import UserError

    names = list(dict.fromkeys(splits))
    if cuts is not None and len(names) > 1:
        raise UserError("--cuts names one manifest: give one --split with it")
    inputs = {s: cuts or data_dir / f"{s}.jsonl.gz" for s in names}
    for s, path in inputs.items():
        if not path.is_file():
            raise UserError(f"cuts for split '{s}' not found: {path}")
    return inputs
