"""``svtk decode``: decode a split of task cuts with an experiment's model into hyps.jsonl.

Reads the model shape from the experiment dir's config.yaml and its newest checkpoint (or
``--checkpoint``); writes ``E/decode/<tag>/<split>/hyps.jsonl`` and ``decode_info.json``. Options
on the command line override ``--config`` (a conf/decode/*.yaml preset) and ``--set``. With
``--system gt-llm|asr-llm`` the cascade baselines (:mod:`svtk.decoding.cascade`) decode instead,
by default into ``E/decode/<system>_<tag>/<split>/``.

``--split`` may be repeated: every split is decoded with one model load (icefall's decode.py
style), each into its own ``E/decode/<tag>/<split>/``.

Usage::

    svtk decode --exp-dir exp/mini --split test --prompts unseen --constrained --beam 4
    svtk decode --exp-dir exp/mini --split test_seen --split test_unseen --tasks asr --ctc-weight 0.5
    svtk decode --exp-dir exp/mini --split test_seen --tasks asr --beam 4 --ctc-weight 0.7 \\
        --lm exp/lm/asr.4gram.arpa.gz --lm-weight 0.3
    svtk decode --exp-dir exp/mini --split test_seen --system asr-llm --constrained \\
        --asr-beam 4 --lm exp/lm/asr.3gram.arpa.gz --lm-weight 0.5   # transcripts by CTC + LM
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
    ForceOpt,
    JointOpt,
    LmOpt,
    LmWeightOpt,
    MaxNewTokensOpt,
    PhaseOpt,
    SetOpt,
)


def decode(
    exp_dir: Annotated[Path, typer.Option("--exp-dir", "-e", help="Experiment dir (its trained phases), a phase dir, or an export.")],
    split: Annotated[list[str], typer.Option("--split", "-s", help="Split name: reads <data-dir>/<split>.jsonl.gz; repeat it to decode several splits with one model load.")],
    config: ConfigOpt = None,
    overrides: SetOpt = None,
    data_dir: Annotated[Path, typer.Option(help="Where the task cuts of each split live.")] = Path("data/tasks"),
    cuts: Annotated[Path | None, typer.Option(help="Decode this cut manifest instead of <data-dir>/<split>.")] = None,
    prompts: Annotated[str | None, typer.Option(help="cut | train | unseen | PATH to a YAML prompt bank.")] = None,
    constrained: ConstrainedOpt = None,
    joint: JointOpt = None,
    beam: BeamOpt = None,
    batch_size: Annotated[int | None, typer.Option(help="Most cuts per batch.", show_default=False)] = None,
    max_duration: Annotated[float | None, typer.Option(help="Most seconds of audio per batch.", show_default=False)] = None,
    max_new_tokens: MaxNewTokensOpt = None,
    ctc_weight: CtcWeightOpt = None,
    lm: LmOpt = None,
    lm_weight: LmWeightOpt = None,
    ctc_pre_beam: Annotated[int | None, typer.Option(help="Joint CTC/LLM: CTC scores each hypothesis' K best next tokens by the LLM (0: every token; default: every token for a CTC vocabulary of at most 8192, else max(8, 1.5 x beam)).", show_default=False)] = None,
    tasks: Annotated[str | None, typer.Option(help="Decode only these tasks, comma-separated (default: all).", show_default=False)] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="Checkpoint to decode (default: the phase's final weights).")] = None,
    phase: PhaseOpt = None,
    tag: Annotated[str | None, typer.Option(help="Decode dir name (default: from config name or options, then --phase and the --checkpoint's name).")] = None,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:1 ...")] = "cpu",
    system: Annotated[str, typer.Option(help="e2e (the SpeechLM) | gt-llm | asr-llm (cascades: the text-lm phase's LLM on the reference / CTC transcript).")] = "e2e",
    text_lm: Annotated[Path | None, typer.Option(help="Cascades: the text LLM dir (default: the text-lm phase's model/).")] = None,
    ctc_encoder: Annotated[Path | None, typer.Option(help="asr-llm: the CTC encoder dir (default: the ctc phase's model/).")] = None,
    asr_beam: Annotated[int, typer.Option(help="asr-llm: CTC prefix beam size of its transcripts (1: the best path; with --lm, the greedy prefix search).")] = 1,
    force: ForceOpt = False,
) -> None:
    """Decode a split with greedy/beam search, label-constrained or joint.

    Example:  svtk decode --exp-dir exp/mini --split test --prompts unseen --constrained
              svtk decode --exp-dir exp/mini --split test --constrained --system asr-llm
    """
    from dataclasses import replace

    from svtk.cli.common import load, split_inputs
    from svtk.decoding.driver import DecodeConfig, decode_split, decode_tag
    from svtk.decoding.loading import load_speechlm
    from svtk.errors import UserError

    opts = load(DecodeConfig, config, overrides)
    given = dict(prompts=prompts, constrained=constrained, joint=joint, beam=beam,
                 batch_size=batch_size, max_duration=max_duration, max_new_tokens=max_new_tokens,
                 ctc_weight=ctc_weight, lm=lm, lm_weight=lm_weight, ctc_pre_beam=ctc_pre_beam,
                 tasks=[t.strip() for t in tasks.split(",") if t.strip()] if tasks else None)
    opts = replace(opts, **{k: v for k, v in given.items() if v is not None})
    inputs = split_inputs(split, cuts, data_dir)
    default_tag = (config.stem if config and not any(v is not None for v in given.values())
                   else decode_tag(opts))
    if system != "e2e":
        from svtk.decoding.cascade import CASCADES, cascade_split, load_cascade

        if system not in CASCADES:
            raise UserError(f"--system {system}: expected e2e, {' or '.join(CASCADES)}")
        if opts.ctc_weight:
            raise UserError("--ctc-weight applies to the e2e system (the cascades transcribe "
                            "with the CTC encoder alone)")
        # --lm and --asr-beam make asr-llm's transcripts (decode_info's lm, lm_weight and
        # asr_beam say so); the text LLM decodes without them
        text_opts = replace(opts, lm=None, lm_weight=0.0)
        asr_parts = ([f"asrbeam{asr_beam}"] if asr_beam > 1 else []) + (
            [f"asrlm{opts.lm_weight:g}"] if opts.lm_weight else [])
        base = decode_tag(text_opts) if opts.lm_weight else default_tag
        tag = tag or "_".join([system, base, *asr_parts])
        loaded = load_cascade(system, exp_dir, text_lm, ctc_encoder, device, asr_beam=asr_beam,
                              lm=opts.lm, lm_weight=opts.lm_weight)
        for s, path in inputs.items():
            cascade_split(system, exp_dir, path, exp_dir / "decode" / tag / s, text_opts,
                          split=s, force=force, loaded=loaded)
        return
    # another phase or checkpoint of the same experiment is another decode dir, not a clash
    tag = tag or "_".join([default_tag] + ([phase] if phase else []) +
                          ([_checkpoint_name(checkpoint)] if checkpoint else []))
    model, ckpt = load_speechlm(exp_dir, checkpoint, device, phase=phase, merge_lora=True)
    for s, path in inputs.items():  # one model load for every split (imports dominate a small one)
        decode_split(model, path, exp_dir / "decode" / tag / s, opts, split=s, checkpoint=ckpt,
                     force=force)


def _checkpoint_name(path: Path) -> str:
    """``step-00000160`` for ``checkpoints/step-00000160[/model.safetensors]``, else the file stem."""
    return path.parent.name if path.name == "model.safetensors" else path.stem


def register(root: typer.Typer) -> None:
    root.command("decode")(decode)
