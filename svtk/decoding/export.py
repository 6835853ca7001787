"""Export a trained model for inference (``svtk export``): the trainable parts in safetensors,
the model config, and the LoRA adapter in PEFT's own format.

Writes into ``out_dir`` (atomically, as a whole directory):

- ``model.safetensors``  ``model.trainable_state_dict()`` (downsampler, layer mix, LoRA)
- ``config.yaml``        the model config (``svtk.models.ModelConfig`` fields)
- ``adapter/``           ``adapter_config.json`` + ``adapter_model.safetensors`` when the LLM is
                          PEFT-wrapped, loadable with ``PeftModel.from_pretrained`` alone
- ``export.json``        format, version, source experiment and checkpoint, tensor count

``svtk infer --exp-dir OUT`` and ``load_speechlm(OUT)`` load it back.

Usage::

    export_model(model, model_config_dict, "exp/mini/export", source="exp/mini", checkpoint=ckpt)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from svtk.decoding.loading import EXPORT_MARKER, MODEL_WEIGHTS

EXPORT_FORMAT = "svtk-export"
EXPORT_VERSION = 1


def export_model(model, model_config: dict[str, Any], out_dir: str | Path, *,
                 source: str | Path | None = None, checkpoint: str | Path | None = None) -> Path:
    from safetensors.torch import save_file

    from svtk.stage import atomic_path, atomic_write_json

    out_dir = Path(out_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in model.trainable_state_dict().items()}
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        save_file(state, str(tmp / MODEL_WEIGHTS), metadata={"format": EXPORT_FORMAT})
        (tmp / "config.yaml").write_text(yaml.safe_dump(model_config, sort_keys=False))
        hf = model.llm.model
        if getattr(hf, "peft_config", None):
            hf.save_pretrained(str(tmp / "adapter"))
        atomic_write_json(tmp / EXPORT_MARKER, {
            "format": EXPORT_FORMAT, "version": EXPORT_VERSION,
            "source": str(source) if source else None,
            "checkpoint": str(checkpoint) if checkpoint else None,
            "tensors": len(state), "adapter": bool(getattr(hf, "peft_config", None)),
        })
    return out_dir


def export_experiment(exp_dir: str | Path, out_dir: str | Path,
                      checkpoint: str | Path | None = None, phase: str | None = None) -> Path:
    """Load the model of an experiment dir (its last finished speechlm phase, or ``phase``) or
    of a phase dir, with its checkpoint, and export it."""
    from svtk.decoding.loading import load_speechlm, model_section, resolve_model_dir

    model_dir = resolve_model_dir(exp_dir, phase)
    model, ckpt = load_speechlm(exp_dir, checkpoint, phase=phase)
    return export_model(model, model_section(model_dir / "config.yaml"), out_dir,
                        source=model_dir, checkpoint=ckpt)
