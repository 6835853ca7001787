"""``RESULTS.md`` for an experiment: score tables per task, decoding comparisons, plots.

Reads, under the experiment directory ``E``:

- ``E/decode/<decode_tag>/<split>/scores.json`` (``svtk score``) and the ``decode_info.json``
  the decoder leaves beside ``hyps.jsonl`` (or in ``E/decode/<decode_tag>/``)::

      {"prompts": "train" | "unseen" | "<prompt bank file>", "constrained": true, "joint": false,
       "beam": 1, "ctc_weight": 0.0, "lm_weight": 0.0, "split": "test", "system": "e2e" | "gt->llm" | "asr->llm"}

  Missing fields are read from the decode tag instead (``unseen``/``seen``, ``constrained``/
  ``unconstrained``/``free``, ``joint``/``nojoint``, ``beamN``/``greedy``, ``ctcW``, ``lmW``,
  ``gt-llm``/``asr-llm``).
- ``E/<phase>/metrics.jsonl`` (one per training phase; see :mod:`svtk.scoring.plots`), ordered
  by the ``started`` time in the phase's ``run_info.json``, else by name.

Writes ``E/RESULTS.md``, ``E/results.json`` (the same tables, for scripts and CI) and
``E/plots/*.png``: confusion matrices of closed-set tasks, training curves, and with
``compare`` an overlay of two experiments' loss curves (e.g. curriculum vs all at once) and a table
of their scores where both were decoded the same way (same decode tag and split).
Everything in the report is generated from those files; nothing is typed in.

Usage::

    write_report("exp/mini", compare="exp/mini_all_at_once")
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from svtk.errors import UserError
from svtk.scoring.bootstrap import ItemStats, paired_delta_ci
from svtk.scoring.score import SCORES_JSON, read_decode_info
from svtk.tasks import task_order as _task_key

SETTINGS = ("system", "prompts", "constrained", "joint", "beam", "ctc_weight", "lm_weight")
BASELINE_ORDER = {  # the value others are compared against comes first
    "prompts": ["train", "seen"],
    "constrained": [False],
    "joint": [False],
    "system": ["e2e", "gt->llm", "asr->llm"],
    "beam": [1],
    "ctc_weight": [0.0],
    "lm_weight": [0.0],
}
METRIC_NAMES = {"wer": "WER", "bleu": "BLEU", "accuracy": "Acc", "uar": "UAR", "f1": "F1",
                "slu_f1": "SLU-F1"}
CLOSED_SET = ("accuracy", "uar")
# Settings that only matter for some metrics (constraints act on label sets and slot types).
FACTOR_METRICS = {"constrained": ("accuracy", "uar", "slu_f1")}


@dataclass
class DecodeRun:
    tag: str
    split: str
    path: Path
    scores: dict
    settings: dict = field(default_factory=dict)


def settings_from_tag(tag: str) -> dict:
    """Decode settings guessed from a tag such as ``beam4_unseen_constrained_joint``."""
    out: dict = {}
    low = tag.lower()
    words = re.split(r"[_.,+]+", low)
    for w in words:
        if w in ("unseen", "unseen-prompts", "heldout"):
            out["prompts"] = "unseen"
        elif w in ("seen", "train", "train-prompts", "seen-prompts"):
            out["prompts"] = "train"
        elif w in ("constrained", "con"):
            out["constrained"] = True
        elif w in ("unconstrained", "free", "nocon", "noconstrained", "no-constrained"):
            out["constrained"] = False
        elif w == "joint":
            out["joint"] = True
        elif w in ("nojoint", "no-joint", "plain"):
            out["joint"] = False
        elif w == "greedy":
            out["beam"] = 1
        elif m := re.fullmatch(r"beam-?(\d+)", w):
            out["beam"] = int(m.group(1))
        elif w in ("gt-llm", "gt2llm", "gtllm"):
            out["system"] = "gt->llm"
        elif w in ("asr-llm", "asr2llm", "asrllm", "cascade"):
            out["system"] = "asr->llm"
        elif w in ("e2e", "end2end"):
            out["system"] = "e2e"
    if m := re.search(r"(?:^|[_,+.])ctc(\d+(?:\.\d+)?)", low):  # the weight may hold a dot
        out["ctc_weight"] = float(m.group(1))
    if m := re.search(r"(?:^|[_,+.])lm(\d+(?:\.\d+)?)", low):
        out["lm_weight"] = float(m.group(1))
    return out


def _settings(tag: str, info: dict | None) -> dict:
    s = {"system": "e2e", "prompts": "train", "constrained": False, "joint": False, "beam": 1,
         "ctc_weight": 0.0, "lm_weight": 0.0}
    s.update(settings_from_tag(tag))
    for k, v in (info or {}).items():
        if k in SETTINGS and v is not None:
            s[k] = v
    if isinstance(s["prompts"], str) and s["prompts"] not in ("train", "unseen", "seen"):
        s["prompts"] = Path(s["prompts"]).stem  # a prompt bank file: show its name
    return s


def find_decode_runs(exp_dir: str | Path) -> list[DecodeRun]:
    """Every ``decode/<tag>/<split>/scores.json`` under ``exp_dir``, sorted by tag and split."""
    runs = []
    for p in sorted(Path(exp_dir).glob(f"decode/*/*/{SCORES_JSON}")):
        try:
            scores = json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise UserError(f"{p}: not valid JSON ({e}); re-run 'svtk score {p.parent}'") from e
        tag, split = p.parent.parent.name, p.parent.name
        info = scores.get("decode_info") or read_decode_info(p.parent)
        runs.append(DecodeRun(tag, str((info or {}).get("split") or split), p.parent, scores,
                              _settings(tag, info)))
    return runs


def _fmt(v, digits: int = 2) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if math.isfinite(v) else str(v)
    return str(v)


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_fmt(c) for c in r) + " |" for r in rows]
    return out


def _extras(metric: str, t: dict) -> list[tuple[str, object]]:
    """Columns beside the headline score, per metric."""
    if metric == "wer":
        return [("CER", t.get("cer", {}).get("rate")), ("SER", t.get("wer", {}).get("ser")),
                ("errors", t.get("summary", "").partition("[")[2].rstrip("] ") or None)]
    if metric == "bleu":
        return [("chrF", t.get("chrf"))]
    if metric in CLOSED_SET:
        c = t.get("counts", {})
        other = "UAR" if metric == "accuracy" else "Acc"
        return [(other, t.get("uar") if metric == "accuracy" else t.get("accuracy")),
                ("macro-F1", t.get("macro_f1")), ("out of set", c.get("out_of_set_hyps"))]
    if metric == "f1":
        return [("P", t.get("precision")), ("R", t.get("recall"))]
    if metric == "slu_f1":
        return [("SD-F1", t.get("sd_f1", {}).get("f1")), ("span-F1", t.get("span_f1", {}).get("f1")),
                ("word-F1", t.get("word_f1", {}).get("f1")), ("char-F1", t.get("char_f1", {}).get("f1"))]
    return []


def _items(t: dict) -> ItemStats | None:
    """The per-utterance statistics ``svtk score`` stored for a task (None: scored before it
    stored them, or a metric without them)."""
    return ItemStats.from_json(t["items"]) if t.get("items") else None


def _interval(ci) -> str | None:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else None


def _delta_ci(base: dict | None, t: dict | None) -> list[float] | None:
    """The paired bootstrap interval of ``t - base`` (same utterances resampled for both)."""
    a, b = _items(base or {}), _items(t or {})
    res = paired_delta_ci(a, b) if a and b else None
    return list(res[1:]) if res else None


def _decoded(t: dict) -> bool:
    """False when the run never decoded this task (e.g. GT->LLM skips ASR: its input is the
    reference transcript): an all-missing score says nothing about the system."""
    c = t.get("counts", {})
    return not (c.get("utterances") and c.get("missing_scored_as_empty") == c.get("utterances"))


def task_tables(runs: list[DecodeRun]) -> dict[str, dict]:
    """Per task: {"metric", "header", "rows"} with one row per decode run that scored it."""
    tasks: dict[str, dict] = {}
    for run in runs:
        for task, t in sorted(run.scores.get("tasks", {}).items(), key=lambda kv: _task_key(kv[0])):
            metric = t["metric"]
            extras = _extras(metric, t)
            joint = t.get("joint_asr", {}).get("rate")
            c = t.get("counts", {})
            if not _decoded(t):
                continue
            row = [run.split, run.tag, *(run.settings.get(k) for k in SETTINGS), t.get("score"),
                   _interval(t.get("ci95")), *(v for _, v in extras), joint, c.get("utterances"),
                   c.get("empty_hyps"), c.get("missing_scored_as_empty")]
            entry = tasks.setdefault(task, {"metric": metric, "rows": [], "runs": []})
            entry["header"] = ["split", "decode", *SETTINGS,
                               f"**{METRIC_NAMES.get(metric, metric)}**", "95% CI",
                               *(n for n, _ in extras), "joint WER", "utts", "empty", "missing"]
            entry["rows"].append(row)
            entry["runs"].append(run)
    return dict(sorted(tasks.items(), key=lambda kv: _task_key(kv[0])))


def comparisons(runs: list[DecodeRun]) -> dict[str, list[dict]]:
    """For each setting: rows where runs differ only in that setting (task, split, rest fixed)."""
    out: dict[str, list[dict]] = {}
    for factor in ("prompts", "constrained", "joint", "system", "beam", "ctc_weight", "lm_weight"):
        groups: dict[tuple, dict] = {}
        for run in runs:
            rest = tuple((k, run.settings.get(k)) for k in SETTINGS if k != factor)
            for task, t in run.scores.get("tasks", {}).items():
                if factor in FACTOR_METRICS and t.get("metric") not in FACTOR_METRICS[factor]:
                    continue
                if not _decoded(t):
                    continue
                g = groups.setdefault((task, run.split, rest), {})
                g.setdefault(run.settings.get(factor), t)
        rows = []
        for (task, split, rest), vals in sorted(groups.items(),
                                                 key=lambda kv: (_task_key(kv[0][0]), str(kv[0]))):
            if len(vals) < 2:
                continue
            order = BASELINE_ORDER.get(factor, [])
            keys = sorted(vals, key=lambda v: (order.index(v) if v in order else len(order), str(v)))
            scores = {k: vals[k].get("score") for k in keys}
            base = scores[keys[0]]
            rows.append({"task": task, "split": split, "fixed": dict(rest),
                         "values": {str(k): scores[k] for k in keys},
                         "delta": {str(k): (scores[k] - base if None not in (scores[k], base)
                                            else None) for k in keys[1:]},
                         "delta_ci95": {str(k): _delta_ci(vals[keys[0]], vals[k])
                                        for k in keys[1:]}})
        if rows:
            out[factor] = rows
    return out


def compare_experiments(runs: list[DecodeRun], other: list[DecodeRun]) -> list[dict]:
    """Task scores of two experiments decoded the same way (same decode tag and split), e.g. the
    curriculum against all-at-once training; Δ is ``other - runs`` (for WER, lower is better)."""
    theirs = {(r.tag, r.split): r for r in other}
    rows = []
    for run in runs:
        match = theirs.get((run.tag, run.split))
        if match is None:
            continue
        mine_t, other_t = run.scores.get("tasks", {}), match.scores.get("tasks", {})
        for task in sorted(set(mine_t) & set(other_t), key=_task_key):
            a, b = mine_t[task].get("score"), other_t[task].get("score")
            rows.append({"task": task, "split": run.split, "decode": run.tag,
                         "metric": mine_t[task]["metric"], "score": a, "other": b,
                         "delta": b - a if None not in (a, b) else None,
                         "delta_ci95": _delta_ci(mine_t[task], other_t[task])})
    return sorted(rows, key=lambda r: (_task_key(r["task"]), r["split"], r["decode"]))


def find_phases(exp_dir: str | Path) -> list:
    """Training phases (dirs holding metrics.jsonl) of an experiment, in training order."""
    from svtk.scoring.plots import Phase, chain, read_metrics

    found = []
    for m in Path(exp_dir).glob("*/metrics.jsonl"):
        started = ""
        info = m.parent / "run_info.json"
        if info.is_file():
            try:
                started = json.loads(info.read_text()).get("started", "")
            except json.JSONDecodeError:
                started = ""
        found.append((started, m.parent.name, Phase(m.parent.name, read_metrics(m))))
    found.sort(key=lambda x: (x[0], x[1]))
    return chain([p for _, _, p in found])


def training_summary(phases: list) -> dict:
    """Steps, final/best losses, non-finite losses, max grad norm, and a divergence verdict.

    ``diverged``: any non-finite train loss, or the final phase's train loss ending more than
    1.5x above its lowest point: both are moving averages over the same window (a tenth of the
    phase's logged losses, at least 3), so one hard batch among a few logged points is not taken
    for a blow-up. Only the final phase is compared with itself: a curriculum changes the task
    mix between phases (ASR only, then every task), and with it the loss scale.
    """
    from svtk.scoring.plots import smooth

    ys, vys, grads = [], [], []
    for p in phases:
        ys += p.series("loss")[1]
        vys += p.series("loss", "valid")[1]
        grads += [g for g in p.series("grad_norm")[1] if math.isfinite(g)]
    finite = [y for y in ys if math.isfinite(y)]
    nonfinite = len(ys) - len(finite)
    last = [y for y in (phases[-1].series("loss")[1] if phases else []) if math.isfinite(y)]
    w = min(len(last), max(3, len(last) // 10))
    sm = smooth(last, w)[w - 1:] if last else []  # full windows only
    final = sm[-1] if sm else None
    best = min(sm) if sm else None
    fv = [v for v in vys if math.isfinite(v)]
    diverged = nonfinite > 0 or (final is not None and best is not None and final > 1.5 * best)
    return {"phases": [p.name for p in phases],
            "steps": (phases[-1].offset + phases[-1].last_step) if phases else 0,
            "final_train_loss": final, "best_smoothed_train_loss": best,
            "last_valid_loss": fv[-1] if fv else None, "best_valid_loss": min(fv) if fv else None,
            "nonfinite_losses": nonfinite, "max_grad_norm": max(grads) if grads else None,
            "diverged": diverged}


LAYER_MIX_KEY = "layer_mix.weights"


def layer_mix_weights(exp_dir: str | Path, phases: list) -> dict[str, list[float]]:
    """Phase name -> the learned w_l of a weighted layer mix (``AE(x) = (1/L) sum_l w_l h_l``,
    l = 0 the embeddings), read from each phase's final weights; phases without a mix are left out."""
    from safetensors import safe_open

    from svtk.training.checkpoint import WEIGHTS

    out = {}
    for p in phases:
        f = Path(exp_dir) / p.name / WEIGHTS
        if not f.is_file():
            continue
        with safe_open(str(f), "pt") as sf:
            if LAYER_MIX_KEY in sf.keys():
                out[p.name] = [float(w) for w in sf.get_tensor(LAYER_MIX_KEY).float()]
    return out


def machine_info() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem,
            "os": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
            "matmul_gflops_1thread": matmul_gflops()}


def matmul_gflops(n: int = 1024, seconds: float = 0.3) -> float | None:
    """fp32 matmul throughput on one thread now (GFLOP/s): machines of the same name differ,
    and one machine's speed drifts during a day (2x seen here), so run times need this beside
    them to be compared."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            a @ b
            count += 1
        return round(2 * n ** 3 * count / (time.perf_counter() - start) / 1e9, 1)
    finally:
        torch.set_num_threads(threads)


def _run_infos(exp_dir: Path) -> list[dict]:
    """The run_info.json of each training phase in ``exp_dir`` (unreadable ones left out)."""
    out = []
    for path in sorted(exp_dir.glob("*/run_info.json")):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return out


def _git_line(exp_dir: Path) -> str:
    from svtk.runinfo import git_revision

    g = git_revision()
    rev = f"{g['commit'][:12]}{' (dirty)' if g['dirty'] else ''}" if g else "unknown"
    infos = _run_infos(exp_dir)
    trained = {gi["commit"][:12] + (" (dirty)" if gi.get("dirty") else "")
               for gi in (i.get("git") or {} for i in infos) if gi.get("commit")}
    # the last digits of a result depend on the CPU kernels' instruction set (svtk.runinfo)
    kernels = {i["cpu_capability"] for i in infos if i.get("cpu_capability")}
    extra = f"; training ran at {', '.join(sorted(trained))}" if trained else ""
    extra += f" with torch CPU kernels {', '.join(sorted(kernels))}" if kernels else ""
    mkl = {(i.get("numerics_env") or {}).get("MKL_ENABLE_INSTRUCTIONS") for i in infos} - {None}
    extra += f", MKL {', '.join(sorted(mkl))}" if mkl else ""
    return f"svtk git revision {rev}{extra}"


def _setting_label(factor: str, v: str) -> str:
    if factor in ("constrained", "joint"):
        return f"{factor} {'on' if v == 'True' else 'off'}"
    return f"{factor} {v}"


def write_report(exp_dir: str | Path, compare: str | Path | None = None,
                 out: str | Path | None = None, confusion_plots: bool = True) -> Path:
    """Write ``RESULTS.md``, ``results.json`` and the plots for ``exp_dir``; return the md path.

    ``confusion_plots=False`` skips the confusion-matrix PNGs (one per closed-set task and
    decode run; the slowest part for a large grid of runs)."""
    from svtk.scoring.plots import plot_compare, plot_confusions, plot_training
    from svtk.stage import atomic_write_json, atomic_write_text

    exp = Path(exp_dir)
    if not exp.is_dir():
        raise UserError(f"no such experiment directory: {exp}")
    runs = find_decode_runs(exp)
    phases = find_phases(exp)
    if not runs and not phases:
        raise UserError(f"{exp}: nothing to report (no decode/*/*/{SCORES_JSON} and no "
                        f"*/metrics.jsonl); run 'svtk score' on the decode directories first")
    md_path = Path(out) if out else exp / "RESULTS.md"
    plots = md_path.parent / "plots"
    rel = os.path.relpath(plots, md_path.parent)
    mach = machine_info()
    lines = [
        f"# Results: {exp.name}",
        "",
        f"Generated by `svtk report --exp-dir {exp}"
        + (f" --compare {compare}" if compare else "") + "`"
        + f" on {time.strftime('%Y-%m-%d %H:%M %Z')}. Do not edit: re-run the command.",
        "",
        f"- machine: {mach['cpu']}, {mach['cores']} cores, {mach['memory'] or '? GiB'} RAM, "
        f"{mach['os']}, Python {mach['python']}; fp32 matmul on one thread "
        f"{mach['matmul_gflops_1thread']} GFLOP/s when this report was made",
        f"- {_git_line(exp)}",
        f"- decode runs: {len(runs)}; training phases: "
        f"{', '.join(p.name for p in phases) if phases else 'none found'}",
        "",
        "Scores are percentages. WER: lower is better; everything else: higher is better. "
        "`empty`: empty hypotheses; `missing`: utterances the decoder never wrote, scored as "
        "empty. Closed-set `out of set`: outputs that are not a valid label.",
        "",
        "`95% CI`: the percentile bootstrap interval of the score over the test utterances "
        "(1000 resamples, `svtk.scoring.bootstrap`). The intervals of a Δ resample the same "
        "utterances for both runs (paired); where one holds 0, this test set cannot tell the "
        "two runs apart.",
        "",
    ]
    tables = task_tables(runs)
    confusions: list[dict] = []  # drawn side by side once the tables are written
    for task, entry in tables.items():
        lines += [f"## {task} ({METRIC_NAMES.get(entry['metric'], entry['metric'])})", ""]
        lines += _table(entry["header"], entry["rows"]) + [""]
        if entry["metric"] in CLOSED_SET and confusion_plots:
            links = []
            for run in entry["runs"]:
                cm = run.path / f"confusion_{task}.json"
                if not cm.is_file():
                    continue
                c = json.loads(cm.read_text())
                name = f"confusion_{run.tag}_{run.split}_{task}.png"
                confusions.append(dict(rows=c["rows"], cols=c["cols"], matrix=c["matrix"],
                                       path=plots / name, title=f"{task} — {run.tag}/{run.split}"))
                links.append(f"[{run.tag}/{run.split}]({rel}/{name})")
            if links:
                lines += ["Confusion matrices: " + ", ".join(links), ""]
    plot_confusions(confusions)
    comp = comparisons(runs)
    if comp:
        lines += ["## Decoding comparisons", "",
                  "Pairs of runs that differ in one setting only (same split, same other "
                  "settings); Δ is against the first value.", ""]
        for factor, rows in comp.items():
            lines += [f"### {factor}", ""]
            vals = list(dict.fromkeys(v for r in rows for v in r["values"]))
            header = ["task", "split", "fixed"] + [_setting_label(factor, v) for v in vals] + \
                     [c for v in vals[1:] for c in (f"Δ {_setting_label(factor, v)}", "95% CI")]
            body = []
            for r in rows:
                fixed = ", ".join(f"{k}={_fmt(v)}" for k, v in r["fixed"].items())
                body.append([r["task"], r["split"], fixed, *(r["values"].get(v) for v in vals),
                             *(c for v in vals[1:] for c in
                               (r["delta"].get(v), _interval(r["delta_ci95"].get(v))))])
            lines += _table(header, body) + [""]
    training: dict = {}
    mixes: dict[str, dict[str, list[float]]] = {}
    versus: list[dict] = []
    if phases:
        mixes[exp.name] = layer_mix_weights(exp, phases)
        plot_training(phases, plots / "training_curves.png", title=exp.name)
        training[exp.name] = training_summary(phases)
        lines += ["## Training", "", f"![training curves]({rel}/training_curves.png)", ""]
    if compare:
        other = Path(compare)
        other_phases = find_phases(other)
        if not other_phases:
            raise UserError(f"--compare {other}: no */metrics.jsonl found there")
        other_key = other.name if other.name != exp.name else str(other)
        training[other_key] = training_summary(other_phases)
        mixes[other_key] = layer_mix_weights(other, other_phases)
        name = f"compare_{exp.name}_vs_{other.name}.png"
        plot_compare({exp.name: phases, other.name: other_phases} if phases
                     else {other.name: other_phases}, plots / name,
                     title=f"{exp.name} vs {other.name}")
        lines += [f"## Training: {exp.name} vs {other.name}", "", f"![loss curves]({rel}/{name})",
                  ""]
        versus = compare_experiments(runs, find_decode_runs(other))
    if training:
        header = ["experiment", "phases", "steps", "final train loss", "best valid loss",
                  "last valid loss", "non-finite losses", "max grad norm", "diverged"]
        body = [[n, ", ".join(s["phases"]), s["steps"], s["final_train_loss"],
                 s["best_valid_loss"], s["last_valid_loss"], s["nonfinite_losses"],
                 s["max_grad_norm"], s["diverged"]] for n, s in training.items()]
        lines += _table(header, body) + [""]
        ok = {n: s for n, s in training.items() if not s["diverged"] and s["last_valid_loss"]}
        if len(training) > 1:
            if ok:
                best = min(ok, key=lambda n: ok[n]["last_valid_loss"])
                bad = [n for n, s in training.items() if s["diverged"]]
                lines += [f"Lowest last valid loss: **{best}**"
                          + (f"; diverged: {', '.join(bad)}" if bad else "; none diverged")
                          + " (diverged: a non-finite loss, or final train loss > 1.5x its best).",
                          ""]
            else:
                lines += ["No experiment has a finite valid loss without diverging.", ""]
    mixes = {n: m for n, m in mixes.items() if m}
    if mixes:
        width = max(len(w) for m in mixes.values() for w in m.values())
        lines += ["## Learned layer weights", "",
                  "The weighted layer mix `(1/L) sum_l w_l h_l` after each phase (h0: the "
                  "encoder's embeddings, the last column its last layer; 1 everywhere is a "
                  "plain average).", ""]
        lines += _table(["experiment", "phase", *(f"w{i}" for i in range(width))],
                        [[n, ph, *w, *[None] * (width - len(w))]
                         for n, m in mixes.items() for ph, w in m.items()]) + [""]
    if versus:
        lines += [f"## Decoding: {exp.name} vs {other.name}", "",
                  f"Runs decoded the same way (decode tag and split) in both experiments; "
                  f"Δ = {other.name} − {exp.name}.", ""]
        lines += _table(
            ["task", "split", "decode", "metric", exp.name, other.name, "Δ", "95% CI"],
            [[r["task"], r["split"], r["decode"], METRIC_NAMES.get(r["metric"], r["metric"]),
              r["score"], r["other"], r["delta"], _interval(r["delta_ci95"])]
             for r in versus]) + [""]
    atomic_write_text(md_path, "\n".join(lines).rstrip() + "\n")
    atomic_write_json(md_path.parent / "results.json", {
        "experiment": str(exp), "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": mach,
        "tasks": {t: {"metric": e["metric"], "header": e["header"], "rows": e["rows"]}
                  for t, e in tables.items()},
        "comparisons": comp, "training": training, "layer_weights": mixes,
        "versus": {"other": str(compare), "rows": versus} if compare else None,
    })
    return md_path
