"""Load a SpeechLM for decoding from an experiment dir or an export (the seam to svtk.models).

An experiment dir holds ``config.yaml`` (the resolved experiment config; its ``model:`` section,
or the whole file, is a ``svtk.models.ModelConfig``) and checkpoints (``*.safetensors`` with the
trainable weights, under the phase dirs). An export (``svtk export``) holds ``export.json``,
``config.yaml`` (the model config) and ``model.safetensors``. Either way the model is built with
``SpeechLM.from_config`` and the trainable weights loaded with ``strict=False`` (frozen weights
come from the pre-trained encoder and LLM).

Usage::

    model, ckpt = load_speechlm("exp/mini", checkpoint=None, device="cpu")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from svtk.errors import UserError

EXPORT_MARKER = "export.json"
MODEL_WEIGHTS = "model.safetensors"
SKIP_DIRS = ("decode", "export", "tensorboard")


def model_section(config_path: str | Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(config_path).read_text()) or {}
    if not isinstance(data, dict):
        raise UserError(f"{config_path}: not a config mapping")
    return data.get("model", data)


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


def load_speechlm(src: str | Path, checkpoint: str | Path | None = None, device: str = "cpu"):
    """(model, checkpoint path or None) from an experiment dir or an export dir."""
    from safetensors.torch import load_file

    src = Path(src)
    if not (src / "config.yaml").is_file():
        raise UserError(f"{src}: no config.yaml; expected an experiment dir or an svtk export")
    try:
        from svtk.models.config import ModelConfig
        from svtk.models.speechlm import SpeechLM
    except ImportError as e:
        raise UserError(f"decoding a trained model needs svtk.models (SpeechLM), which this "
                        f"checkout lacks: {e}") from e
    from svtk.config import from_dict

    cfg = from_dict(ModelConfig, model_section(src / "config.yaml"), source=str(src / "config.yaml"))
    model = SpeechLM.from_config(cfg)
    ckpt = src / MODEL_WEIGHTS if (src / EXPORT_MARKER).is_file() else resolve_checkpoint(src, checkpoint)
    if ckpt is not None:
        missing_ok = model.load_state_dict(load_file(str(ckpt)), strict=True)
        unexpected = getattr(missing_ok, "unexpected_keys", [])
        if unexpected:
            raise UserError(f"{ckpt}: weights that the model does not have: {unexpected[:5]}")
    return model.to(device).eval(), ckpt
