"""Parameter summary of a model config: total and trainable parameters per component.

Built on the meta device from configs alone by default (no weights, no memory), so the paper's
WavLM-Large + Flan-T5-XL preset is summarised on any laptop.

Usage::

    svtk model summary --config conf/model/speechverse_paper.yaml
"""

from __future__ import annotations

from dataclasses import dataclass

from svtk.models.config import ModelConfig


@dataclass
class ComponentCount:
    name: str
    total: int
    trainable: int


def count_parameters(model) -> list[ComponentCount]:
    """Per parameter group of a SpeechLM (shared parameters counted once)."""
    rows, seen = [], set()
    for name, params in model.parameter_groups().items():
        uniq = [p for p in params if id(p) not in seen]
        seen.update(id(p) for p in uniq)
        rows.append(ComponentCount(name, sum(p.numel() for p in uniq),
                                   sum(p.numel() for p in uniq if p.requires_grad)))
    return rows


def summarize(cfg: ModelConfig, meta: bool = True) -> list[ComponentCount]:
    from svtk.models.speechlm import SpeechLM

    model = SpeechLM.from_config(cfg, meta=meta)
    rows = count_parameters(model)
    rows.append(ComponentCount("total", sum(r.total for r in rows), sum(r.trainable for r in rows)))
    return rows


def _m(n: int) -> str:
    return f"{n / 1e6:,.2f}M" if n < 1e9 else f"{n / 1e9:,.3f}B"


def print_summary(cfg: ModelConfig, meta: bool = True) -> list[ComponentCount]:
    from rich.console import Console
    from rich.table import Table

    rows = summarize(cfg, meta)
    enc = cfg.encoder.name_or_path or f"{cfg.encoder.kind} (inline config)"
    llm = cfg.llm.name_or_path or f"{cfg.llm.config.get('model_type')} (inline config)"
    table = Table(title=f"SpeechLM: {enc} + {llm} ({cfg.llm.kind}), layer={cfg.encoder.layer}, "
                        f"LoRA r={cfg.lora.r if cfg.lora.enabled else 'off'}")
    for col in ("component", "total", "trainable", "total (exact)", "trainable (exact)"):
        table.add_column(col, justify="left" if col == "component" else "right")
    for r in rows:
        style = "bold" if r.name == "total" else None
        table.add_row(r.name, _m(r.total), _m(r.trainable), f"{r.total:,}", f"{r.trainable:,}",
                      style=style)
    console = Console(width=120)
    console.print(table)
    tot = rows[-1]
    console.print(f"trainable {tot.trainable / 1e6:.1f}M of {_m(tot.total)} "
                  f"({100 * tot.trainable / max(tot.total, 1):.2f}%)")
    return rows
