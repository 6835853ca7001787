"""SLURP-compatible evaluation: SLURP-format predictions against SLURP gold jsonl.

Gold (``test.jsonl`` of the SLURP release): one JSON per utterance with ``scenario``, ``action``,
``tokens`` (``surface``), ``entities`` (``type`` and ``span``, token indices) and ``recordings``
(``file`` names). As SLURP's evaluation does, a gold entity's filler is its tokens' surfaces,
lower-cased, joined by one space, and the gold is keyed by every recording ``file`` (or by
``slurp_id`` with ``key="slurp_id"``, for predictions made from gold transcripts).

Predictions: one JSON per line ``{"file": ..., "scenario": ..., "action": ...,
"entities": [{"type": ..., "filler": ...}, ...]}`` (``slurp_id`` instead of ``file`` with
``key="slurp_id"``). Entities lacking ``type`` or ``filler`` are ignored, as SLURP ignores them;
fillers are compared as given (SLURP does not normalise them).

Only gold items that have a prediction are scored, as in SLURP's ``evaluate.py``; the gold items
without one and the predictions without gold are counted and listed, never dropped silently.
Scenario, action and intent (``scenario_action``) are reported as accuracy, which equals SLURP's
micro-averaged F1 for single-label outputs; entities as span F1, word- and char-distance F1 and
SLU-F1 (see :mod:`svtk.scoring.slu`).

Usage::

    res = evaluate_slurp("slurp/test.jsonl", "predictions.jsonl")
    print(format_slurp(res))
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from svtk.errors import UserError
from svtk.scoring.slu import Counts, EntityScorer


def _read_jsonl(path: str | Path) -> Iterator[tuple[int, dict]]:
    import gzip

    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError as e:
                    raise UserError(f"{path}:{n}: not valid JSON: {e}") from e


def gold_to_prediction(item: dict) -> dict:
    """A SLURP release item in prediction form (scenario, action, entities with fillers)."""
    toks = item["tokens"]
    return {
        "scenario": item["scenario"],
        "action": item["action"],
        "entities": [
            {"type": e["type"], "filler": " ".join(toks[i]["surface"].lower() for i in e["span"])}
            for e in item.get("entities", [])
        ],
        "text": " ".join(t["surface"] for t in toks),
    }


def load_gold(path: str | Path, key: str = "file") -> dict[str, dict]:
    """Gold keyed by recording file name (``key="file"``) or by ``slurp_id``."""
    if key not in ("file", "slurp_id"):
        raise ValueError(f"key must be 'file' or 'slurp_id', got {key!r}")
    out: dict[str, dict] = {}
    for n, item in _read_jsonl(path):
        try:
            pred = gold_to_prediction(item)
        except (KeyError, IndexError, TypeError) as e:
            raise UserError(f"{path}:{n}: not a SLURP gold item ({e!r})") from e
        if key == "slurp_id":
            out[str(item["slurp_id"])] = pred
        else:
            for rec in item.get("recordings", []):
                out[rec["file"]] = pred
    return out


def load_predictions(path: str | Path, key: str = "file") -> tuple[dict[str, dict], int]:
    """Predictions keyed by ``file`` (or ``slurp_id``); also the number of duplicate keys."""
    out: dict[str, dict] = {}
    dups = 0
    for n, item in _read_jsonl(path):
        if key not in item:
            raise UserError(f"{path}:{n}: prediction has no {key!r} field")
        k = str(item[key])
        dups += k in out
        out[k] = item
    return out, dups


def _entities(item: dict) -> list[tuple[str, str]]:
    ents = item.get("entities") or []
    return [(str(e["type"]), str(e["filler"])) for e in ents
            if isinstance(e, dict) and "type" in e and "filler" in e]


def evaluate_slurp_items(gold: dict[str, dict], preds: dict[str, dict],
                         average: str = "micro") -> dict:
    """Score already loaded gold and predictions (see the module docstring)."""
    scen, act, intent = Counts(), Counts(), Counts()
    ents = EntityScorer()
    scored = 0
    for k, g in gold.items():
        p = preds.get(k)
        if p is None:
            continue
        scored += 1
        for counts, gl, pl in (
            (scen, g["scenario"], str(p.get("scenario", ""))),
            (act, g["action"], str(p.get("action", ""))),
            (intent, f"{g['scenario']}_{g['action']}",
             f"{p.get('scenario', '')}_{p.get('action', '')}"),
        ):
            if gl == pl:
                counts.tp[pl] += 1
            else:
                counts.fp[pl] += 1
                counts.fn[gl] += 1
        ents(_entities(g), _entities(p))
    missing = sorted(k for k in gold if k not in preds)
    extra = sorted(k for k in preds if k not in gold)
    res = {
        "scenario": scen.result(average),
        "action": act.result(average),
        "intent": intent.result(average),
        **{k: v for k, v in ents.result(average).items() if k != "sd_f1"},
        "counts": {"gold": len(gold), "predictions": len(preds), "scored": scored,
                   "gold_not_predicted": len(missing), "predictions_not_in_gold": len(extra)},
        "gold_not_predicted": missing,
        "predictions_not_in_gold": extra,
        "average": average,
    }
    for name in ("scenario", "action", "intent"):
        res[name]["accuracy"] = 100.0 * res[name]["tp"] / scored if scored else 0.0
    return res


def evaluate_slurp(gold_path: str | Path, pred_path: str | Path, key: str = "file",
                   average: str = "micro") -> dict:
    """Load SLURP gold and predictions and score them as SLURP's ``evaluate.py`` does."""
    gold = load_gold(gold_path, key)
    preds, dups = load_predictions(pred_path, key)
    res = evaluate_slurp_items(gold, preds, average)
    res["counts"]["duplicate_predictions"] = dups
    res["gold_path"], res["pred_path"] = str(gold_path), str(pred_path)
    return res


ROWS = (("scenario", "scenario"), ("action", "action"), ("intent", "intent (scen_act)"),
        ("span_f1", "entities"), ("word_f1", "entities (word distance)"),
        ("char_f1", "entities (char distance)"), ("slu_f1", "SLU-F1"))


def format_slurp(res: dict) -> str:
    """A plain-text table: accuracy for scenario/action/intent, P/R/F1 for entities."""
    c = res["counts"]
    lines = [f"SLURP evaluation ({res['average']} average): {c['scored']} of {c['gold']} gold "
             f"recordings scored; {c['gold_not_predicted']} gold not predicted, "
             f"{c['predictions_not_in_gold']} predictions not in gold",
             f"{'metric':<26} {'acc':>7} {'P':>7} {'R':>7} {'F1':>7} {'TP':>9} {'FP':>9} {'FN':>9}"]
    for key, name in ROWS:
        r = res[key]
        acc = f"{r['accuracy']:7.2f}" if "accuracy" in r else f"{'':>7}"
        lines.append(f"{name:<26} {acc} {r['precision']:7.2f} {r['recall']:7.2f} {r['f1']:7.2f} "
                     f"{r['tp']:9.1f} {r['fp']:9.1f} {r['fn']:9.1f}")
    return "\n".join(lines)
