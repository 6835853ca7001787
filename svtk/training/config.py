"""Training configs: the curriculum as phases, each a dataclass validated by :mod:`svtk.config`.

A training config is one YAML file with a ``model`` section (handed unchanged to the phase's
objective, e.g. the SpeechLM ``ModelConfig``), a ``data`` section (which task cuts to sample) and
``phases``, a mapping phase name -> :class:`PhaseConfig`. Phases are keyed by name so that
``--set phases.phase2b.lr=5e-5`` and ``base:`` inheritance reach one phase; shared settings are
written once with a YAML anchor (``<<: *defaults``). Another curriculum is another config file.

Usage::

    cfg = load_config(TrainConfig, "egs/mini/conf/train.yaml", overrides=["phases.phase1.max_steps=50"])
    phase = cfg.phase("phase1")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from svtk.errors import UserError

# Every task the corpus may carry (svtk.tasks); "*" in a phase's tasks means "all present".
ALL_TASKS = "*"
LOSS_NORMS = ("tokens", "items")
SCHEDULERS = ("linear", "cosine", "cosine_with_min_lr", "polynomial", "constant",
              "constant_with_warmup", "inverse_sqrt", "warmup_stable_decay")


@dataclass
class PhaseConfig:
    """One curriculum phase: what it trains, on which tasks, for how long, how it is optimised."""

    # objective registry name (svtk.training.objectives): speechlm | ctc | text-lm
    objective: str = "speechlm"
    # model section for this phase; None = the config's top-level ``model`` (the SpeechLM);
    # ``file: PATH`` in it reads a model config file (see TrainConfig.model)
    model: dict[str, Any] | None = None
    # task -> sampling weight (one lazy CutSet per task, CutSet.mux'ed); "*" = every task present
    tasks: dict[str, float] = field(default_factory=lambda: {"asr": 1.0})
    # parameter groups (model.parameter_groups()) trained here; every other parameter is frozen
    trainable: list[str] = field(default_factory=lambda: ["downsampler", "layer_mix"])
    # phase whose final weights initialise this one (the curriculum's chain), None = from config
    init_from: str | None = None

    # optimisation steps (updates); 0 = run max_epochs passes over the data instead
    max_steps: int = 1000
    # passes over the phase's cuts when max_steps is 0 (tasks mixed without repetition)
    max_epochs: int = 0
    lr: float = 1e-4
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.98)
    # transformers.get_scheduler name: warmup then decay (linear, cosine, ...)
    scheduler: str = "linear"
    warmup_steps: int = 100
    # clip the global gradient L2 norm (0 = no clipping, the norm is still logged)
    grad_clip: float = 1.0
    # micro-batches per update: a larger global batch without more memory
    accum_grad: int = 1
    # how an update averages the loss: "tokens" (every target token of the update alike, as
    # transformers' causal-LM loss does) or "items" (every item alike, each the mean over its
    # own tokens), so that a 2-token label counts as much as a 30-token transcript
    loss_norm: str = "tokens"

    # seconds of audio per batch and rank (DynamicBucketingSampler)
    max_duration: float = 60.0
    # optional cap on cuts per batch (text-only objectives have tiny durations)
    max_cuts: int | None = None

    # validate (and checkpoint) every N updates; 0 = only at the end
    valid_every: int = 200
    # cap on validation batches per rank, to keep validation cheap on big dev sets
    valid_max_batches: int | None = None
    # stop after this many validations without improvement (0 = never stop early)
    patience: int = 0
    # checkpoint every N updates when there is no dev set (0 = same as valid_every)
    save_every: int = 0
    # step checkpoints kept on disk (the best is kept in addition)
    keep_last: int = 2
    # consecutive non-finite losses (skipped steps) tolerated before aborting
    nan_tolerance: int = 5
    # log train scalars every N updates
    log_every: int = 10
    # also write the frozen parameters (a standalone full-model file); big for LLMs
    save_full_model: bool = False

    def __post_init__(self) -> None:
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {', '.join(SCHEDULERS)}, got {self.scheduler!r}")
        if self.max_steps < 0 or self.max_epochs < 0:
            raise ValueError("max_steps and max_epochs must be >= 0")
        if self.max_steps == 0 and self.max_epochs == 0:
            raise ValueError("set max_steps (updates) or max_epochs (passes over the data)")
        if self.loss_norm not in LOSS_NORMS:
            raise ValueError(f"loss_norm must be one of {', '.join(LOSS_NORMS)}, "
                             f"got {self.loss_norm!r}")
        if self.accum_grad < 1 or self.keep_last < 1 or self.nan_tolerance < 1:
            raise ValueError("accum_grad, keep_last and nan_tolerance must be >= 1")
        if any(w < 0 for w in self.tasks.values()) or (self.tasks and not any(self.tasks.values())):
            raise ValueError(f"task weights must be >= 0 and not all 0, got {self.tasks}")
        if not self.trainable:
            raise ValueError("trainable must name at least one parameter group")


@dataclass
class DataConfig:
    """Where the task cuts are and how batches are formed."""

    # task cuts sampled for training (svtk data tasks / svtk latents extract output)
    train_cuts: Path = Path("data/tasks/train.jsonl.gz")
    # dev cuts for the validation loss and early stopping; None = no validation
    valid_cuts: Path | None = Path("data/tasks/dev.jsonl.gz")
    # duration buckets of the DynamicBucketingSampler (fewer = more padding, more shuffling)
    num_buckets: int = 10
    # cuts held by the sampler for bucketing and shuffling
    buffer_size: int = 10000
    # same bucket on every DDP rank per step (less waiting); off makes the batch stream
    # independent of world size (1 process with accum_grad=W sees the batches W ranks see)
    sync_buckets: bool = True
    # DataLoader worker processes for collation (0 = in the training process)
    num_workers: int = 0
    # manifests with at most this many cuts are read once and split by task in memory; bigger
    # ones stream, one lazy filtered pass per task (each pass parses the whole manifest)
    in_memory_max_cuts: int = 200_000


@dataclass
class DistributedConfig:
    """How ``torchrun`` launches are used (single process when WORLD_SIZE is unset or 1)."""

    # ddp replicates the model; fsdp shards parameters (LLMs that do not fit one GPU)
    strategy: Literal["ddp", "fsdp"] = "ddp"
    # auto = nccl on GPU, gloo on CPU
    backend: Literal["auto", "gloo", "nccl"] = "auto"
    # DDP option for models whose forward leaves some trainable parameters unused
    find_unused_parameters: bool = False


MODEL_FILE_KEY = "file"


def resolve_model_section(section: dict[str, Any]) -> dict[str, Any]:
    """A model section with its ``file:`` read in: the file's mapping, the section's keys merged
    over it (mappings key by key). Sections without ``file`` are returned unchanged."""
    if MODEL_FILE_KEY not in section:
        return section
    from svtk.config import read_config_tree

    own = dict(section)
    path = own.pop(MODEL_FILE_KEY)
    if not isinstance(path, (str, Path)):
        raise ValueError(f"model section: '{MODEL_FILE_KEY}' must be a path, got {path!r}")
    base, _ = read_config_tree(path)

    def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    return merge(base, own)


def _default_phases() -> dict[str, PhaseConfig]:
    """The SpeechVerse curriculum: downsampler on ASR, then LoRA on ASR, then all tasks mixed."""
    return {
        "phase1": PhaseConfig(tasks={"asr": 1.0}, trainable=["downsampler", "layer_mix"]),
        "phase2a": PhaseConfig(tasks={"asr": 1.0}, trainable=["downsampler", "layer_mix", "lora"],
                               init_from="phase1"),
        "phase2b": PhaseConfig(tasks={ALL_TASKS: 1.0},
                               trainable=["downsampler", "layer_mix", "lora"], init_from="phase2a"),
    }


@dataclass
class TrainConfig:
    """A training config: model section, data, the curriculum phases, runtime settings."""

    # model section given to each phase's objective (for speechlm: svtk.models ModelConfig);
    # ``file: PATH`` reads it from a model config file (PATH relative to the working directory
    # like every path here, its base: chain followed), keys beside ``file`` override the file's,
    # so latent extraction, training and decoding share one model config
    model: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    # phase name -> phase; run one with `svtk train --phase NAME`
    phases: dict[str, PhaseConfig] = field(default_factory=_default_phases)
    # seeds model construction (identical base weights in every phase), sampling and dropout
    seed: int = 0
    # auto = cuda when available, else cpu
    device: str = "auto"
    # auto = bf16 autocast on GPU, fp32 on CPU (bf16 on CPU is very slow)
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    distributed: DistributedConfig = field(default_factory=DistributedConfig)

    def __post_init__(self) -> None:
        self.model = resolve_model_section(self.model)
        for name, p in self.phases.items():
            if p.model is not None:
                p.model = resolve_model_section(p.model)
            if p.init_from is not None and p.init_from not in self.phases:
                raise ValueError(f"phases.{name}.init_from: no phase named {p.init_from!r} "
                                 f"(phases: {', '.join(self.phases)})")
            if p.init_from == name:
                raise ValueError(f"phases.{name}.init_from names the phase itself")

    def phase(self, name: str) -> PhaseConfig:
        if name not in self.phases:
            raise UserError(f"no phase {name!r} in the config (phases: {', '.join(self.phases)})")
        return self.phases[name]

    def model_section(self, name: str) -> dict[str, Any]:
        p = self.phase(name)
        return dict(self.model if p.model is None else p.model)

    def phase_view_defaults(self, name: str) -> dict[str, Any]:
        """The defaults of :meth:`phase_view`'s dataclass sections, flattened as its keys: a
        setting svtk gains after a phase was trained, left at its default, does not redo it
        (:class:`svtk.stage.Stage` ``defaults``)."""
        from svtk.stage import dataclass_defaults

        sections = {"train": self.phase(name), "data": self.data, "distributed": self.distributed}
        return {f"{key}.{k}": v for key, section in sections.items()
                for k, v in dataclass_defaults(section).items()}

    def phase_view(self, name: str) -> dict[str, Any]:
        """What one phase's result depends on: the stage config of ``svtk train --phase name``.

        Other phases' settings are left out, so editing phase 2b never invalidates phase 1.
        """
        from svtk.config import to_dict

        return {
            "phase": name,
            "objective": self.phase(name).objective,
            "model": to_dict(self.model_section(name)),
            "data": to_dict(self.data),
            "train": to_dict(self.phase(name)),
            "seed": self.seed,
            "precision": self.precision,
            "distributed": to_dict(self.distributed),
        }
