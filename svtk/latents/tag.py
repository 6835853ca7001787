"""The encoder tag that keys the latent cache: model name, layer selection, dtype, weights hash.

``<kind>-<name>-<layer>-<dtype>-<hash8>``, e.g. ``native-encoder-last-fp16-3fa2c1d0``. The hash
covers the encoder config and a fingerprint of the encoder's own files (config and weights), so a
re-trained or changed encoder never reuses a stale cache.

Usage::

    tag = encoder_tag(model_cfg.encoder, "fp16")     # data/latents/<tag>/<split>.jsonl.gz
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from svtk.models.config import EncoderConfig

DTYPES = ("fp16", "fp32")
WEIGHT_SUFFIXES = (".json", ".safetensors", ".bin", ".pt")


def _layer_tag(layer: int | str) -> str:
    return f"l{layer}" if isinstance(layer, int) else str(layer)


def encoder_files_fingerprint(path: str | Path) -> dict:
    from svtk.stage import fingerprint

    p = Path(path)
    if not p.is_dir():
        return {"hub_id": str(path)}
    return {f.name: fingerprint(f) for f in sorted(p.iterdir())
            if f.is_file() and f.suffix in WEIGHT_SUFFIXES}


def encoder_tag(cfg: EncoderConfig, dtype: str = "fp16") -> str:
    if dtype not in DTYPES:
        raise ValueError(f"latent dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    from svtk.config import to_dict

    ident = {"config": to_dict(cfg), "dtype": dtype}
    ident["config"].pop("name_or_path", None)  # the same weights moved elsewhere keep their tag
    if cfg.name_or_path is not None:
        ident["files"] = encoder_files_fingerprint(cfg.name_or_path)
        name = Path(cfg.name_or_path.rstrip("/")).name
    else:
        name = "random"
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:8]
    name = re.sub(r"[^A-Za-z0-9._]+", "_", name) or "encoder"
    return f"{cfg.kind}-{name}-{_layer_tag(cfg.layer)}-{dtype}-{digest}"
