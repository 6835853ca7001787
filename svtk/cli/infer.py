"""``svtk infer``: answer one instruction about one audio file, printed to stdout.

Loads an experiment dir (its newest checkpoint) or an ``svtk export`` dir.

Usage::

    svtk infer a.wav --exp-dir exp/mini --task ic --constrained
    svtk infer a.wav --exp-dir exp/mini/export --prompt "Transcribe the audio."
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def infer(
    audio: Annotated[Path, typer.Argument(help="Audio file (any format lhotse reads).")],
    exp_dir: Annotated[Path, typer.Option("--exp-dir", "-e", help="Experiment dir or export dir.")],
    task: Annotated[str | None, typer.Option(help="Task name (asr, ic, sf ...): label set, default prompt.")] = None,
    prompt: Annotated[str | None, typer.Option(help="Instruction text (default: the task's first training prompt).")] = None,
    constrained: Annotated[bool, typer.Option("--constrained/--no-constrained", help="Restrict to the task's labels.")] = False,
    joint: Annotated[bool, typer.Option("--joint/--no-joint", help="Decode 'ASR: ... | TASK: ... |'.")] = False,
    beam: Annotated[int, typer.Option(help="Beam size (1: greedy).")] = 1,
    max_new_tokens: Annotated[int, typer.Option(help="Generation length limit.")] = 128,
    checkpoint: Annotated[Path | None, typer.Option(help="Checkpoint (experiment dirs only).")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda ...")] = "cpu",
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole hypothesis record as JSON.")] = False,
) -> None:
    """Answer one instruction about one audio file.

    Example:  svtk infer a.wav --exp-dir exp/mini --task ic --constrained
    """
    import json

    from svtk.decoding.driver import DecodeConfig
    from svtk.decoding.infer import infer_file
    from svtk.decoding.loading import load_speechlm

    opts = DecodeConfig(beam=beam, constrained=constrained, joint=joint, max_new_tokens=max_new_tokens)
    model, _ = load_speechlm(exp_dir, checkpoint, device, merge_lora=True)
    rec = infer_file(model, audio, task=task, prompt=prompt, opts=opts)
    typer.echo(json.dumps(rec, ensure_ascii=False) if as_json else rec["hyp"])


def register(root: typer.Typer) -> None:
    root.command("infer")(infer)
