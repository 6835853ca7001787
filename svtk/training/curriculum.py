"""Curriculum mechanics: which parameters a phase trains, and the weights it starts from.

A phase names parameter groups (``model.parameter_groups()``: encoder, layer_mix, downsampler,
lora, llm, ...); exactly those parameters get ``requires_grad=True``, all others are frozen. A
phase with ``init_from: <previous>`` loads ``exp/<tag>/<previous>/model.safetensors`` (the
previous phase's final weights) on top of the base model its config builds. A phase's own
final file holds every parameter it trained *or* inherited, so each phase's file alone, on top
of the base model, reproduces it (decode needs only the last phase).

Usage::

    names = apply_trainable(model, ["downsampler", "layer_mix"])
    inherited = init_from_phase(model, exp_dir / "phase1")
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from svtk.errors import UserError
from svtk.training.checkpoint import WEIGHTS, load_weights

log = logging.getLogger(__name__)


def param_names(model: Any) -> dict[int, str]:
    """id(parameter) -> its canonical qualified name (the first, for tied weights)."""
    return {id(p): n for n, p in model.named_parameters()}


def group_names(model: Any) -> dict[str, list[str]]:
    """Parameter group -> qualified parameter names."""
    names = param_names(model)
    out = {}
    for group, params in model.parameter_groups().items():
        missing = [p for p in params if id(p) not in names]
        if missing:
            raise TypeError(f"parameter_groups()['{group}'] holds parameters that are not "
                            f"attributes of the model ({len(missing)})")
        out[group] = [names[id(p)] for p in params]
    return out


def apply_trainable(model: Any, groups: list[str]) -> list[str]:
    """Make exactly the parameters of ``groups`` trainable; return their names (sorted)."""
    available = model.parameter_groups()
    unknown = [g for g in groups if g not in available]
    if unknown:
        raise UserError(f"trainable group(s) {', '.join(map(repr, unknown))} not in this model "
                        f"(groups: {', '.join(available) or 'none'})")
    for p in model.parameters():
        p.requires_grad_(False)
    chosen = set()
    for g in groups:
        if not available[g]:
            log.warning("parameter group %r is empty in this model", g)
        for p in available[g]:
            p.requires_grad_(True)
            chosen.add(id(p))
    names = param_names(model)
    trainable = sorted({names[i] for i in chosen})
    if not trainable:
        raise UserError(f"groups {groups} hold no parameters: nothing to train")
    return trainable


def phase_weights_path(phase_dir: str | Path) -> Path:
    return Path(phase_dir) / WEIGHTS


def init_from_phase(model: Any, prev_dir: str | Path) -> list[str]:
    """Load a finished phase's final weights into ``model``; return the names loaded."""
    path = phase_weights_path(prev_dir)
    if not path.is_file():
        raise UserError(f"phase {Path(prev_dir).name!r} has not finished ({path} is missing); "
                        f"run `svtk train --phase {Path(prev_dir).name}` first")
    weights = load_weights(path)
    own = dict(model.named_parameters())
    unexpected = sorted(set(weights) - set(own))
    if unexpected:
        raise UserError(f"{path} holds parameters this model does not have "
                        f"({', '.join(unexpected[:5])}{' ...' if len(unexpected) > 5 else ''}); "
                        f"was the model config changed between phases?")
    import torch

    with torch.no_grad():
        for name, value in weights.items():
            if own[name].shape != value.shape:
                raise UserError(f"{path}: {name} has shape {tuple(value.shape)}, the model "
                                f"expects {tuple(own[name].shape)}")
            own[name].copy_(value)
    log.info("initialised %d parameter tensors from %s", len(weights), path)
    return sorted(weights)


def count_params(model: Any) -> tuple[int, int]:
    """(total, trainable) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return total, sum(p.numel() for p in model.parameters() if p.requires_grad)
