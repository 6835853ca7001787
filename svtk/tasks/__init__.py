"""Tasks: the registry (metric, labels, targets, parsers, joint form), prompt banks, task cuts.

Light to import: the registry and prompt banks are plain Python and YAML; building task cuts
(:mod:`svtk.tasks.build`) imports lhotse when it is called.

Usage::

    from svtk.tasks import get_task, load_prompts
    task = get_task("ic")
    task.metric, task.labels, task.parse(" Lights_On. ")       # 'accuracy', {...}, 'lights_on'
    load_prompts("ic").sample(random.Random(0), "train", labels=list(task.labels))
"""

from svtk.tasks.prompts import PromptBank, joint_prompt, load_prompts, prompts_dir
from svtk.tasks.registry import (
    METRICS,
    Task,
    get_task,
    parse_joint,
    register_task,
    task_names,
    tasks,
)

__all__ = [
    "METRICS", "PromptBank", "Task", "get_task", "joint_prompt", "load_prompts", "parse_joint",
    "prompts_dir", "register_task", "task_names", "tasks",
]
