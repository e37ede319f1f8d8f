"""Gateway DTOs of the model registry: versions, their metrics, and the champion/challenger pointer."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

Role = Literal["champion", "challenger"]


class ModelSummary(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    algorithm: str
    role: Role | None
    metrics: dict[str, float]  # headline test metrics (pr_auc, roc_auc, ...)


class ModelDetail(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    algorithm: str
    role: Role | None
    thresholds: dict[str, float]
    metrics: dict[str, Any]
    params: dict[str, Any]
    members: list[str]
    feature_inputs: int
    feature_kept: int
    report: str | None = None  # URL of the training report (HTML, figures inlined), when it exists


class PointerChange(msgspec.Struct, frozen=True, kw_only=True):
    at: str
    action: str
    champion: str | None = None
    challenger: str | None = None


class ModelPointer(msgspec.Struct, frozen=True, kw_only=True):
    champion: str | None
    challenger: str | None
    history: list[PointerChange]


class Promote(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    role: Role = "champion"
