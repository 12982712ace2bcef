"""digest: self-hosted paper alerts and daily digests.

Public API for other programs: :class:`digest.store.Store`, the value types in
:mod:`digest.models`, the exceptions in :mod:`digest.errors`, :func:`digest.config.load_settings`.
Everything else is internal and may change.
"""

__version__ = "0.1.0"
