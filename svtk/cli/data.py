"""``svtk data``: the synthetic corpus, manifest validation, task cuts and stored fbank.

Usage::

    svtk data synth --config egs/mini/conf/synth.yaml --out-dir data --workers 2
    svtk data validate --data-dir data --corpus mini
    svtk data tasks --config egs/mini/conf/tasks.yaml --data-dir data
    svtk data fbank --cuts data/tasks/train.jsonl.gz --split train --out-dir data/fbank --tasks asr
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from svtk.cli.common import ConfigOpt, ForceOpt, SetOpt

app = typer.Typer(
    help="Corpus preparation, synthetic corpus, lhotse manifests and task cuts.\n\nExample:  svtk data synth --help",
)

DataDirOpt = Annotated[Path, typer.Option("--data-dir", "-d", help="Data directory (manifests/, tasks/).")]


@app.callback(invoke_without_command=True)
def _group(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        from svtk.cli.common import group_without_command

        group_without_command(ctx, app, "data", "the data issue")


@app.command("synth")
def synth(
    config: Annotated[Path | None, ConfigOpt.__metadata__[0]] = None,
    overrides: SetOpt = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", "-o", help="Output data directory.")] = Path("data"),
    hours: Annotated[float | None, typer.Option(help="Hours of audio; each split gets this times its share (overrides the config).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (overrides the config).")] = None,
    slurp_dir: Annotated[Path | None, typer.Option(
        "--slurp-dir", envvar="SVTK_SLURP_DIR",
        help="SLURP text (devel.jsonl, test.jsonl) for content: slurp.")] = None,
    workers: Annotated[int, typer.Option("--workers", "-j", help="Parallel synthesis workers.")] = 2,
    force: ForceOpt = False,
) -> None:
    """Synthesise the multi-task corpus (espeak-ng, flite, festival, sox) and write lhotse manifests.

    Example:  svtk data synth --config egs/mini/conf/synth.yaml --out-dir data --hours 1
    """
    from svtk.cli.common import load
    from svtk.data.synth import SynthConfig, synthesize

    extra = list(overrides or [])
    if hours is not None:
        extra.append(f"hours={hours}")
    if seed is not None:
        extra.append(f"seed={seed}")
    if slurp_dir is not None:
        extra.append(f"slurp_dir={slurp_dir}")
    cfg = load(SynthConfig, config, extra)
    stats = synthesize(cfg, out_dir, workers=workers, force=force)
    for split, s in stats.get("splits", {}).items():
        typer.echo(f"{cfg.corpus} {split}: {s['recordings']} recordings, {s['hours']:.3f} h")


@app.command("validate")
def validate(
    data_dir: DataDirOpt = Path("data"),
    corpus: Annotated[str, typer.Option(help="Corpus name (manifest prefix).")] = "mini",
    split: Annotated[list[str] | None, typer.Option(help="Split(s) to check (default: all).")] = None,
    sample_rate: Annotated[int, typer.Option(help="Expected sample rate (0: any).")] = 16000,
    max_skip_fraction: Annotated[float, typer.Option(
        help="Fail when more than this fraction of a split is unusable.")] = 0.0,
) -> None:
    """Check manifests with lhotse and every audio file; write a skip report; fail on too many.

    Example:  svtk data validate --data-dir data --corpus mini --max-skip-fraction 0.01
    """
    from svtk.data.validate import validate_manifests

    report = validate_manifests(data_dir, corpus, split or None, sample_rate or None,
                                max_skip_fraction)
    for name, s in report["splits"].items():
        typer.echo(f"{corpus} {name}: {s['recordings']} recordings, {s['skipped']} skipped")


@app.command("tasks")
def tasks(
    config: Annotated[Path | None, ConfigOpt.__metadata__[0]] = None,
    overrides: SetOpt = None,
    data_dir: DataDirOpt = Path("data"),
    force: ForceOpt = False,
) -> None:
    """Build task cuts (data/tasks/<split>.jsonl.gz): task, prompt, target, labels, joint.

    Example:  svtk data tasks --config egs/mini/conf/tasks.yaml --data-dir data
    """
    from svtk.cli.common import load
    from svtk.tasks.build import TasksConfig, build_tasks

    summary = build_tasks(load(TasksConfig, config, overrides), data_dir, force=force)
    for name, s in summary["splits"].items():
        typer.echo(f"{name}: {s['cuts']} cuts " + " ".join(f"{t}={n}" for t, n in s["tasks"].items()))


@app.command("fbank")
def fbank(
    split: Annotated[list[str], typer.Option("--split", help="Split: reads <data-dir>/<split>.jsonl.gz, writes <out-dir>/<split>.jsonl.gz; repeat it for several with one start-up.")],
    cuts: Annotated[Path | None, typer.Option("--cuts", help="Task cuts (jsonl.gz) to compute for instead of <data-dir>/<split> (one --split).")] = None,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="Where the task cuts of each split live.")] = Path("data/tasks"),
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Where the features and cuts go.")] = Path("data/fbank"),
    num_mel_bins: Annotated[int, typer.Option("--num-mel-bins", help="Mel bands (the native encoder's num_mel_bins).")] = 80,
    sample_rate: Annotated[int, typer.Option("--sample-rate", help="Audio is resampled to this.")] = 16000,
    tasks: Annotated[list[str] | None, typer.Option("--tasks", help="Only the cuts of these tasks (repeatable; default: all).")] = None,
    force: ForceOpt = False,
) -> None:
    """Compute kaldi fbank once per recording (lossless) for encoder pre-training to read.

    Example:  svtk data fbank --split train --split dev --out-dir data/fbank --tasks asr
    """
    from svtk.cli.common import split_inputs
    from svtk.data.fbank import compute_fbank

    for name, path in split_inputs(split, cuts, data_dir).items():
        typer.echo(str(compute_fbank(path, out_dir, name, num_mel_bins=num_mel_bins,
                                     sample_rate=sample_rate, tasks=tasks or None, force=force)))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="data")
