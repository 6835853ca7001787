"""The synthetic multi-task corpus: plan, render with Debian TTS engines and sox, write manifests.

Every recording is planned first from one seeded random generator (sentence, voice, style,
speaker-count layout, non-speech sound), then rendered by a pool of workers, so the output does
not depend on the number of workers or their scheduling. Splits:

- ``train``, ``dev``: training voices, disjoint sentence sets;
- ``test_seen``: held-out sentences spoken by training voices;
- ``test_unseen``: held-out sentences spoken by voices never used in train/dev/test_seen.

A sentence belongs to exactly one split (decided by a seeded hash of its text). Three kinds of
recordings: ``utt`` (one voice, one sentence: every speech task), ``sc`` (two sentences by one
voice or by two different voices, back to back or overlapped: speaker count) and ``nonspeech``
(noises, tones, chords, clicks, hum made with sox: speech / non-speech).

Writes ``<out>/audio/<corpus>/<split>/<id>.<fmt>`` and
``<out>/manifests/<corpus>_{recordings,supervisions}_<split>.jsonl.gz`` (lhotse), plus the
``.synth_<corpus>.done`` marker holding counts and timing.

Usage::

    cfg = load_config(SynthConfig, "egs/mini/conf/synth.yaml")
    synthesize(cfg, "data", workers=2)
"""

from __future__ import annotations

import concurrent.futures
import fnmatch
import hashlib
import json
import logging
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svtk.data import grammar
from svtk.data.manifests import manifest_path, save_manifest
from svtk.data.voices import (
    ESPEAK_ACCENTS,
    ESPEAK_VARIANTS,
    FESTIVAL_VOICES,
    FLITE_VOICES,
    NONSPEECH_KINDS,
    SAMPLE_RATE,
    STYLE_EFFECTS,
    STYLE_RATE,
    Segment,
    Voice,
    all_voices,
    batch_size,
    engine_batches,
    mix,
    nonspeech_command,
    read_wav,
    require_voices,
    run_tool,
    set_level,
    sox_convert,
    synthesize_batch,
)
from svtk.errors import UserError

log = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test_seen", "test_unseen")
UNSEEN_SPLIT = "test_unseen"


@dataclass
class VoicesConfig:
    # Share of speech per engine: flite/festival sound more natural (better ASR), espeak-ng
    # provides the accent classes.
    engines: dict[str, float] = field(default_factory=lambda: {
        "flite": 0.4, "festival": 0.15, "espeak": 0.45})
    espeak_accents: list[str] = field(default_factory=lambda: list(ESPEAK_ACCENTS))
    espeak_variants: list[str] = field(default_factory=lambda: list(ESPEAK_VARIANTS))
    flite: list[str] = field(default_factory=lambda: list(FLITE_VOICES))
    festival: list[str] = field(default_factory=lambda: list(FESTIVAL_VOICES))
    # Voice-id patterns (fnmatch) heard only in test_unseen; must cover every accent and gender.
    unseen: list[str] = field(default_factory=lambda: [
        "flite:rms", "festival:ked_diphone", "espeak:*+f5", "espeak:*+m7"])


@dataclass
class SynthConfig:
    corpus: str = "mini"  # manifest prefix: <corpus>_recordings_<split>.jsonl.gz
    seed: int = 0  # everything random is drawn from this seed: same seed, same corpus
    # split s gets hours * splits[s] of audio (planned from estimated durations): the whole
    # corpus when the shares sum to 1
    hours: float = 1.0
    splits: dict[str, float] = field(default_factory=lambda: {
        "train": 0.8, "dev": 0.05, "test_seen": 0.075, "test_unseen": 0.075})
    # share of the distinct sentences each split holds (default: ``splits``); held-out tests
    # drawn from a small share of a small grammar repeat the few sentences they have
    sentence_splits: dict[str, float] | None = None
    content: str = "grammar"  # "grammar" (svtk.data.grammar) or "slurp" (real SLURP text)
    slurp_dir: Path | None = None  # SLURP devel/test jsonl (content: slurp); option --slurp-dir
    opinion_share: float = 0.35  # share of sentences from opinion templates (ASC); rest commands
    sc_share: float = 0.08  # share of recordings for speaker counting (half one, half two voices)
    sc_overlap: float = 0.5  # share of two-voice recordings that overlap (else back to back)
    nonspeech_share: float = 0.05  # share of recordings without speech (SNS)
    min_per_kind: int = 4  # at least this many sc and nonspeech recordings per split
    min_utterances: int = 16  # at least this many single-voice utterances per split
    styles: list[str] = field(default_factory=lambda: list(STYLE_EFFECTS))
    neutral_share: float = 0.4  # share of utterances in the neutral style; rest uniform
    voices: VoicesConfig = field(default_factory=VoicesConfig)
    audio_format: str = "flac"  # flac (lossless, half the size of wav) or wav
    chunk_size: int = 16  # recordings per worker task (festival: see voices.Engine.batch)

    def __post_init__(self):
        unknown = set(self.splits) - set(SPLITS)
        if unknown:
            raise ValueError(f"splits must be among {SPLITS}, got {sorted(unknown)}")
        if self.sentence_splits is not None and set(self.sentence_splits) != set(self.splits):
            raise ValueError("sentence_splits must name the same splits as splits: "
                             f"{sorted(self.sentence_splits)} vs {sorted(self.splits)}")
        bad = set(self.styles) - set(STYLE_EFFECTS)
        if bad or "neutral" not in self.styles:
            raise ValueError(f"styles must include 'neutral' and be among {list(STYLE_EFFECTS)}")
        if self.content not in ("grammar", "slurp"):
            raise ValueError(f"content must be 'grammar' or 'slurp', got {self.content!r}")
        if self.audio_format not in ("flac", "wav"):
            raise ValueError("audio_format must be flac or wav")


# --------------------------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------------------------


@dataclass
class Item:
    """One planned recording."""

    id: str
    split: str
    kind: str  # utt | sc | nonspeech
    segments: list[Segment] = field(default_factory=list)
    sentences: list[grammar.Sentence] = field(default_factory=list)
    sc_mode: str | None = None  # same_voice | back_to_back | overlap
    sc_gap: float = 0.0  # seconds of silence between the sentences (back to back)
    sc_overlap: float = 0.0  # fraction of the first sentence overlapped by the second
    ns_kind: str | None = None
    ns_duration: float = 0.0
    ns_params: dict[str, float] = field(default_factory=dict)


def voice_pools(cfg: VoicesConfig) -> tuple[list[Voice], list[Voice]]:
    """(seen voices, unseen voices) from the config."""
    voices = all_voices()
    chosen = [f"espeak:{a}+{v}" for a in cfg.espeak_accents for v in cfg.espeak_variants]
    chosen += [f"flite:{n}" for n in cfg.flite] + [f"festival:{n}" for n in cfg.festival]
    unknown = [c for c in chosen if c not in voices]
    if unknown:
        raise UserError(f"unknown voice(s) {unknown[:5]}; espeak accents {list(ESPEAK_ACCENTS)}, "
                        f"variants {list(ESPEAK_VARIANTS)}, flite {list(FLITE_VOICES)}, "
                        f"festival {list(FESTIVAL_VOICES)}")
    chosen = [voices[c] for c in chosen if cfg.engines.get(voices[c].engine, 0) > 0]
    unseen = [v for v in chosen if any(fnmatch.fnmatchcase(v.id, p) for p in cfg.unseen)]
    seen = [v for v in chosen if v not in unseen]
    if not seen or not unseen:
        raise UserError("voices: the seen and the unseen voice pools must both be non-empty "
                        f"(unseen patterns: {cfg.unseen})")
    return seen, unseen


class SentenceSource:
    """Draws the sentences of each split: every distinct sentence belongs to one split (a seeded
    hash of its text decides, with the shares of ``sentence_splits``).

    A grammar draw picks a template uniformly (the labels stay as balanced as the templates),
    then the next filling of that template from a shuffled deck of its fillings in the split,
    reshuffled once used up: no filling repeats before all of its template's have been heard.
    Drawing fillings independently instead let sentences repeat by chance while others of the
    same template went unheard. SLURP text is dealt from a deck per split the same way.
    """

    def __init__(self, cfg: SynthConfig, rng: random.Random):
        self.cfg, self.rng = cfg, rng
        shares = cfg.sentence_splits or cfg.splits
        names = [s for s in SPLITS if s in cfg.splits]
        total = sum(shares[s] for s in names)
        acc, self.bounds = 0.0, []
        for s in names:
            acc += shares[s] / total
            self.bounds.append((acc, s))
        # (split, domain) -> {template index: its fillings that fall into the split}
        self.pools: dict[tuple[str, str], dict[int, list[grammar.Sentence]]] = {}
        for domain in ("command", "opinion"):
            for index in range(len(grammar.templates(domain))):
                for sent in grammar.fillings(domain, index):
                    by_template = self.pools.setdefault((self.split_of(sent.text), domain), {})
                    by_template.setdefault(index, []).append(sent)
        self.decks: dict[tuple, list[grammar.Sentence]] = {}
        self.slurp: dict[str, list[grammar.Sentence]] | None = None
        if cfg.content == "slurp":
            from svtk.data.slurp import slurp_sentences

            if cfg.slurp_dir is None:
                raise UserError("content: slurp needs the SLURP text directory: --slurp-dir DIR "
                                "(devel.jsonl, test.jsonl), e.g. ../shared/data/slurp")
            self.slurp = slurp_sentences(cfg.slurp_dir, cfg.seed, names)

    def split_of(self, text: str) -> str:
        h = hashlib.blake2b(f"{self.cfg.seed}\0{text}".encode(), digest_size=8).digest()
        u = int.from_bytes(h, "big") / 2**64
        for bound, s in self.bounds:
            if u < bound:
                return s
        return self.bounds[-1][1]

    def draw(self, split: str) -> grammar.Sentence:
        domain = "opinion" if self.rng.random() < self.cfg.opinion_share else "command"
        if self.slurp is not None and domain == "command":  # real SLURP text for IC/SF
            pool = self.slurp[split]
            if not pool:
                raise UserError(f"the SLURP text has no sentences for split {split}")
            return self._deal(("slurp", split), pool)
        by_template = self.pools.get((split, domain))
        if not by_template:
            raise UserError(f"no {domain} sentence falls into split {split}; give it a larger "
                            "share (sentence_splits)")
        index = self.rng.choice(sorted(by_template))
        return self._deal((split, domain, index), by_template[index])

    def _deal(self, key: tuple, pool: list[grammar.Sentence]) -> grammar.Sentence:
        deck = self.decks.setdefault(key, [])
        if not deck:
            deck.extend(pool)
            self.rng.shuffle(deck)
        return deck.pop()


def _estimate_seconds(text: str, style: str = "neutral") -> float:
    return (0.25 + 0.31 * len(text.split())) / STYLE_RATE.get(style, 1.0)


def plan(cfg: SynthConfig) -> list[Item]:
    """Every recording of the corpus, decided from ``cfg.seed`` alone."""
    rng = random.Random(cfg.seed)
    seen, unseen = voice_pools(cfg.voices)
    source = SentenceSource(cfg, rng)
    engines = {e: w for e, w in cfg.voices.engines.items() if w > 0}
    others = [s for s in cfg.styles if s != "neutral"]

    def pick_voice(pool: list[Voice], avoid: Voice | None = None) -> Voice:
        by_engine = {e: [v for v in pool if v.engine == e and v != avoid] for e in engines}
        names = [e for e in by_engine if by_engine[e]]
        engine = rng.choices(names, weights=[engines[e] for e in names])[0]
        return rng.choice(by_engine[engine])

    def pick_style() -> str:
        if not others or rng.random() < cfg.neutral_share:
            return "neutral"
        return rng.choice(others)

    items: list[Item] = []
    for split in [s for s in SPLITS if s in cfg.splits]:
        pool = unseen if split == UNSEEN_SPLIT else seen
        target = cfg.hours * 3600 * cfg.splits[split]
        n_est = target / 2.6
        n_sc = max(cfg.min_per_kind, round(cfg.sc_share * n_est))
        n_sc += n_sc % 2
        n_ns = max(cfg.min_per_kind, round(cfg.nonspeech_share * n_est))
        planned: list[Item] = []
        est = 0.0
        for k in range(n_sc):
            s1, s2 = source.draw(split), source.draw(split)
            a = pick_voice(pool)
            if k % 2 == 0:
                b, mode = a, "same_voice"
            else:
                b = pick_voice(pool, avoid=a)
                mode = "overlap" if rng.random() < cfg.sc_overlap else "back_to_back"
            it = Item("", split, "sc", [Segment(a.id, s1.text), Segment(b.id, s2.text)], [s1, s2],
                      sc_mode=mode, sc_gap=round(rng.uniform(0.15, 0.5), 3),
                      sc_overlap=round(rng.uniform(0.3, 0.7), 3))
            planned.append(it)
            est += _estimate_seconds(s1.text) + _estimate_seconds(s2.text)
        for _ in range(n_ns):
            kind = rng.choice(NONSPEECH_KINDS)
            dur = round(rng.uniform(1.5, 4.0), 3)
            params = {"f1": rng.uniform(150, 1500), "f2": rng.uniform(150, 3000),
                      "f3": rng.uniform(200, 2000), "color": rng.randrange(3),
                      "offset": rng.uniform(0, 5), "lo": rng.uniform(50, 800),
                      "hi": rng.uniform(1500, 7500), "sweep": rng.random(),
                      "rate": rng.uniform(2, 12), "mains": rng.choice([50, 60])}
            planned.append(Item("", split, "nonspeech", ns_kind=kind, ns_duration=dur,
                                ns_params=params))
            est += dur
        n_utt = 0
        while est < target or n_utt < cfg.min_utterances:
            n_utt += 1
            s = source.draw(split)
            style = pick_style()
            planned.append(Item("", split, "utt", [Segment(pick_voice(pool).id, s.text, style)], [s]))
            est += _estimate_seconds(s.text, style)
        rng.shuffle(planned)
        for i, it in enumerate(planned):
            it.id = f"{cfg.corpus}_{split}_{i:06d}"
        items.extend(planned)
    return items


# --------------------------------------------------------------------------------------------
# Rendering (a pool of workers; external programs do the work, so threads suffice)
# --------------------------------------------------------------------------------------------


def audio_path(out_dir: Path, cfg: SynthConfig, item: Item) -> Path:
    return out_dir / "audio" / cfg.corpus / item.split / f"{item.id}.{cfg.audio_format}"


def raw_path(tmp: Path, item: Item, j: int) -> Path:
    """Where the engine writes segment ``j`` of ``item`` before sox and levelling."""
    return tmp / f"{item.id}-{j}.raw.wav"


def batched_raws(items: list[Item], tmp: Path) -> list[list[tuple[Segment, Path]]]:
    """The segments of the batching engines (festival), as engine batches writing into ``tmp``."""
    raws = [(seg, raw_path(tmp, it, j)) for it in items for j, seg in enumerate(it.segments)]
    return engine_batches(raws, all_voices())


def render_chunk(items: list[Item], out_dir: Path, cfg: SynthConfig,
                 batched_dir: Path | None = None) -> list[int]:
    """Render ``items`` into their audio files; return their numbers of samples.

    ``batched_dir`` holds the raw engine output of the batching engines' segments, rendered
    beforehand (:func:`batched_raws`); without it every segment is synthesised here.
    """
    import soundfile as sf

    voices = all_voices()
    with tempfile.TemporaryDirectory(prefix="svtk-synth-") as tmpdir:
        tmp = Path(tmpdir)
        raws: list[tuple[Segment, Path]] = []
        raw_of: dict[tuple[str, int], Path] = {}
        for it in items:
            for j, seg in enumerate(it.segments):
                if batched_dir is not None and batch_size(voices[seg.voice]) > 0:
                    raw_of[it.id, j] = raw_path(batched_dir, it, j)
                else:
                    raw_of[it.id, j] = raw_path(tmp, it, j)
                    raws.append((seg, raw_of[it.id, j]))
        synthesize_batch(raws, voices)
        sizes = []
        for it in items:
            if it.kind == "nonspeech":
                wav = tmp / f"{it.id}.ns.wav"
                run_tool(nonspeech_command(it.ns_kind, it.ns_duration, it.ns_params, wav), "sox")
                audio = read_wav(wav)
            else:
                parts = []
                for j, seg in enumerate(it.segments):
                    raw, conv = raw_of[it.id, j], tmp / f"{it.id}-{j}.wav"
                    if STYLE_EFFECTS[seg.style] or sf.info(str(raw)).samplerate != SAMPLE_RATE:
                        sox_convert(raw, conv, STYLE_EFFECTS[seg.style])
                    else:  # 16 kHz engine output, level-only style: sox has nothing to do
                        conv = raw
                    parts.append(set_level(read_wav(conv), seg.style))
                if it.kind == "utt":
                    audio = parts[0]
                else:
                    a, b = parts
                    if it.sc_mode == "overlap":
                        start = len(a) * (1 - it.sc_overlap) / SAMPLE_RATE
                    else:
                        start = len(a) / SAMPLE_RATE + it.sc_gap
                    audio = mix([(0.0, a), (start, b)])
            path = audio_path(out_dir, cfg, it)
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(f".{path.stem}.part{path.suffix}")
            sf.write(str(part), audio, SAMPLE_RATE, subtype="PCM_16",
                     format=cfg.audio_format.upper())
            part.replace(path)
            sizes.append(len(audio))
        return sizes


# --------------------------------------------------------------------------------------------
# Manifests
# --------------------------------------------------------------------------------------------


def supervision_custom(item: Item, voices: dict[str, Voice]) -> dict[str, Any]:
    """The metadata every task target is derived from (svtk.tasks reads only this)."""
    c: dict[str, Any] = {"kind": item.kind, "is_speech": item.kind != "nonspeech"}
    if item.kind == "nonspeech":
        c["sound"] = item.ns_kind
        return c
    if item.kind == "sc":
        ids = [s.voice for s in item.segments]
        c.update(n_speakers=len(set(ids)), voices=ids, sc_mode=item.sc_mode)
        return c
    seg, s = item.segments[0], item.sentences[0]
    v = voices[seg.voice]
    c.update(voice=v.id, engine=v.engine, accent=v.accent, gender=v.gender, style=seg.style,
             domain=s.domain, keywords=s.keywords)
    if s.translations:
        c["translations"] = dict(s.translations)
    if s.intent is not None:
        c.update(intent=s.intent, slots=[list(x) for x in s.slots])
    if s.sentiment is not None and s.domain == "opinion":
        c["sentiment"] = s.sentiment
    return c


def build_manifests(items: list[Item], sizes: list[int], out_dir: Path, cfg: SynthConfig):
    """{split: (RecordingSet, SupervisionSet)} for the rendered items."""
    from lhotse import AudioSource, Recording, RecordingSet, SupervisionSegment, SupervisionSet

    voices = all_voices()
    per_split: dict[str, tuple[list, list]] = {}
    for it, n in zip(items, sizes, strict=False):
        dur = round(n / SAMPLE_RATE, 6)
        rec = Recording(id=it.id, sources=[AudioSource(type="file", channels=[0],
                                                       source=str(audio_path(out_dir, cfg, it)))],
                        sampling_rate=SAMPLE_RATE, num_samples=n, duration=dur)
        custom = supervision_custom(it, voices)
        text = " ".join(s.text for s in it.sentences)
        speaker = custom.get("voice") or ("+".join(custom["voices"]) if it.kind == "sc" else None)
        sup = SupervisionSegment(id=it.id, recording_id=it.id, start=0.0, duration=dur, channel=0,
                                 text=text, language="en" if text else None, speaker=speaker,
                                 gender=custom.get("gender"), custom=custom)
        recs, sups = per_split.setdefault(it.split, ([], []))
        recs.append(rec)
        sups.append(sup)
    return {s: (RecordingSet.from_recordings(r), SupervisionSet.from_segments(u))
            for s, (r, u) in per_split.items()}


def write_manifests(manifests: dict, out_dir: Path, corpus: str) -> list[Path]:
    outputs = []
    for split, (recs, sups) in manifests.items():
        for kind, obj in (("recordings", recs), ("supervisions", sups)):
            outputs.append(save_manifest(obj, manifest_path(out_dir, corpus, kind, split)))
    return outputs


# --------------------------------------------------------------------------------------------
# The stage
# --------------------------------------------------------------------------------------------


def synthesize(cfg: SynthConfig, out_dir: str | Path, workers: int = 2, force: bool = False
               ) -> dict[str, Any]:
    """Plan, render and write the corpus into ``out_dir``; skip when already done.

    Returns the statistics stored in the stage marker (hours per split, counts, wall time,
    audio seconds per wall second).
    """
    from svtk.logging import progress
    from svtk.stage import Stage

    out_dir = Path(out_dir)
    inputs = [cfg.slurp_dir] if cfg.content == "slurp" and cfg.slurp_dir else []
    stage = Stage(f"synth_{cfg.corpus}", out_dir, config=cfg, inputs=inputs, force=force)
    if stage.is_done():
        return json.loads(stage.marker.read_text()).get("stats", {})
    items = plan(cfg)
    seen, unseen = voice_pools(cfg.voices)
    require_voices(seen + unseen)
    audio_root = out_dir / "audio" / cfg.corpus
    if audio_root.exists():  # a previous, unfinished or forced run: start clean
        shutil.rmtree(audio_root)
    chunks = [items[i:i + cfg.chunk_size] for i in range(0, len(items), cfg.chunk_size)]
    log.info("synth: %d recordings in %d chunks, %d workers -> %s", len(items), len(chunks),
             workers, out_dir)
    start = time.monotonic()
    sizes: list[int] = []
    with (concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool,
          tempfile.TemporaryDirectory(prefix="svtk-synth-batched-") as batched_dir):
        # festival first, many sentences per process (one per chunk and voice: 0.36 s of start-up
        # for ~3 sentences; egs/mini's 2 h took 132.7 s that way, 68.3 s this way)
        batches = batched_raws(items, Path(batched_dir))
        voices = all_voices()
        for _ in progress(pool.map(synthesize_batch, batches, [voices] * len(batches)),
                          "synthesising (festival)", total=len(batches), unit="batches"):
            pass
        results = pool.map(render_chunk, chunks, [out_dir] * len(chunks), [cfg] * len(chunks),
                           [Path(batched_dir)] * len(chunks))
        for chunk_sizes in progress(results, "synthesising", total=len(chunks), unit="chunks"):
            sizes.extend(chunk_sizes)
    wall = time.monotonic() - start
    manifests = build_manifests(items, sizes, out_dir, cfg)
    outputs = write_manifests(manifests, out_dir, cfg.corpus)
    stats = corpus_stats(manifests)
    total = sum(s["seconds"] for s in stats["splits"].values())
    stats.update(wall_seconds=round(wall, 2), workers=workers,
                 audio_seconds_per_wall_second=round(total / max(wall, 1e-9), 1))
    log.info("synth: %.2f h of audio in %.1f s (%.0f audio-s per wall-s, %d workers)",
             total / 3600, wall, total / max(wall, 1e-9), workers)
    for split, st in stats["splits"].items():
        log.info("synth: %s: %d single-voice utterances of %d distinct sentences (the most "
                 "frequent %d times)", split, st["kinds"].get("utt", 0), st["distinct_sentences"],
                 st["most_repeated"])
    stage.mark_done(outputs=outputs, stats=stats)
    return stats


def corpus_stats(manifests: dict) -> dict[str, Any]:
    out: dict[str, Any] = {"splits": {}}
    for split, (recs, sups) in manifests.items():
        kinds: dict[str, int] = {}
        engines: dict[str, int] = {}
        for s in sups:
            kinds[s.custom["kind"]] = kinds.get(s.custom["kind"], 0) + 1
            if "engine" in s.custom:
                engines[s.custom["engine"]] = engines.get(s.custom["engine"], 0) + 1
        secs = sum(r.duration for r in recs)
        texts = Counter(s.text for s in sups if s.custom["kind"] == "utt")
        out["splits"][split] = {"recordings": len(recs), "seconds": round(secs, 1),
                                "hours": round(secs / 3600, 3), "kinds": kinds,
                                "engines": engines, "distinct_sentences": len(texts),
                                "most_repeated": max(texts.values(), default=0)}
    return out
