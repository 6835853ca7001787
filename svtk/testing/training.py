"""Test helpers for training: a tiny tone corpus of task cuts and a toy model with SpeechLM's shape.

:func:`make_task_cuts` synthesises short tones (one of four pitches per cut, random durations)
with soundfile and writes lhotse task cuts (``train.jsonl.gz``, ``dev.jsonl.gz``) with the
contract's custom fields (task, prompt, target, labels, joint). The target of each task is a
function of the pitch (different per task), so the task is learnable only from the audio and
the task identity.

:class:`ToyModel` implements the trainer's protocol (:mod:`svtk.training.objectives`) with the
SpeechLM's parameter groups: a frozen 2-layer "encoder" over log band energies, a learnable
``layer_mix``, a conv ``downsampler`` + LayerNorm, a frozen "llm" (task and position embeddings,
output head) and a ``lora`` low-rank update of the head. Registered as objective ``toy``.

Usage::

    paths = make_task_cuts(tmp_path / "data", tasks=("asr", "ic"))
    cfg = toy_train_config(paths, tasks=("asr", "ic"))
    train_phase(cfg, "phase1", tmp_path / "exp")
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from svtk.training.objectives import register_objective

SAMPLE_RATE = 16000
PITCHES = (300.0, 700.0, 1100.0, 1600.0)
WORDS = ("low", "mid", "high", "top")
N_BANDS = 16

# Set by tests to simulate a crash: forward raises after this many training calls.
CRASH_AFTER_CALLS: int | None = None


class SimulatedCrash(RuntimeError):
    """Raised by the toy model when ``CRASH_AFTER_CALLS`` is reached (a killed job)."""


def toy_target(task: str, task_index: int, pitch: int) -> str:
    """Target text: a task-specific token for the pitch; even-indexed tasks append ``end``."""
    tok = f"{task}_{(pitch + task_index) % len(PITCHES)}"
    return tok + (" end" if task_index % 2 == 0 else "")


def toy_vocab(tasks: tuple[str, ...] | list[str]) -> list[str]:
    return ["end"] + [f"{t}_{k}" for t in tasks for k in range(len(PITCHES))]


def make_task_cuts(out_dir: str | Path, tasks: tuple[str, ...] = ("asr", "ic"), n_train: int = 24,
                   n_dev: int = 8, seed: int = 0, min_dur: float = 0.2, max_dur: float = 1.2
                   ) -> dict[str, Path]:
    """Write tone wavs and task cuts; returns {"train": path, "dev": path}."""
    import soundfile as sf
    from lhotse import CutSet, MonoCut, Recording, SupervisionSegment

    out = Path(out_dir)
    (out / "wav").mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = {}
    for split, n in (("train", n_train), ("dev", n_dev)):
        cuts = []
        for j, task in enumerate(tasks):
            for i in range(n):
                pitch = rng.randrange(len(PITCHES))
                dur = round(rng.uniform(min_dur, max_dur), 2)
                t = np.arange(int(dur * SAMPLE_RATE)) / SAMPLE_RATE
                amp = rng.uniform(0.2, 0.6)
                audio = amp * np.sin(2 * np.pi * PITCHES[pitch] * t)
                audio += 0.02 * np.random.default_rng(rng.randrange(1 << 30)).standard_normal(t.size)
                rid = f"{split}-{task}-{i:04d}"
                wav = out / "wav" / f"{rid}.wav"
                sf.write(wav, audio.astype(np.float32), SAMPLE_RATE)
                rec = Recording.from_file(wav, recording_id=rid)
                sup = SupervisionSegment(id=rid, recording_id=rid, start=0.0,
                                         duration=rec.duration, text=WORDS[pitch])
                cuts.append(MonoCut(
                    id=rid, start=0.0, duration=rec.duration, channel=0, recording=rec,
                    supervisions=[sup],
                    custom={"task": task, "prompt": f"do {task}",
                            "target": toy_target(task, j, pitch), "labels": None, "joint": False}))
        paths[split] = out / f"{split}.jsonl.gz"
        CutSet.from_cuts(cuts).to_file(paths[split])
    return paths


@dataclass
class ToyConfig:
    tasks: list[str] = field(default_factory=lambda: ["asr", "ic"])
    dim: int = 32
    lora_rank: int = 4
    max_tokens: int = 2
    dropout: float = 0.1
    # training forward calls (1-based) whose loss is replaced by NaN (NaN-skip tests)
    nan_calls: list[int] = field(default_factory=list)


@dataclass
class ToyBatch:
    feats: torch.Tensor     # (B, T, F)
    mask: torch.Tensor      # (B, T)
    targets: torch.Tensor   # (B, L), -100 = padding
    task_ids: torch.Tensor  # (B,)
    tasks: list[str]

    def to(self, device: Any) -> ToyBatch:
        return ToyBatch(self.feats.to(device), self.mask.to(device), self.targets.to(device),
                        self.task_ids.to(device), self.tasks)


@dataclass
class ToyOutput:
    loss: torch.Tensor           # scalar, mean over target tokens
    loss_per_item: torch.Tensor  # (B,)
    num_tokens: torch.Tensor     # (B,)


def band_energies(audio: np.ndarray) -> torch.Tensor:
    """Log energies of N_BANDS linear frequency bands, 25 ms frames every 10 ms: (T, N_BANDS)."""
    x = torch.from_numpy(np.asarray(audio, dtype=np.float32).reshape(-1))
    if x.numel() < 400:
        x = torch.nn.functional.pad(x, (0, 400 - x.numel()))
    frames = x.unfold(0, 400, 160)  # (T, 400)
    spec = torch.fft.rfft(frames * torch.hann_window(400), dim=-1).abs() ** 2  # (T, 201)
    bands = spec[:, :192].reshape(spec.shape[0], N_BANDS, -1).mean(-1)  # (T, N_BANDS)
    return torch.log(bands + 1e-6)


class ToyModel(nn.Module):
    def __init__(self, config: ToyConfig):
        super().__init__()
        self.config = config
        d = config.dim
        self.vocab = toy_vocab(config.tasks)
        self.encoder = nn.ModuleList([nn.Linear(N_BANDS, d), nn.Linear(d, d)])
        self.layer_mix = nn.Parameter(torch.zeros(2))
        self.downsampler = nn.Sequential()
        self.downsampler.add_module("conv", nn.Conv1d(d, d, 3, stride=2, padding=1))
        self.downsampler.add_module("norm", nn.LayerNorm(d))
        self.task_emb = nn.Embedding(len(config.tasks), d)
        self.pos_emb = nn.Embedding(config.max_tokens, d)
        self.head = nn.Linear(d, len(self.vocab))
        self.lora_a = nn.Parameter(torch.randn(d, config.lora_rank) / d**0.5)
        self.lora_b = nn.Parameter(torch.zeros(config.lora_rank, len(self.vocab)))
        self.dropout = nn.Dropout(config.dropout)
        self.calls = 0

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "encoder": list(self.encoder.parameters()),
            "layer_mix": [self.layer_mix],
            "downsampler": list(self.downsampler.parameters()),
            "lora": [self.lora_a, self.lora_b],
            "llm": [*self.task_emb.parameters(), *self.pos_emb.parameters(),
                    *self.head.parameters()],
        }

    def collate(self, cuts: Any) -> ToyBatch:
        feats = [band_energies(c.load_audio()) for c in cuts]
        T = max(f.shape[0] for f in feats)
        x = torch.zeros(len(feats), T, N_BANDS)
        mask = torch.zeros(len(feats), T, dtype=torch.bool)
        for i, f in enumerate(feats):
            x[i, : f.shape[0]] = f
            mask[i, : f.shape[0]] = True
        index = {w: i for i, w in enumerate(self.vocab)}
        targets = torch.full((len(feats), self.config.max_tokens), -100, dtype=torch.long)
        tasks = [c.custom["task"] for c in cuts]
        for i, c in enumerate(cuts):
            toks = c.custom["target"].split()[: self.config.max_tokens]
            targets[i, : len(toks)] = torch.tensor([index[t] for t in toks])
        task_ids = torch.tensor([self.config.tasks.index(t) for t in tasks])
        return ToyBatch(x, mask, targets, task_ids, tasks)

    def forward(self, batch: ToyBatch) -> ToyOutput:
        if self.training:
            self.calls += 1
            if CRASH_AFTER_CALLS is not None and self.calls > CRASH_AFTER_CALLS:
                raise SimulatedCrash(f"simulated crash at training call {self.calls}")
        h1 = torch.tanh(self.encoder[0](batch.feats))  # (B, T, D)
        h2 = torch.tanh(self.encoder[1](h1))  # (B, T, D)
        w = torch.softmax(self.layer_mix, 0)
        h = w[0] * h1 + w[1] * h2  # (B, T, D)
        y = self.downsampler.conv(h.transpose(1, 2)).transpose(1, 2)  # (B, T', D)
        y = self.downsampler.norm(y)
        m = batch.mask[:, ::2][:, : y.shape[1]].unsqueeze(-1).to(y.dtype)  # (B, T', 1)
        pooled = (y * m).sum(1) / m.sum(1).clamp(min=1)  # (B, D)
        pooled = self.dropout(pooled)
        L = batch.targets.shape[1]
        pos = self.pos_emb(torch.arange(L, device=pooled.device))  # (L, D)
        z = torch.tanh(pooled[:, None] + self.task_emb(batch.task_ids)[:, None] + pos)  # (B, L, D)
        logits = self.head(z) + (z @ self.lora_a) @ self.lora_b  # (B, L, V)
        ce = nn.functional.cross_entropy(logits.transpose(1, 2), batch.targets,
                                         ignore_index=-100, reduction="none")  # (B, L)
        valid = (batch.targets != -100).to(ce.dtype)
        num = valid.sum(1)  # (B,)
        per_item = (ce * valid).sum(1) / num.clamp(min=1)  # (B,)
        if self.training and self.calls in self.config.nan_calls:
            per_item = per_item * float("nan")
        loss = (per_item * num).sum() / num.sum().clamp(min=1)
        return ToyOutput(loss, per_item, num)

    def predict(self, batch: ToyBatch) -> list[str]:
        """Greedy token per position, joined (for accuracy checks)."""
        self.eval()
        with torch.no_grad():
            h1 = torch.tanh(self.encoder[0](batch.feats))
            h2 = torch.tanh(self.encoder[1](h1))
            w = torch.softmax(self.layer_mix, 0)
            y = self.downsampler.norm(self.downsampler.conv((w[0] * h1 + w[1] * h2).transpose(1, 2))
                                      .transpose(1, 2))
            m = batch.mask[:, ::2][:, : y.shape[1]].unsqueeze(-1).to(y.dtype)
            pooled = (y * m).sum(1) / m.sum(1).clamp(min=1)
            pos = self.pos_emb(torch.arange(batch.targets.shape[1]))
            z = torch.tanh(pooled[:, None] + self.task_emb(batch.task_ids)[:, None] + pos)
            ids = (self.head(z) + (z @ self.lora_a) @ self.lora_b).argmax(-1)
        out = []
        for row, tgt in zip(ids.tolist(), batch.targets.tolist(), strict=True):
            out.append(" ".join(self.vocab[i] for i, t in zip(row, tgt, strict=True) if t != -100))
        return out

    def save_pretrained(self, out_dir: str | Path) -> None:
        from safetensors.torch import save_file

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(self.config)))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()},
                  str(out / "model.safetensors"))


@register_objective("toy")
def build_toy(section: dict[str, Any]) -> ToyModel:
    return ToyModel(ToyConfig(**section))


def toy_train_config(paths: dict[str, Path], tasks: tuple[str, ...] = ("asr", "ic"),
                     steps: int = 30, **phase_overrides: Any) -> Any:
    """A 3-phase curriculum (ASR downsampler, +LoRA on ASR, all tasks) over the toy model."""
    from svtk.training.config import DataConfig, PhaseConfig, TrainConfig

    common = dict(objective="toy", max_steps=steps, lr=2e-2, warmup_steps=3, max_duration=4.0,
                  valid_every=10, log_every=5, keep_last=2, weight_decay=0.0)
    common.update(phase_overrides)
    phases = {
        "phase1": PhaseConfig(**{**common, "tasks": {"asr": 1.0},
                                 "trainable": ["downsampler", "layer_mix"]}),
        "phase2a": PhaseConfig(**{**common, "tasks": {"asr": 1.0},
                                  "trainable": ["downsampler", "layer_mix", "lora"],
                                  "init_from": "phase1"}),
        "phase2b": PhaseConfig(**{**common, "tasks": {"*": 1.0},
                                  "trainable": ["downsampler", "layer_mix", "lora"],
                                  "init_from": "phase2a"}),
    }
    return TrainConfig(model={"tasks": list(tasks)},
                       data=DataConfig(train_cuts=paths["train"], valid_cuts=paths["dev"],
                                       num_buckets=3, buffer_size=500),
                       phases=phases, seed=0, device="cpu", precision="fp32")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ddp_worker(rank: int, world: int, port: int, paths: dict[str, Path], out_dir: Path,
               overrides: dict[str, Any]) -> None:
    """``torch.multiprocessing.spawn`` target: one rank of a gloo run of the toy phase 1,
    set up through the environment exactly as ``torchrun`` does."""
    import os

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    from svtk.training.loop import train_phase

    train_phase(ddp_config(paths, **overrides), "phase1", out_dir)


def ddp_config(paths: dict[str, Path], strategy: str = "ddp", **phase: Any) -> Any:
    """Toy phase 1 whose batch stream does not depend on the world size (no bucket sync, no
    dropout, no dev set), so W ranks and 1 process with ``accum_grad=W`` must agree."""
    cfg = toy_train_config(paths, **{"steps": 6, "valid_every": 0, "log_every": 1, **phase})
    cfg.phases["phase1"].tasks = {"*": 1.0}
    cfg.model["dropout"] = 0.0
    cfg.data.sync_buckets = False
    cfg.data.valid_cuts = None
    cfg.distributed.strategy = strategy
    return cfg
