"""Reading studies: reports, figures and optuna-dashboard (see the later issues)."""

from __future__ import annotations

__all__: list[str] = []
