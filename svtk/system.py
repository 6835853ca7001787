"""External programs svtk relies on, and a report of the environment (``svtk check``).

Recipes synthesise speech with Debian's engines and process audio with sox. A missing program is
one :class:`~svtk.errors.UserError` naming the Debian package that provides it.

Usage::

    require_tool("espeak-ng")          # raises UserError: ... apt-get install espeak-ng
    print(environment_report())
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from svtk.errors import UserError


@dataclass(frozen=True)
class Tool:
    command: str
    package: str  # the Debian package that provides it
    purpose: str


TOOLS = {
    t.command: t
    for t in (
        Tool("espeak-ng", "espeak-ng", "speech synthesis, English accents and voice variants"),
        Tool("flite", "flite", "speech synthesis (voices kal16, awb, rms, slt)"),
        Tool("text2wave", "festival", "speech synthesis (festival voices)"),
        Tool("sox", "sox", "resampling, speed/pitch/volume, noise and mixing"),
    )
}

# Festival voices: Debian package -> the voice directory it installs.
FESTIVAL_VOICES = {
    "festvox-kallpc16k": "kal_diphone",
    "festvox-kdlpc16k": "ked_diphone",
    "festvox-us-slt-hts": "cmu_us_slt_arctic_hts",
}
FESTIVAL_VOICE_ROOT = Path("/usr/share/festival/voices")


def require_tool(command: str) -> str:
    """The path of ``command``; a UserError naming its Debian package when it is missing."""
    path = shutil.which(command)
    if path is None:
        tool = TOOLS.get(command)
        pkg = tool.package if tool else command
        raise UserError(
            f"'{command}' was not found on PATH; it comes with the Debian package '{pkg}': "
            f"apt-get install {pkg}   (bin/setup.sh installs everything the recipes need)"
        )
    return path


def festival_voice_installed(package: str) -> bool:
    voice = FESTIVAL_VOICES[package]
    return any(FESTIVAL_VOICE_ROOT.glob(f"*/{voice}"))


def require_festival_voice(package: str) -> str:
    require_tool("text2wave")
    if not festival_voice_installed(package):
        raise UserError(f"festival voice '{FESTIVAL_VOICES[package]}' is missing; it comes with "
                        f"the Debian package '{package}': apt-get install {package}")
    return FESTIVAL_VOICES[package]


def environment_report() -> list[tuple[str, str, bool]]:
    """(component, detail, ok) rows: Python packages, torch device, external programs."""
    from svtk.runinfo import cpu_capability, package_versions

    rows: list[tuple[str, str, bool]] = []
    for name, version in package_versions().items():
        rows.append((name, version or "not installed", version is not None))
    try:
        import torch

        cuda = torch.cuda.is_available()
        detail = (f"threads={torch.get_num_threads()}, "
                  f"cpu kernels={cpu_capability()}, "
                  f"cuda={'yes: ' + torch.cuda.get_device_name(0) if cuda else 'no'}")
        rows.append(("torch device", detail, True))
    except Exception as e:  # noqa: BLE001 - the report must not die on a broken torch
        rows.append(("torch device", f"import failed: {e}", False))
    for tool in TOOLS.values():
        path = shutil.which(tool.command)
        rows.append((tool.command, path or f"missing: apt-get install {tool.package}", path is not None))
    for pkg, voice in FESTIVAL_VOICES.items():
        ok = festival_voice_installed(pkg)
        rows.append((f"festival voice {voice}", "ok" if ok else f"missing: apt-get install {pkg}", ok))
    return rows
