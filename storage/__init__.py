"""Where studies live: database URLs, engines and Optuna's RDB storage.

Optuna's tables stay Optuna's; anything of our own goes through SQLAlchemy here.
"""

from __future__ import annotations

from optsearch.storage._engine import grace_seconds, heartbeat_seconds, open_storage, retry_callback
from optsearch.storage._locks import study_lock
from optsearch.storage._url import DEFAULT_STORAGE_ENV, default_storage_url, mask_url
from optsearch.storage._workers import WorkerRecord, WorkerRegistry

__all__ = [
    "DEFAULT_STORAGE_ENV",
    "WorkerRecord",
    "WorkerRegistry",
    "default_storage_url",
    "grace_seconds",
    "heartbeat_seconds",
    "mask_url",
    "open_storage",
    "retry_callback",
    "study_lock",
]
