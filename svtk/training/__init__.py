"""Curriculum training: phases from config, task mixing, checkpoints with exact resume, DDP.

Modules: ``config`` (TrainConfig, PhaseConfig), ``objectives`` (TrainableModel protocol and
the objective registry), ``data`` (task-weighted, duration-bucketed, rank-aware batches),
``curriculum`` (trainable groups, init from the previous phase), ``checkpoint`` (safetensors +
state, atomic, last K + best), ``distributed`` (torchrun, DDP/FSDP), ``metrics``
(metrics.jsonl, TensorBoard), ``loop`` (:func:`train_phase`), ``bench`` (benchmarks).

Importing this package is light; torch and lhotse load inside the functions that use them.

Usage::

    from svtk.training.loop import train_phase
    train_phase(cfg, "phase1", "exp/mini")
"""
