"""Where studies live: database URLs, engines and Optuna's RDB storage.

Optuna's tables stay Optuna's; anything of our own goes through SQLAlchemy here.
"""

from __future__ import annotations

from optsearch.storage._engine import open_storage
from optsearch.storage._url import DEFAULT_STORAGE_ENV, default_storage_url, mask_url

__all__ = ["DEFAULT_STORAGE_ENV", "default_storage_url", "mask_url", "open_storage"]
