"""svtk: a toolkit for SpeechVerse-style audio language models.

A frozen speech encoder, a learnable layer mix and convolutional downsampler, and a frozen LLM
adapted with LoRA, trained by multi-task instruction tuning with a curriculum, decoded with
label-constrained and joint decoding, and scored with each task's standard metric.

Importing ``svtk`` is cheap: torch, transformers and lhotse are imported by the modules that
need them, never here.

Usage::

    svtk --help
"""

__version__ = "0.1.0"
