"""Typed configs: YAML files validated into dataclasses, with ``base:`` inheritance and overrides.

A config file is YAML whose keys mirror a dataclass tree. ``base:`` (a path, or a list of paths,
relative to the file that names it) pulls in other files first; the file's own keys are merged
over them (mappings merge key by key, everything else is replaced). ``--set a.b=value`` overrides
are applied last; each value is parsed as YAML (``--set train.lr=1e-3``, ``--set tasks=[asr,ic]``).

Every leaf remembers where it came from, so an error names the key and the file that set it::

    conf/train.yaml: unknown key 'optim.lrr' (known: lr, betas, weight_decay)
    conf/base.yaml: 'optim.lr' expects float, got 'fast' (str)

Usage::

    cfg = load_config(TrainConfig, "egs/mini/conf/train.yaml", overrides=["optim.lr=1e-3"])
    save_config(cfg, exp_dir / "config.yaml")
    cfg2 = load_config(TrainConfig, exp_dir / "config.yaml")   # round-trips
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

from svtk.errors import UserError

T = TypeVar("T")

BASE_KEY = "base"
OVERRIDE_SOURCE = "--set"


class ConfigError(UserError, ValueError):
    """A config could not be read or does not match its schema. The message names key and file."""


# --------------------------------------------------------------------------------------------
# Reading YAML with inheritance and provenance
# --------------------------------------------------------------------------------------------


def _read_yaml(path: Path, named_by: Path | None) -> dict[str, Any]:
    if not path.is_file():
        via = f" (named as base: in {named_by})" if named_by else ""
        raise ConfigError(f"config file not found: {path}{via}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def _mark(data: Any, source: str, prefix: str, prov: dict[str, str]) -> None:
    """Record ``source`` as the origin of every key under ``prefix`` in ``data``."""
    if prefix:
        prov[prefix] = source
    if isinstance(data, dict):
        for k, v in data.items():
            _mark(v, source, f"{prefix}.{k}" if prefix else str(k), prov)


def _merge(base: dict, over: dict, bprov: dict[str, str], oprov: dict[str, str], prefix=""):
    """Deep-merge ``over`` into a copy of ``base``; provenance of replaced subtrees follows."""
    out = dict(base)
    for k, v in over.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v, bprov, oprov, key)
            bprov[key] = oprov.get(key, bprov.get(key, ""))
        else:
            for p in [p for p in bprov if p == key or p.startswith(key + ".")]:
                del bprov[p]
            for p, s in oprov.items():
                if p == key or p.startswith(key + "."):
                    bprov[p] = s
            out[k] = v
    return out


def read_config_tree(path: str | Path, _seen: tuple[Path, ...] = (), _named_by: Path | None = None
                     ) -> tuple[dict[str, Any], dict[str, str]]:
    """Read ``path`` and its ``base:`` chain; return (merged mapping, key -> source file)."""
    path = Path(path)
    resolved = path.resolve()
    if resolved in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, resolved))
        raise ConfigError(f"{path}: circular base: chain: {chain}")
    data = _read_yaml(path, _named_by)
    bases = data.pop(BASE_KEY, None)
    if bases is None:
        bases = []
    elif isinstance(bases, str):
        bases = [bases]
    elif not (isinstance(bases, list) and all(isinstance(b, str) for b in bases)):
        raise ConfigError(f"{path}: '{BASE_KEY}' must be a path or a list of paths")
    merged: dict[str, Any] = {}
    prov: dict[str, str] = {}
    for b in bases:
        bpath = (path.parent / b) if not Path(b).is_absolute() else Path(b)
        bdata, bprov = read_config_tree(bpath, (*_seen, resolved), path)
        merged = _merge(merged, bdata, prov, bprov)
    own_prov: dict[str, str] = {}
    _mark(data, str(path), "", own_prov)
    merged = _merge(merged, data, prov, own_prov)
    return merged, prov


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=1e-3"`` -> (["a", "b"], 0.001). The value is parsed as YAML."""
    if "=" not in text:
        raise ConfigError(f"{OVERRIDE_SOURCE} {text!r}: expected KEY=VALUE, e.g. train.lr=1e-3")
    key, _, raw = text.partition("=")
    parts = [p for p in key.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"{OVERRIDE_SOURCE} {text!r}: empty key component")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"{OVERRIDE_SOURCE} {text!r}: value is not valid YAML: {e}") from e
    return parts, value


def apply_overrides(data: dict, prov: dict[str, str], overrides: Sequence[str]) -> dict:
    for text in overrides:
        parts, value = parse_override(text)
        node = data
        for i, p in enumerate(parts[:-1]):
            nxt = node.get(p)
            if nxt is None:
                nxt = node[p] = {}
            elif not isinstance(nxt, dict):
                where = ".".join(parts[: i + 1])
                raise ConfigError(f"{OVERRIDE_SOURCE} {text!r}: '{where}' is not a section")
            node = nxt
        node[parts[-1]] = value
        key = ".".join(parts)
        for p in [p for p in prov if p.startswith(key + ".")]:
            del prov[p]
        _mark(value, f"{OVERRIDE_SOURCE} {text}", key, prov)
    return data


# --------------------------------------------------------------------------------------------
# Validation into dataclasses
# --------------------------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


class _Checker:
    def __init__(self, prov: Mapping[str, str], default_source: str):
        self.prov = prov
        self.default_source = default_source

    def where(self, key: str) -> str:
        k = key
        while k:
            if k in self.prov:
                return self.prov[k]
            k = k.rpartition(".")[0]
        return self.default_source

    def fail(self, key: str, msg: str) -> typing.NoReturn:
        raise ConfigError(f"{self.where(key)}: {msg}")

    def build(self, cls: type, data: Any, key: str) -> Any:
        if not isinstance(data, Mapping):
            self.fail(key, f"'{key}' must be a mapping for {cls.__name__}, got {data!r}")
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        unknown = [k for k in data if k not in fields]
        if unknown:
            sub = f"{key}.{unknown[0]}" if key else str(unknown[0])
            self.fail(sub, f"unknown key '{sub}' (known: {', '.join(fields) or 'none'})")
        kwargs = {}
        for name, f in fields.items():
            sub = f"{key}.{name}" if key else name
            if name in data:
                kwargs[name] = self.value(hints[name], data[name], sub)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                self.fail(sub, f"missing required key '{sub}' ({_type_name(hints[name])})")
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as e:  # __post_init__ checks
            self.fail(key, f"invalid '{key or cls.__name__}': {e}")

    def value(self, tp: Any, v: Any, key: str) -> Any:
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if tp is Any:
            return v
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            return self.build(tp, {} if v is None else v, key)
        if origin in (Union, types.UnionType):
            if v is None and type(None) in args:
                return None
            non_null = [a for a in args if a is not type(None)]
            if len(non_null) == 1:  # Optional[X]: X's own error is the informative one
                return self.value(non_null[0], v, key)
            errors = []
            for a in args:
                if a is type(None):
                    continue
                try:
                    return self.value(a, v, key)
                except ConfigError as e:
                    errors.append(str(e))
            self.fail(key, f"'{key}' expects {_type_name(tp)}, got {v!r} ({type(v).__name__})")
        if origin is typing.Literal:
            if v in args:
                return v
            choices = ", ".join(repr(a) for a in args)
            self.fail(key, f"'{key}' must be one of {choices}, got {v!r}")
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            try:
                return tp(v)
            except ValueError:
                choices = ", ".join(repr(m.value) for m in tp)
                self.fail(key, f"'{key}' must be one of {choices}, got {v!r}")
        if origin in (list, Sequence, tuple) or tp in (list, tuple):
            if not isinstance(v, (list, tuple)):
                self.fail(key, f"'{key}' expects a list, got {v!r} ({type(v).__name__})")
            if origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis):
                if len(args) != len(v):
                    self.fail(key, f"'{key}' expects {len(args)} items, got {len(v)}")
                return tuple(self.value(a, x, f"{key}[{i}]") for i, (a, x) in enumerate(zip(args, v, strict=True)))
            item = args[0] if args else Any
            out = [self.value(item, x, f"{key}[{i}]") for i, x in enumerate(v)]
            return tuple(out) if origin is tuple or tp is tuple else out
        if origin in (dict, Mapping) or tp is dict:
            if not isinstance(v, Mapping):
                self.fail(key, f"'{key}' expects a mapping, got {v!r} ({type(v).__name__})")
            kt, vt = args if args else (Any, Any)
            return {self.value(kt, k, key): self.value(vt, x, f"{key}.{k}") for k, x in v.items()}
        if tp is bool:
            if isinstance(v, bool):
                return v
        elif tp is int:
            if isinstance(v, int) and not isinstance(v, bool):
                return v
        elif tp is float:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return float(v)
            if isinstance(v, str):  # YAML 1.1 reads "1e-3" as a string
                try:
                    return float(v)
                except ValueError:
                    pass
        elif tp is str:
            if isinstance(v, str):
                return v
        elif tp is Path:
            if isinstance(v, (str, Path)):
                return Path(v)
        else:
            raise TypeError(f"svtk.config cannot validate fields of type {tp!r} ('{key}')")
        self.fail(key, f"'{key}' expects {_type_name(tp)}, got {v!r} ({type(v).__name__})")


def from_dict(cls: type[T], data: Mapping[str, Any], prov: Mapping[str, str] | None = None,
              source: str = "<dict>") -> T:
    """Validate a plain mapping into ``cls``; errors name the key and its source."""
    return _Checker(prov or {}, source).build(cls, data, "")


def load_config(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Read ``path`` (with its ``base:`` chain), apply ``overrides``, validate into ``cls``.

    With ``path=None`` the dataclass defaults are the starting point.
    """
    if path is None:
        data, prov = {}, {}
    else:
        data, prov = read_config_tree(path)
    data = apply_overrides(data, prov, overrides)
    return from_dict(cls, data, prov, str(path) if path else "<defaults>")


# --------------------------------------------------------------------------------------------
# Writing and hashing
# --------------------------------------------------------------------------------------------


def to_dict(cfg: Any) -> Any:
    """A dataclass tree as plain YAML/JSON-able data (Paths as strings, enums as values)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg) if f.init}
    if isinstance(cfg, Mapping):
        return {str(k): to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, Path):
        return str(cfg)
    if isinstance(cfg, enum.Enum):
        return cfg.value
    return cfg


def dump_yaml(cfg: Any) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=None, width=100)


def save_config(cfg: Any, path: str | Path) -> None:
    """Write the resolved config atomically; ``load_config`` reads it back unchanged."""
    from svtk.stage import atomic_write_text

    atomic_write_text(path, dump_yaml(cfg))


def config_hash(cfg: Any) -> str:
    """A stable hash of the resolved config (key order and formatting do not matter)."""
    blob = json.dumps(to_dict(cfg), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; used to say which values changed."""
    if isinstance(data, Mapping) and data:
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix: data}
