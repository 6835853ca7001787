"""Tasks: the registry (metric, labels, targets, parsers, joint form), output formats, prompt
banks, task cuts. The one home of every task output format: decoding and scoring import it.

Light to import: the registry and prompt banks are plain Python and YAML; building task cuts
(:mod:`svtk.tasks.build`) imports lhotse when it is called.

Usage::

    from svtk.tasks import get_task, load_prompts
    task = get_task("ic")
    task.metric, task.labels, task.parse(" Lights_On. ")       # 'accuracy', {...}, 'lights_on'
    load_prompts("ic").sample(random.Random(0), "train", labels=list(task.labels))
"""

from svtk.tasks.formats import (
    NONE_WORDS,
    JointParse,
    LabelMatcher,
    format_joint,
    format_keywords,
    format_slots,
    joint_tag,
    normalize_label_text,
    parse_joint,
    parse_keywords,
    parse_slots,
    parse_slots_counting,
)
from svtk.tasks.prompts import PromptBank, joint_prompt, load_prompts, prompts_dir
from svtk.tasks.registry import (
    METRICS,
    Task,
    get_task,
    metric_for,
    register_task,
    task_names,
    task_order,
    tasks,
)

__all__ = [
    "METRICS", "NONE_WORDS", "JointParse", "LabelMatcher", "PromptBank", "Task", "format_joint",
    "format_keywords", "format_slots", "get_task", "joint_prompt", "joint_tag", "load_prompts",
    "metric_for", "normalize_label_text", "parse_joint", "parse_keywords", "parse_slots",
    "parse_slots_counting", "prompts_dir", "register_task", "task_names", "task_order", "tasks",
]
