"""Model registry operations for the API: list, show, promote, roll back (each change audit-logged)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import msgspec
import redis

from gateway.problems import Conflict, NotFound, Unavailable
from gateway.schemas.models import ModelDetail, ModelPointer, ModelSummary, PointerChange, Role
from gateway.services.audit import AuditLog, now_iso
from models.registry import Registry, RegistryError

log = logging.getLogger(__name__)


def _headline(metrics: dict[str, Any]) -> dict[str, float]:
    test = metrics.get("test", {})
    return {k: float(v) for k, v in test.items() if isinstance(v, int | float) and not isinstance(v, bool)}


class ModelService:
    def __init__(self, registry: Registry, client: redis.Redis, audit: AuditLog) -> None:
        self._registry = registry
        self._redis = client
        self._audit = audit

    def _pointer(self) -> dict[str, Any]:
        """The champion pointer; an unreadable one is an outage of the registry (503), not a 500."""
        try:
            return self._registry.pointer()
        except RegistryError as exc:
            log.warning("model registry pointer unreadable: %s", exc)
            raise Unavailable(f"model registry unreadable: {exc}") from exc

    def _roles(self) -> dict[str, Role]:
        pointer = self._pointer()
        roles: dict[str, Role] = {}
        if pointer.get("challenger"):
            roles[pointer["challenger"]] = "challenger"
        if pointer.get("champion"):
            roles[pointer["champion"]] = "champion"
        return roles

    def _require(self, version: str) -> None:
        if version not in self._registry.versions():
            raise NotFound(f"no model version {version!r}")

    def list(self) -> list[ModelSummary]:
        roles = self._roles()
        return [
            ModelSummary(
                version=version,
                algorithm=str(self._registry.read(version, "manifest.json")["algorithm"]),
                role=roles.get(version),
                metrics=_headline(self._registry.read(version, "metrics.json")),
            )
            for version in reversed(self._registry.versions())
        ]

    def show(self, version: str) -> ModelDetail:
        self._require(version)
        manifest = self._registry.read(version, "manifest.json")
        features = self._registry.read(version, "features.json")
        thresholds = self._registry.read(version, "thresholds.json")
        return ModelDetail(
            version=version,
            algorithm=str(manifest["algorithm"]),
            role=self._roles().get(version),
            thresholds={k: float(v) for k, v in thresholds.items()},
            metrics=self._registry.read(version, "metrics.json"),
            params=manifest.get("params", {}),
            members=[str(m["algorithm"]) for m in manifest["members"]],
            feature_inputs=len(features["input_names"]),
            feature_kept=len(features["kept"]),
            report=f"/v1/models/{version}/report" if self._report_path(version).is_file() else None,
        )

    def _report_path(self, version: str) -> Path:
        return self._registry.root / version / "report" / "index.html"

    def report(self, version: str) -> bytes:
        """The version's training report: one HTML page, its figures inlined."""
        self._require(version)  # a registered version name, never a path of the caller's
        try:
            return self._report_path(version).read_bytes()
        except FileNotFoundError as exc:
            raise NotFound(f"model version {version!r} has no report") from exc

    def pointer(self) -> ModelPointer:
        return msgspec.convert(self._pointer(), ModelPointer)

    def promote(self, version: str, role: Role, actor: str) -> ModelPointer:
        self._require(version)
        try:
            updated = self._registry.promote(version, role)
        except RegistryError as exc:
            raise Conflict(str(exc)) from exc
        self._log(actor, "model.promote", {"version": version, "role": role})
        return msgspec.convert(updated, ModelPointer)

    def rollback(self, actor: str) -> ModelPointer:
        before = self._pointer().get("champion")
        try:
            updated = self._registry.rollback()
        except RegistryError as exc:
            raise Conflict(str(exc)) from exc
        self._log(actor, "model.rollback", {"from": str(before), "to": str(updated["champion"])})
        return msgspec.convert(updated, ModelPointer)

    def _log(self, actor: str, action: str, detail: dict[str, str]) -> None:
        pipe = self._redis.pipeline(transaction=True)
        self._audit.record(pipe, actor, action, detail, now_iso())
        pipe.execute()


__all__ = ["ModelService", "PointerChange"]
