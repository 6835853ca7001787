"""Score a decode directory: ``hyps.jsonl`` -> ``scores.json``, ``scores.txt`` and per-task details.

Each record's task picks its metric (the task registry's, :func:`svtk.tasks.metric_for`, or the record's
own ``"metric"``), and the metric's scorer in :data:`SCORERS` does the work. Headline scores are in
percent. Files written into the decode directory ``DIR``:

- ``scores.json``  per task: metric, headline ``score``, ``higher_is_better``, the metric's
  details (WER counts, BLEU signature, accuracy and UAR, P/R/F1 ...), bad-input counts, the
  score's 95 % bootstrap interval ``ci95`` and the per-utterance statistics behind it
  (``items``, :mod:`svtk.scoring.bootstrap`); plus the
  options, ``decode_info.json`` when the decoder left one, and the input issues.
- ``scores.txt``   one human line per task (``%WER 12.34 [ 12 / 100, 3 ins, 4 del, 5 sub ]``).
- ``wer_<task>.txt``        Kaldi-style per-utterance alignments (ASR; and ``wer_<task>_joint.txt``
  for the transcript part of joint decoding, for any task).
- ``bleu_<task>.txt``       sacrebleu's score line and signature, and chrF.
- ``confusion_<task>.json`` / ``.tsv``  confusion matrix of a closed-set task.
- ``details_<task>.jsonl``  per-utterance parsed answers and counts (KWE, SF).

Usage::

    scores = score_dir("exp/mini/decode/greedy/test", ScoreConfig(), ref_cuts="data/tasks/test.jsonl.gz")
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from svtk.errors import UserError
from svtk.scoring.bootstrap import ItemStats, closed_set_rows
from svtk.scoring.hyps import Issues, read_hyps, read_id_list, read_ref_cuts
from svtk.scoring.normalize import get_normalizer
from svtk.tasks import metric_for, parse_keywords, parse_slots_counting, task_order

log = logging.getLogger(__name__)

SCORES_JSON = "scores.json"
DECODE_INFO = "decode_info.json"


@dataclass
class ScoreConfig:
    normalizer: str = "english"  # text normaliser for WER, KWE keywords and SF values ("none": as is)
    mode: Literal["all", "present", "strict"] = "all"  # missing hyps: score as empty / skip / refuse
    bleu_tokenize: str | None = None  # sacrebleu tokenizer; None: its default for the target language
    average: Literal["micro", "macro"] = "micro"  # SLU-F1 / KWE averaging over slot types


@dataclass
class TaskOutput:
    summary: dict
    line: str  # one human-readable line for scores.txt
    files: dict[str, str] = field(default_factory=dict)  # file name -> text
    items: ItemStats | None = None  # per-utterance statistics of the headline score


Scorer = Callable[[str, list[dict], ScoreConfig], TaskOutput]
SCORERS: dict[str, Scorer] = {}


def register_scorer(*metrics: str) -> Callable[[Scorer], Scorer]:
    def deco(fn: Scorer) -> Scorer:
        for m in metrics:
            SCORERS[m] = fn
        return fn
    return deco


def _empty_hyps(records: list[dict]) -> int:
    return sum(1 for r in records if not str(r.get("hyp") or "").strip())


@register_scorer("wer")
def score_wer(task: str, records: list[dict], cfg: ScoreConfig) -> TaskOutput:
    from svtk.scoring.wer import compute_error_rate, format_wer_details

    norm = get_normalizer(cfg.normalizer)
    ids = [r["id"] for r in records]
    refs, hyps = [r["ref"] for r in records], [r["hyp"] for r in records]
    wer = compute_error_rate(refs, hyps, ids, "word", norm)
    cer = compute_error_rate(refs, hyps, ids, "char", norm)
    summary = {"score": wer.stats.rate, "wer": wer.stats.as_dict(), "cer": cer.stats.as_dict(),
               "summary": wer.summary(), "cer_summary": cer.summary()}
    items = ItemStats("wer", ids, [[a.stats.errors, a.stats.ref_len] for a in wer.alignments])
    return TaskOutput(summary, f"{wer.summary()}  {cer.summary()}",
                      {f"wer_{task}.txt": format_wer_details(wer, f"{task}: normaliser "
                                                                  f"{cfg.normalizer}")}, items)


@register_scorer("bleu")
def score_bleu(task: str, records: list[dict], cfg: ScoreConfig) -> TaskOutput:
    from svtk.scoring.bleu import corpus_bleu_chrf, sentence_stats

    langs = {r.get("tgt_lang") or r.get("lang") for r in records} - {None}
    lang = langs.pop() if len(langs) == 1 else None
    hyps, refs = [r["hyp"] for r in records], [r["ref"] for r in records]
    res = corpus_bleu_chrf(hyps, refs, tokenize=cfg.bleu_tokenize, target_lang=lang)
    items = ItemStats("bleu", [r["id"] for r in records],
                      sentence_stats(hyps, refs, tokenize=cfg.bleu_tokenize, target_lang=lang))
    line = f"{res['bleu_detail']}  {res['bleu_signature']}  chrF2 = {res['chrf']:.2f}"
    text = (f"{res['bleu_detail']}\nsignature: {res['bleu_signature']}\n"
            f"chrF2 = {res['chrf']:.2f}\nsignature: {res['chrf_signature']}\n")
    return TaskOutput({"score": res["bleu"], **res}, line, {f"bleu_{task}.txt": text}, items)


def _labels_of(records: list[dict]) -> list[str] | None:
    labels: list[str] = []
    for r in records:
        labels += [str(x) for x in (r.get("labels") or [])]
    return list(dict.fromkeys(labels)) or None


@register_scorer("accuracy", "uar")
def score_closed_set(task: str, records: list[dict], cfg: ScoreConfig) -> TaskOutput:
    from svtk.scoring.classification import confusion_tsv, score_classification

    res = score_classification([r["ref"] for r in records], [r["hyp"] for r in records],
                               _labels_of(records))
    d = res.as_dict()
    metric = records[0]["_metric"]
    d["score"] = res.accuracy if metric == "accuracy" else res.uar
    c = d["counts"]
    line = (f"accuracy {res.accuracy:.2f}  UAR {res.uar:.2f}  macro-F1 {res.macro_f1:.2f}  "
            f"[ {res.correct} / {res.n} correct, {c['out_of_set_hyps']} out of set, "
            f"{c['empty_hyps']} empty ]")
    errors = [{"id": r["id"], "ref": r["ref"], "hyp": r["hyp"]} for r in records
              if r["hyp"].strip() != r["ref"].strip()]
    classes = res.classes()
    items = ItemStats(metric, [r["id"] for r in records], closed_set_rows(classes, res.pairs),
                      {"classes": classes, "labels": len(res.labels)})
    return TaskOutput(d, line, {
        f"confusion_{task}.json": json.dumps({**d["confusion"], "errors": errors}, indent=1) + "\n",
        f"confusion_{task}.tsv": confusion_tsv(res),
    }, items)


@register_scorer("f1")
def score_keywords(task: str, records: list[dict], cfg: ScoreConfig) -> TaskOutput:
    norm = get_normalizer(cfg.normalizer)
    tp = n_hyp = n_ref = 0
    utt_f1 = []
    rows = []
    for r in records:
        ref = list(dict.fromkeys(k for k in (norm(x) for x in parse_keywords(r["ref"])) if k))
        hyp = list(dict.fromkeys(k for k in (norm(x) for x in parse_keywords(r["hyp"])) if k))
        hit = len(set(ref) & set(hyp))
        tp, n_hyp, n_ref = tp + hit, n_hyp + len(hyp), n_ref + len(ref)
        f = 1.0 if not ref and not hyp else 2 * hit / (len(ref) + len(hyp))
        utt_f1.append(f)
        rows.append({"id": r["id"], "ref": ref, "hyp": hyp, "tp": hit, "f1": f})
    p = 100.0 * tp / n_hyp if n_hyp else 0.0
    rec = 100.0 * tp / n_ref if n_ref else 0.0
    f1 = 2 * p * rec / (p + rec) if p + rec else 0.0
    summary = {"score": f1, "precision": p, "recall": rec, "f1": f1, "tp": tp, "hyp_keywords": n_hyp,
               "ref_keywords": n_ref,
               "utterance_f1": 100.0 * sum(utt_f1) / len(utt_f1) if utt_f1 else 0.0}
    line = f"F1 {f1:.2f}  P {p:.2f}  R {rec:.2f}  [ {tp} hits, {n_hyp} hyp / {n_ref} ref keywords ]"
    items = ItemStats("f1", [x["id"] for x in rows],
                      [[x["tp"], len(x["hyp"]), len(x["ref"])] for x in rows])
    return TaskOutput(summary, line, {f"details_{task}.jsonl": "".join(
        json.dumps(x) + "\n" for x in rows)}, items)


@register_scorer("slu_f1")
def score_slots(task: str, records: list[dict], cfg: ScoreConfig) -> TaskOutput:
    from svtk.scoring.slu import EntityScorer

    norm = get_normalizer(cfg.normalizer)
    scorer = EntityScorer()
    malformed = 0
    rows = []
    counts = []  # per utterance: SLU-F1's TP, FP, FN (word and char distance counts summed)
    for r in records:
        gold, _ = parse_slots_counting(r["ref"])
        pred, bad = parse_slots_counting(r["hyp"])
        malformed += bad
        gold = [(t, norm(v)) for t, v in gold]
        pred = [(t, norm(v)) for t, v in pred]
        one = EntityScorer()  # this utterance's counts, then added to the totals
        one(gold, pred)
        scorer.add(one)
        slu = one.result("micro")["slu_f1"]
        counts.append([slu["tp"], slu["fp"], slu["fn"]])
        rows.append({"id": r["id"], "ref": gold, "hyp": pred, "malformed": bad})
    res = scorer.result(cfg.average)
    summary = {"score": res["slu_f1"]["f1"], "malformed_slots": malformed}
    for k, v in res.items():
        summary[k] = {kk: vv for kk, vv in v.items() if kk != "per_label"}
    summary["per_slot_type_slu_f1"] = {k: v["f1"] for k, v in res["slu_f1"]["per_label"].items()}
    line = (f"SLU-F1 {res['slu_f1']['f1']:.2f}  SD-F1 {res['sd_f1']['f1']:.2f}  "
            f"span-F1 {res['span_f1']['f1']:.2f}  word-F1 {res['word_f1']['f1']:.2f}  "
            f"char-F1 {res['char_f1']['f1']:.2f}  [ {malformed} malformed slots ]")
    # a macro average over slot types is not a sum over utterances: no interval for it
    items = (ItemStats("slu_f1", [x["id"] for x in rows], counts)
             if cfg.average == "micro" else None)
    return TaskOutput(summary, line, {f"details_{task}.jsonl": "".join(
        json.dumps(x) + "\n" for x in rows)}, items)


HIGHER_IS_BETTER = {"wer": False, "bleu": True, "accuracy": True, "uar": True, "f1": True,
                    "slu_f1": True}


def score_records(records: list[dict], cfg: ScoreConfig, issues: Issues | None = None
                  ) -> tuple[dict, dict[str, str], list[str]]:
    """Score records of any tasks: (per-task summaries, detail files, scores.txt lines)."""
    from svtk.scoring.wer import compute_error_rate, format_wer_details

    issues = issues or Issues()
    by_task: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        metric = metric_for(str(r["task"]), r.get("metric"))
        if metric not in SCORERS:
            issues.note("unknown_task", r["id"])
            continue
        r["_metric"] = metric
        for key in ("hyp", "ref"):
            r[key] = str(r.get(key) or "")
        by_task[str(r["task"])].append(r)
    tasks: dict[str, dict] = {}
    files: dict[str, str] = {}
    lines: list[str] = []
    for task in sorted(by_task, key=task_order):
        recs = by_task[task]
        metrics = Counter(r["_metric"] for r in recs)
        if len(metrics) > 1:
            raise UserError(f"task {task!r} has records naming different metrics: {dict(metrics)}")
        metric = recs[0]["_metric"]
        out = SCORERS[metric](task, recs, cfg)
        summary = {"metric": metric, "higher_is_better": HIGHER_IS_BETTER.get(metric, True),
                   **out.summary}
        summary["counts"] = {
            **summary.get("counts", {}),
            "utterances": len(recs),
            "empty_hyps": _empty_hyps(recs),
            "missing_scored_as_empty": sum(1 for r in recs if r.get("_missing")),
        }
        if out.items is not None and out.items.ids:
            lo, hi = out.items.ci()
            summary["ci95"] = [lo, hi]
            summary["items"] = out.items.to_json()
            out.line += f"  95% CI [{lo:.2f}, {hi:.2f}]"
        joint = [r for r in recs if r.get("joint")]
        if joint:
            norm = get_normalizer(cfg.normalizer)
            jw = compute_error_rate([str(r.get("ref_asr") or "") for r in joint],
                                    [str(r.get("hyp_asr") or "") for r in joint],
                                    [r["id"] for r in joint], "word", norm)
            summary["joint_asr"] = {**jw.stats.as_dict(), "summary": jw.summary()}
            files[f"wer_{task}_joint.txt"] = format_wer_details(jw, f"{task}: transcript part "
                                                                    "of joint decoding")
            out.line += f"  | joint transcript {jw.summary()}"
        tasks[task] = summary
        files.update(out.files)
        lines.append(f"{task:<8} {metric:<9} {out.line}")
    return tasks, files, lines


def read_decode_info(decode_dir: str | Path) -> dict | None:
    """``decode_info.json`` beside the hyps, or one level up (shared by all splits of a tag)."""
    d = Path(decode_dir)
    for p in (d / DECODE_INFO, d.parent / DECODE_INFO):
        if p.is_file():
            try:
                return json.loads(p.read_text())
            except json.JSONDecodeError as e:
                raise UserError(f"{p}: not valid JSON ({e})") from e
    return None


def score_dir(
    decode_dir: str | Path,
    cfg: ScoreConfig | None = None,
    ref_cuts: str | Path | None = None,
    ids: str | Path | None = None,
    force: bool = False,
) -> dict:
    """Score ``decode_dir/hyps.jsonl`` and write ``scores.json`` and the details beside it."""
    from svtk.stage import Stage, atomic_write_json, atomic_write_text

    cfg = cfg or ScoreConfig()
    get_normalizer(cfg.normalizer)  # fail early on a bad name
    d = Path(decode_dir)
    hyps_path = d / "hyps.jsonl"
    inputs = [hyps_path] + [Path(p) for p in (ref_cuts, ids) if p]
    stage = Stage("score", d, config=cfg, inputs=inputs, force=force)
    if stage.is_done():
        return json.loads((d / SCORES_JSON).read_text())
    records, issues = read_hyps(hyps_path)
    have = {r["id"] for r in records}
    expected: list[str] | None = None
    refs: dict[str, dict] = {}
    decode_info = read_decode_info(d)
    if ref_cuts:
        refs = read_ref_cuts(ref_cuts)
        decoded = (decode_info or {}).get("tasks")
        if decoded:  # the decode ran only these tasks (svtk decode --tasks): the rest is not missing
            wanted = {str(t).lower() for t in decoded}
            refs = {k: v for k, v in refs.items() if v["task"] in wanted}
        expected = list(refs)
    if ids:
        expected = read_id_list(ids)
    missing: list[str] = []
    if expected is not None:
        missing = [i for i in expected if i not in have]
        exp_set = set(expected)
        for r in records:
            if r["id"] not in exp_set:
                issues.note("not_in_reference_set", r["id"])
        for uid in missing:
            issues.note("missing_ids", uid)
        if missing and cfg.mode == "strict":
            raise UserError(f"{len(missing)} of {len(expected)} utterances have no hypothesis in "
                            f"{hyps_path} (first: {missing[0]}); --mode strict refuses to score")
        if missing and cfg.mode == "all":
            for uid in missing:
                ref = refs.get(uid)
                if ref is None:
                    issues.note("missing_without_reference", uid)
                    continue
                records.append({"id": uid, "task": ref["task"], "hyp": "", "ref": ref["ref"],
                                "labels": ref["labels"], "joint": ref["joint"],
                                "ref_asr": ref["ref_asr"], "hyp_asr": "", "_missing": True})
    tasks, files, lines = score_records(records, cfg, issues)
    if issues.counts:
        lines.append("input issues: " + ", ".join(f"{k} {v}" for k, v in
                                                  sorted(issues.counts.items())))
    scores = {
        "hyps": str(hyps_path),
        "split": (decode_info or {}).get("split") or d.name,
        "decode_info": decode_info,
        "options": asdict(cfg),
        "reference": {"ref_cuts": str(ref_cuts) if ref_cuts else None,
                      "ids": str(ids) if ids else None,
                      "expected": len(expected) if expected is not None else None,
                      "missing": len(missing)},
        "tasks": tasks,
        "input": {"records": len(have), **issues.as_dict()},
    }
    for name, text in files.items():
        atomic_write_text(d / name, text)
    atomic_write_text(d / "scores.txt", "\n".join(lines) + "\n")
    atomic_write_json(d / SCORES_JSON, scores)
    log.info("scored %d hypotheses (%d tasks) in %s", len(records), len(tasks), d)
    stage.mark_done(outputs=[d / SCORES_JSON, d / "scores.txt", *(d / n for n in files)])
    return scores
