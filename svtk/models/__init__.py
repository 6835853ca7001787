"""SpeechLM models: encoders, layer mix, downsampler, LLM adapters, tokenizers.

Submodules import torch/transformers; this package init stays light. Start at
:mod:`svtk.models.speechlm` (``SpeechLM.from_config``) and :mod:`svtk.models.config`.
"""
