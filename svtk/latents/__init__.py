"""Encoder-latent cache: run the frozen encoder once per recording, store its latents.

:mod:`svtk.latents.extract` (``svtk latents extract``), :mod:`svtk.latents.storage` (lhotse
storage backend, registered on import), :mod:`svtk.latents.tag` (cache keys).
"""
