"""Load a SpeechLM for decoding from an experiment dir, one of its phases, or an export.

Three layouts are understood (the seam to svtk.models and svtk.training):

- an experiment dir ``exp/<tag>/`` whose curriculum phases are subdirs (``phase1/``,
  ``phase2b/`` ...), each finished by ``svtk train`` (``.train.done``, ``config.yaml`` with the
  full training config, ``model.safetensors`` with every weight the curriculum trained): the
  ``speechlm`` phase finished last is used, or the one named with ``phase=``;
- a phase dir itself (``exp/<tag>/phase2b``);
- an export (``svtk export``): ``export.json``, ``config.yaml`` (the model config) and
  ``model.safetensors``.

The model is built with ``SpeechLM.from_config`` (frozen encoder and LLM from their pre-trained
dirs) and the trained weights are loaded on top. Every weight the model trains (layer mix,
downsampler, LoRA) must be in the checkpoint, and nothing else may be: a mismatch is an error,
never a silently random adapter.

Usage::

    model, ckpt = load_speechlm("exp/mini", checkpoint=None, device="cpu")
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import yaml

from svtk.errors import UserError

log = logging.getLogger(__name__)

EXPORT_MARKER = "export.json"
MODEL_WEIGHTS = "model.safetensors"
TRAIN_MARKER = ".train.done"
SKIP_DIRS = ("decode", "export", "tensorboard")


def speechlm_phases(exp_dir: str | Path) -> dict[str, Path]:
    """Finished ``speechlm`` phases under ``exp_dir``: name -> phase dir, oldest first."""
    found = []
    for marker in Path(exp_dir).glob(f"*/{TRAIN_MARKER}"):
        info = json.loads(marker.read_text())
        if info.get("config", {}).get("objective", "speechlm") == "speechlm":
            found.append((info.get("finished", ""), marker.stat().st_mtime, marker.parent))
    return {d.name: d for _, _, d in sorted(found)}


def resolve_model_dir(src: str | Path, phase: str | None = None) -> Path:
    """The dir whose ``config.yaml`` describes the model: ``src`` itself, or one of its phases."""
    src = Path(src)
    phases = speechlm_phases(src)
    if phase is not None:
        if phase not in phases:
            raise UserError(f"{src}: no finished speechlm phase {phase!r} "
                            f"(finished: {', '.join(phases) or 'none'})")
        return phases[phase]
    if (src / "config.yaml").is_file():
        return src
    if not phases:
        raise UserError(f"{src}: neither a model dir (config.yaml) nor an experiment with a "
                        "finished speechlm phase; train one first (svtk train --phase ...)")
    return list(phases.values())[-1]


def model_section(config_path: str | Path) -> dict[str, Any]:
    """The model config in ``config_path``: a phase's own ``model`` (training configs), the
    top-level ``model`` section, or the whole file (exports and bare model configs)."""
    path = Path(config_path)
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise UserError(f"{config_path}: not a config mapping")
    phase = (data.get("phases") or {}).get(path.parent.name) or {}
    return phase.get("model") or data.get("model", data)


def resolve_checkpoint(exp_dir: str | Path, checkpoint: str | Path | None = None) -> Path | None:
    """``checkpoint`` if given (relative to ``exp_dir`` when not found as is), else the newest
    ``*.safetensors`` of the experiment outside decode/export dirs; None if there is none."""
    exp = Path(exp_dir)
    if checkpoint:
        for p in (Path(checkpoint), exp / checkpoint):
            if p.is_file():
                return p
        raise UserError(f"checkpoint not found: {checkpoint} (also looked in {exp})")
    found = [p for p in exp.rglob("*.safetensors")
             if not set(p.relative_to(exp).parts[:-1]) & set(SKIP_DIRS)]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def load_speechlm(src: str | Path, checkpoint: str | Path | None = None, device: str = "cpu",
                 phase: str | None = None, merge_lora: bool = False):
    """(model, checkpoint path or None) from an experiment dir, a phase dir or an export.

    ``merge_lora``: fold the LoRA adapters into the LLM's weights (decoding only; see
    :meth:`svtk.models.llm.LLMAdapter.merge_lora`)."""
    from safetensors.torch import load_file

    model_dir = resolve_model_dir(src, phase)
    try:
        from svtk.models.config import ModelConfig
        from svtk.models.speechlm import SpeechLM
    except ImportError as e:
        raise UserError(f"decoding a trained model needs svtk.models (SpeechLM), which this "
                        f"checkout lacks: {e}") from e
    from svtk.config import from_dict

    cfg_path = model_dir / "config.yaml"
    cfg = from_dict(ModelConfig, model_section(cfg_path), source=str(cfg_path))
    model = SpeechLM.from_config(cfg)
    if (model_dir / EXPORT_MARKER).is_file() or (model_dir / TRAIN_MARKER).is_file():
        ckpt = Path(checkpoint) if checkpoint else model_dir / MODEL_WEIGHTS
        if ckpt.is_dir():  # a step checkpoint of svtk train: checkpoints/step-N/model.safetensors
            ckpt = ckpt / MODEL_WEIGHTS
        if not ckpt.is_file():
            raise UserError(f"{model_dir}: no trained weights at {ckpt}")
    else:
        ckpt = resolve_checkpoint(model_dir, checkpoint)
    if ckpt is not None:
        load_trained(model, load_file(str(ckpt)), str(ckpt), untrained_groups(cfg_path))
    model = model.to(device).eval()
    if merge_lora:
        model.llm.merge_lora()
    return model, ckpt


def _identity_adapters(model, keys: list[str]) -> bool:
    """True when every LoRA ``B`` among ``keys`` is all zeros (the adapter adds nothing)."""
    params = dict(model.named_parameters())
    b = [k for k in keys if "lora_B" in k or "lora_embedding_B" in k]
    return bool(b) and all(not params[k].any() for k in b)


def untrained_groups(config_path: str | Path) -> set[str]:
    """Parameter groups that the phase of ``config_path`` and the phases it starts from
    (``init_from``) never trained; empty for exports and bare model configs."""
    data = yaml.safe_load(Path(config_path).read_text()) or {}
    phases = data.get("phases") or {}
    name, trained, seen = Path(config_path).parent.name, set(), set()
    if name not in phases:
        return set()
    while name in phases and name not in seen:
        seen.add(name)
        trained |= set(phases[name].get("trainable") or [])
        name = phases[name].get("init_from")
    from svtk.models.speechlm import GROUPS

    return set(GROUPS) - trained


def load_trained(model, weights: dict[str, Any], where: str,
                 untrained: set[str] | frozenset = frozenset()) -> None:
    """Load trained weights over the pre-trained model; every trained weight must be there
    (LoRA may be absent when the ``untrained`` groups say no phase trained it)."""
    result = model.load_state_dict(weights, strict=False)
    if result.unexpected_keys:
        raise UserError(f"{where}: weights that the model does not have: "
                        f"{result.unexpected_keys[:5]} ({len(result.unexpected_keys)} in all)")
    needed = set(model.trainable_state_dict())
    absent = sorted(needed & set(result.missing_keys))
    if (absent and "lora" in untrained and all("lora_" in k for k in absent)
            and _identity_adapters(model, absent)):
        # a curriculum that has not trained adapters yet (phase 1): PEFT starts every adapter
        # with B = 0, so the untrained ones are exactly the frozen LLM
        log.info("%s: no LoRA weights (the phase trained none); the adapters are the identity", where)
        return
    if absent:
        raise UserError(f"{where}: lacks trained weights the model needs: {absent[:5]} "
                        f"({len(absent)} in all); is this the right checkpoint?")
