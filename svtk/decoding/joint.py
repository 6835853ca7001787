"""The joint output format ``ASR: <transcript> | <TASK>: <output> |``: format and parse.

Joint decoding has the model emit the transcript first and the task output second, in one
generation (SpeechVerse section 3.4). This small parser is the decoder's own; it is meant to be
unified with ``svtk.tasks``' ``format_joint`` / ``parse_joint`` once that registry lands (same
format, so the two must agree; the tests pin the format).

Usage::

    text = format_joint("play some jazz", "ic", "play_music")
    parse_joint(text)   # JointParse(transcript='play some jazz', task='ic', output='play_music', ok=True)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

JOINT_ASR_TAG = "ASR"
JOINT_SEP = "|"


def joint_tag(task: str) -> str:
    """The tag a task's output carries in joint form: its registry name in upper case."""
    return task.upper()


def format_joint(transcript: str, task: str, output: str) -> str:
    return f"{JOINT_ASR_TAG}: {transcript.strip()} {JOINT_SEP} {joint_tag(task)}: {output.strip()} {JOINT_SEP}"


@dataclass(frozen=True)
class JointParse:
    transcript: str
    task: str | None  # the tag found, lower case (None when unparsed)
    output: str
    ok: bool  # False: the text did not follow the format; transcript/output are best effort


_JOINT = re.compile(
    rf"^\s*{JOINT_ASR_TAG}\s*:\s*(?P<asr>[^{re.escape(JOINT_SEP)}]*?)\s*{re.escape(JOINT_SEP)}"
    rf"\s*(?P<tag>[A-Za-z_][\w-]*)\s*:\s*(?P<out>[^{re.escape(JOINT_SEP)}]*?)\s*"
    rf"(?:{re.escape(JOINT_SEP)}\s*)?$",
    re.S,
)


def parse_joint(text: str) -> JointParse:
    """Split a joint output into transcript and task output.

    A missing final ``|`` is tolerated (a generation cut by the length limit); anything else
    that does not follow the format gives ``ok=False`` with the whole text as transcript when
    it starts with ``ASR:`` (else as output), so scoring counts it instead of dropping it.
    """
    m = _JOINT.match(text)
    if m:
        return JointParse(m["asr"], m["tag"].lower(), m["out"], True)
    head = re.match(rf"^\s*{JOINT_ASR_TAG}\s*:\s*(.*)$", text, re.S)
    if head:
        return JointParse(head[1].split(JOINT_SEP)[0].strip(), None, "", False)
    return JointParse("", None, text.strip(), False)
