"""``svtk infer``: answer instructions about audio files, printed to stdout.

Loads an experiment dir (its newest checkpoint) or an ``svtk export`` dir once, and answers
every task (``--task``, repeatable or comma-separated) for every file given, in batches. One
file and one task print the answer alone; more print ``FILE<TAB>TASK<TAB>ANSWER`` lines, in
the order given (``--joint``: the whole ``ASR: ... | TASK: ... |`` output); ``--json`` prints
each whole record. Decode options come from ``--config`` (a conf/decode/*.yaml preset) and
``--set``, which the options on the command line override.

Usage::

    svtk infer a.wav --exp-dir exp/mini --task ic --constrained
    svtk infer a.wav b.flac --exp-dir exp/mini --task asr,ic,sf --constrained
    svtk infer a.wav --exp-dir exp/mini --task asr -c ../../conf/decode/ctc.yaml --ctc-weight 0.7
    svtk infer a.wav --exp-dir exp/mini/export --prompt "Transcribe the audio."
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from svtk.cli.common import (
    BeamOpt,
    ConfigOpt,
    ConstrainedOpt,
    CtcWeightOpt,
    JointOpt,
    LmOpt,
    LmWeightOpt,
    MaxNewTokensOpt,
    PhaseOpt,
    SetOpt,
)


def infer(
    audio: Annotated[list[Path], typer.Argument(help="Audio files (any format lhotse reads).", show_default=False)],
    exp_dir: Annotated[Path, typer.Option("--exp-dir", "-e", help="Experiment dir, a phase dir, or an export dir.")],
    task: Annotated[list[str] | None, typer.Option(help="Task name (asr, ic, sf ...): label set, default prompt. Repeat it, or separate names by commas, to ask several.", show_default=False)] = None,
    prompt: Annotated[str | None, typer.Option(help="Instruction text (default: each task's first training prompt).")] = None,
    config: ConfigOpt = None,
    overrides: SetOpt = None,
    constrained: ConstrainedOpt = None,
    joint: JointOpt = None,
    beam: BeamOpt = None,
    ctc_weight: CtcWeightOpt = None,
    lm: LmOpt = None,
    lm_weight: LmWeightOpt = None,
    max_new_tokens: MaxNewTokensOpt = None,
    batch_size: Annotated[int | None, typer.Option(help="Most answers decoded in one batch.", show_default=False)] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="Checkpoint (experiment dirs only).")] = None,
    phase: PhaseOpt = None,
    device: Annotated[str, typer.Option(help="cpu, cuda ...")] = "cpu",
    as_json: Annotated[bool, typer.Option("--json", help="Print each whole hypothesis record as a JSON line.")] = False,
) -> None:
    """Answer instructions about audio files.

    Example:  svtk infer a.wav --exp-dir exp/mini --task ic --constrained
              svtk infer a.wav b.wav --exp-dir exp/mini --task asr,ic
    """
    import json
    from dataclasses import replace

    from svtk.cli.common import load
    from svtk.decoding.driver import DecodeConfig
    from svtk.decoding.infer import answer, infer_cuts
    from svtk.decoding.loading import load_speechlm

    tasks = [t.strip() for item in task or [] for t in item.split(",") if t.strip()]
    opts = load(DecodeConfig, config, overrides)
    given = dict(constrained=constrained, joint=joint, beam=beam, ctc_weight=ctc_weight, lm=lm, lm_weight=lm_weight,
                 max_new_tokens=max_new_tokens, batch_size=batch_size)
    opts = replace(opts, **{k: v for k, v in given.items() if v is not None})
    # files, tasks and prompts are checked before the model load, which takes seconds
    cuts = infer_cuts(audio, tasks=tasks or [None], prompt=prompt, opts=opts)
    model, _ = load_speechlm(exp_dir, checkpoint, device, phase=phase, merge_lora=True)
    records = answer(model, cuts, opts)
    for rec in records:
        text = rec["raw"] if rec["joint"] else rec["hyp"]  # joint: the transcript too
        if as_json:
            typer.echo(json.dumps(rec, ensure_ascii=False))
        elif len(records) == 1:
            typer.echo(text)
        else:
            typer.echo(f"{rec['audio']}\t{rec['task'] or '-'}\t{text}")


def register(root: typer.Typer) -> None:
    root.command("infer")(infer)
