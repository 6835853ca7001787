"""Voices, speech-synthesis engines, speaking styles and non-speech sounds for the synthetic corpus.

Engines (a registry, one entry per Debian program): espeak-ng (English accents x voice variants),
flite (kal16, awb, rms, slt) and festival (kal_diphone, ked_diphone, cmu_us_slt_arctic_hts; many
sentences per process, because starting festival costs more than synthesising a sentence). Every
engine output goes through one sox call that resamples to 16 kHz mono and applies the speaking
style (tempo, pitch or level), so the style label is carried by the audio.

Writes audio files under a work directory it is given; reads nothing else.

Usage::

    voice = all_voices()["espeak:en-gb-scotland+f2"]
    render_segments([Segment(voice.id, "call mom", "fast")], work_dir)   # float32 (N,)
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from svtk.errors import UserError

SAMPLE_RATE = 16000

ESPEAK_ACCENTS = {  # espeak-ng voice -> accent label (svtk.tasks AC labels)
    "en-us": "american",
    "en-gb": "british",
    "en-gb-scotland": "scottish",
    "en-gb-x-rp": "rp",
    "en-gb-x-gbclan": "lancastrian",
    "en-gb-x-gbcwmd": "west_midlands",
    "en-029": "caribbean",
    "en-us-nyc": "new_york",
}
ESPEAK_VARIANTS = {**{f"f{i}": "female" for i in range(1, 6)}, **{f"m{i}": "male" for i in range(1, 8)}}
FLITE_VOICES = {"kal16": ("american", "male"), "awb": ("scottish", "male"),
                "rms": ("american", "male"), "slt": ("american", "female")}
FESTIVAL_VOICES = {"kal_diphone": ("american", "male"), "ked_diphone": ("american", "male"),
                   "cmu_us_slt_arctic_hts": ("american", "female")}
FESTIVAL_PACKAGES = {"kal_diphone": "festvox-kallpc16k", "ked_diphone": "festvox-kdlpc16k",
                     "cmu_us_slt_arctic_hts": "festvox-us-slt-hts"}


@dataclass(frozen=True)
class Voice:
    id: str  # "<engine>:<name>", e.g. "espeak:en-gb-scotland+f2", "flite:awb"
    engine: str
    name: str
    accent: str
    gender: str


def all_voices() -> dict[str, Voice]:
    voices = []
    for lang, accent in ESPEAK_ACCENTS.items():
        for var, gender in ESPEAK_VARIANTS.items():
            voices.append(Voice(f"espeak:{lang}+{var}", "espeak", f"{lang}+{var}", accent, gender))
    for name, (accent, gender) in FLITE_VOICES.items():
        voices.append(Voice(f"flite:{name}", "flite", name, accent, gender))
    for name, (accent, gender) in FESTIVAL_VOICES.items():
        voices.append(Voice(f"festival:{name}", "festival", name, accent, gender))
    return {v.id: v for v in voices}


# --------------------------------------------------------------------------------------------
# Engines: (voice, [(text, out_path)]) -> files written
# --------------------------------------------------------------------------------------------


def run_tool(cmd: list[str], what: str, stdin: str | None = None) -> None:
    res = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{what} failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-2000:]}")


def _espeak(voice: Voice, jobs: list[tuple[str, Path]]) -> None:
    for text, out in jobs:
        run_tool(["espeak-ng", "-v", voice.name, "-w", str(out), text], "espeak-ng")


def _flite(voice: Voice, jobs: list[tuple[str, Path]]) -> None:
    for text, out in jobs:
        run_tool(["flite", "-voice", voice.name, "-t", text, "-o", str(out)], "flite")


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _festival(voice: Voice, jobs: list[tuple[str, Path]]) -> None:
    lines = [f"(voice_{voice.name})"]
    for text, out in jobs:
        lines.append(f"(utt.save.wave (utt.synth (Utterance Text {_scheme_string(text)})) "
                     f"{_scheme_string(str(out))} 'riff)")
    script = jobs[0][1].with_suffix(".scm")
    script.write_text("\n".join(lines) + "\n")
    run_tool(["festival", "-b", str(script)], "festival")
    missing = [str(out) for _, out in jobs if not out.exists()]
    if missing:
        raise RuntimeError(f"festival ({voice.name}) wrote no audio for {missing[:3]}")


@dataclass(frozen=True)
class Engine:
    name: str
    program: str  # checked with svtk.system.require_tool
    synthesize: Callable[[Voice, list[tuple[str, Path]]], None]
    # 0: one process per sentence, run chunk by chunk with the rest of the rendering. N > 0: the
    # engine takes many sentences per process and starting it costs more than a sentence
    # (festival: ~0.36 s to start, 40-170 ms per sentence), so the corpus's sentences of each
    # voice go N at a time to one process, before the chunks (svtk.data.synth)
    batch: int = 0


ENGINES: dict[str, Engine] = {
    "espeak": Engine("espeak", "espeak-ng", _espeak),
    "flite": Engine("flite", "flite", _flite),
    "festival": Engine("festival", "text2wave", _festival, batch=48),
}


def require_voices(voices: list[Voice]) -> None:
    """One clear error naming the Debian package of the first missing engine or voice."""
    from svtk.system import require_festival_voice, require_tool

    require_tool("sox")
    for engine in sorted({v.engine for v in voices}):
        require_tool(ENGINES[engine].program)
    for v in voices:
        if v.engine == "festival":
            require_festival_voice(FESTIVAL_PACKAGES[v.name])
    flite = {v.name for v in voices if v.engine == "flite"}
    if flite:
        out = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout.split()
        missing = sorted(flite - set(out))
        if missing:
            raise UserError(f"flite has no voice(s) {missing} (it lists: {' '.join(out[2:])}); "
                            "the Debian package 'flite' provides kal16, awb, rms and slt")


# --------------------------------------------------------------------------------------------
# Styles: sox effects after resampling (the label is carried by the audio)
# --------------------------------------------------------------------------------------------

STYLE_EFFECTS: dict[str, list[str]] = {
    "neutral": [],
    "fast": ["tempo", "-s", "1.4"],
    "slow": ["tempo", "-s", "0.72"],
    "high": ["pitch", "500"],
    "low": ["pitch", "-500"],
    "loud": ["compand", "0.005,0.1", "-70,-70,-50,-26,-20,-8,0,-3"],  # compressed, then louder
    "quiet": [],
}
# Level of each style, dB of RMS re full scale (set in Python after sox): every voice and engine
# comes out at the same loudness, so loud/quiet are carried by level alone (+-10/16 dB).
NEUTRAL_RMS_DB = -24.0
STYLE_RMS_DB = {"loud": -14.0, "quiet": -40.0}
STYLE_RATE = {"fast": 1.4, "slow": 0.72}  # duration factor for planning (1 / tempo)


def sox_convert(src: Path, dst: Path, effects: list[str]) -> None:
    """Resample to 16 kHz mono 16-bit with ``effects``; -R -D: repeatable, no dither."""
    run_tool(["sox", "-R", "-D", str(src), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(dst),
          *effects], "sox")


# --------------------------------------------------------------------------------------------
# Non-speech sounds made with sox (SNS negatives)
# --------------------------------------------------------------------------------------------


def nonspeech_command(kind: str, dur: float, p: dict[str, float], out: Path) -> list[str]:
    """The sox command for one non-speech sound (``p``: parameters drawn by the planner)."""
    head = ["sox", "-R", "-D", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(out)]
    d = f"{dur:.3f}"
    f1, f2, f3 = (f"{p[k]:.1f}" for k in ("f1", "f2", "f3"))
    fade = ["fade", "0.05", d, "0.05"]
    if kind == "noise":  # coloured noise through a band-pass, a different stretch each time
        color = ("whitenoise", "pinknoise", "brownnoise")[int(p["color"]) % 3]
        return head + ["synth", f"{dur + p['offset']:.3f}", color, "trim", f"{p['offset']:.3f}",
                       "sinc", f"{p['lo']:.0f}-{p['hi']:.0f}", *fade, "gain", "-n", "-6"]
    if kind == "tone":  # a steady or swept sine
        sweep = f"{f1}-{f2}" if p["sweep"] > 0.5 else f1
        return head + ["synth", d, "sine", sweep, *fade, "gain", "-n", "-6"]
    if kind == "chord":  # three plucked or sine notes together
        wave = "pluck" if p["sweep"] > 0.5 else "sine"
        return head + ["synth", d, wave, f1, wave, f2, wave, f3, "channels", "1", *fade,
                       "gain", "-n", "-6"]
    if kind == "clicks":  # a train of short pulses
        return head + ["synth", d, "square", f"{p['rate']:.2f}", "0", "0", "3", "highpass", "500",
                       "gain", "-n", "-6"]
    if kind == "hum":  # mains-like hum with harmonics and a slow tremolo
        return head + ["synth", d, "sawtooth", f"{p['mains']:.0f}", "lowpass", f"{p['hi']:.0f}",
                       "tremolo", f"{p['rate']:.2f}", "60", *fade, "gain", "-n", "-6"]
    raise ValueError(f"unknown non-speech kind {kind!r}")


NONSPEECH_KINDS = ("noise", "tone", "chord", "clicks", "hum")


# --------------------------------------------------------------------------------------------
# Rendering one recording from its segments
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    voice: str  # voice id
    text: str
    style: str = "neutral"
    start: float = 0.0  # seconds from the start of the recording (overlap when < previous end)


def set_level(audio: np.ndarray, style: str) -> np.ndarray:
    """Scale to the style's RMS level; peaks above -0.1 dBFS are clipped (rare, loud only)."""
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0
    if rms <= 0:
        return audio
    gain = 10 ** (STYLE_RMS_DB.get(style, NEUTRAL_RMS_DB) / 20) / rms
    return np.clip(audio * gain, -0.989, 0.989).astype(np.float32)


def read_wav(path: Path) -> np.ndarray:
    import soundfile as sf

    audio, sr = sf.read(str(path), dtype="float32", always_2d=False)
    if sr != SAMPLE_RATE:
        raise RuntimeError(f"{path}: sample rate {sr}, expected {SAMPLE_RATE}")
    return audio


def synthesize_batch(segments: list[tuple[Segment, Path]], voices: dict[str, Voice]) -> None:
    """Synthesise every (segment, raw output path); engine calls grouped by voice."""
    by_voice: dict[str, list[tuple[str, Path]]] = {}
    for seg, raw in segments:
        by_voice.setdefault(seg.voice, []).append((seg.text, raw))
    for vid, jobs in by_voice.items():
        voice = voices[vid]
        ENGINES[voice.engine].synthesize(voice, jobs)


def batch_size(voice: Voice) -> int:
    """Sentences per process of the voice's engine (``Engine.batch``; 0: it does not batch)."""
    return ENGINES[voice.engine].batch


def engine_batches(segments: list[tuple[Segment, Path]], voices: dict[str, Voice]
                   ) -> list[list[tuple[Segment, Path]]]:
    """The segments of batching engines (``Engine.batch`` > 0), grouped by voice and cut into
    batches of at most ``batch``, the most text first (a worker pool then finishes evenly)."""
    by_voice: dict[str, list[tuple[Segment, Path]]] = {}
    for seg, raw in segments:
        if batch_size(voices[seg.voice]) > 0:
            by_voice.setdefault(seg.voice, []).append((seg, raw))
    batches = []
    for vid, jobs in by_voice.items():
        size = batch_size(voices[vid])
        batches += [jobs[i:i + size] for i in range(0, len(jobs), size)]
    return sorted(batches, key=lambda b: -sum(len(seg.text) for seg, _ in b))


def mix(parts: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """Place each (start seconds, audio) on one track; overlapping parts are summed."""
    end = max(int(round(s * SAMPLE_RATE)) + len(a) for s, a in parts)
    out = np.zeros(end, dtype=np.float32)
    for s, a in parts:
        i = int(round(s * SAMPLE_RATE))
        out[i:i + len(a)] += a
    peak = float(np.abs(out).max()) if len(out) else 0.0
    if peak > 0.989:  # two overlapped voices can clip
        out *= 0.989 / peak
    return out
