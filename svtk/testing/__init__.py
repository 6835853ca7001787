"""Helpers for tests that other code can reuse (tiny corpora, tiny models built from configs).

Everything here runs offline on CPU in seconds. Test suites import from here instead of keeping
private copies, as lhotse does with ``lhotse.testing``.
"""
