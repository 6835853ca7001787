"""What the training loop trains: the :class:`TrainableModel` protocol and the objective registry.

The loop is model-agnostic. An *objective* is a name (``speechlm``, ``ctc``, ``text-lm``) bound
to a builder ``build(model_section: dict) -> TrainableModel``; a phase names its objective in the
config. Every model the loop trains offers

- ``collate(cuts) -> batch``: a batch object with ``.to(device)``, or a dict of tensors;
- ``forward(batch) -> output``: ``.loss`` (mean over target tokens), ``.loss_per_item`` (B,) (mean
  over each item's tokens, in the order of ``cuts``), ``.num_tokens`` (B,); a dict is fine too;
- ``parameter_groups() -> dict[str, list[Parameter]]`` (encoder, layer_mix, downsampler, lora,
  llm, ...): a phase makes the groups it names trainable and freezes everything else;
- ``state_dict`` / ``load_state_dict`` (any ``nn.Module``), optionally ``save_pretrained(dir)``
  (then the phase also writes a loadable model directory, e.g. a pre-trained encoder or LLM).

Usage::

    @register_objective("my-objective")
    def build_mine(section: dict) -> TrainableModel: ...

    model = build_model("speechlm", cfg.model_section("phase1"))
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from svtk.errors import UserError

_OBJECTIVES: dict[str, Callable[[dict[str, Any]], Any]] = {}
# Modules that register objectives when imported (tests add svtk.testing.training's toy).
_PROVIDERS = {
    "speechlm": "svtk.training.objectives",
    "ctc": "svtk.training.pretrain",
    "text-lm": "svtk.training.pretrain",
    "toy": "svtk.testing.training",
}


@runtime_checkable
class TrainableModel(Protocol):
    def collate(self, cuts: Any) -> Any: ...

    def forward(self, batch: Any) -> Any: ...

    def parameter_groups(self) -> dict[str, list]: ...

    def state_dict(self, *args: Any, **kwargs: Any) -> Mapping[str, Any]: ...


def register_objective(name: str) -> Callable:
    """Decorator: ``builder(model_section: dict) -> TrainableModel`` under ``name``."""

    def deco(fn: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
        _OBJECTIVES[name] = fn
        return fn

    return deco


def objective_names() -> list[str]:
    return sorted(set(_OBJECTIVES) | set(_PROVIDERS))


def build_model(objective: str, section: dict[str, Any]) -> Any:
    """Build the model a phase trains (its frozen base weights come from ``section`` alone)."""
    if objective not in _OBJECTIVES and objective in _PROVIDERS:
        import importlib

        importlib.import_module(_PROVIDERS[objective])
    if objective not in _OBJECTIVES:
        raise UserError(f"unknown training objective {objective!r} (known: {', '.join(objective_names())})")
    model = _OBJECTIVES[objective](dict(section))
    missing = [m for m in ("collate", "forward", "parameter_groups", "state_dict")
               if not callable(getattr(model, m, None))]
    if missing:
        raise TypeError(f"objective {objective!r} built a {type(model).__name__} without "
                        f"{', '.join(missing)} (see svtk.training.objectives.TrainableModel)")
    return model


def output_fields(out: Any) -> tuple[Any, Any]:
    """(loss_per_item (B,), num_tokens (B,)) from a model output object or dict."""
    if isinstance(out, Mapping):
        return out["loss_per_item"], out["num_tokens"]
    return out.loss_per_item, out.num_tokens


def batch_to(batch: Any, device: Any) -> Any:
    """Move a batch (object with ``.to``, dict, list or tensor) to ``device``."""
    import torch

    if isinstance(batch, torch.Tensor) or hasattr(batch, "to") and callable(batch.to):
        return batch.to(device)
    if isinstance(batch, Mapping):
        return type(batch)({k: batch_to(v, device) for k, v in batch.items()})
    if isinstance(batch, (list, tuple)):
        return type(batch)(batch_to(v, device) for v in batch)
    return batch


def batch_tasks(batch: Any, cuts: Any) -> list[str]:
    """The task of each item: the batch's own ``tasks`` if it has them, else the cuts' field."""
    tasks = batch.get("tasks") if isinstance(batch, Mapping) else getattr(batch, "tasks", None)
    if tasks is None:
        tasks = [getattr(c, "task", None) or (c.custom or {}).get("task", "?") for c in cuts]
    return list(tasks)


# --------------------------------------------------------------------------------------------
# The SpeechLM (svtk.models); ctc and text-lm live in svtk.training.pretrain
# --------------------------------------------------------------------------------------------


@register_objective("speechlm")
def build_speechlm(section: dict[str, Any]) -> Any:
    """The SpeechLM from the ``model`` section (``svtk.models.config.ModelConfig``)."""
    from svtk.config import from_dict

    try:
        from svtk.models.config import ModelConfig
        from svtk.models.speechlm import SpeechLM
    except ImportError as e:  # the model package is part of svtk; a partial checkout lacks it
        raise UserError(f"svtk.models is not available ({e}); cannot build the SpeechLM") from e
    return SpeechLM.from_config(from_dict(ModelConfig, section, source="model section"))
