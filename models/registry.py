"""Model registry: versions on disk, a champion/challenger pointer with history, hot reload.

Layout under ``settings.models.registry_dir``::

    champion.json                     pointer: champion, challenger, history (written atomically)
    <version>/manifest.json           algorithm, members (native file + calibrator), params
    <version>/features.json           input names, kept columns, hygiene decisions
    <version>/thresholds.json         cost-optimal review / decline thresholds
    <version>/metrics.json            test metrics;  fingerprint.json: training data
    <version>/reference_histograms.json, <version>/score_histogram.json (test-slice probabilities)
    <version>/report/index.html, model.* native files
    .<version>.partial/               a version being written: renamed into place only when complete

Everything is JSON or a library's native model format; nothing is unpickled (invariant 5).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import SentinelError
from functions.features import FEATURE_INDEX
from models.boosters import BOOSTERS
from models.calibration import Calibrator
from models.loaded import LoadedModel, Member

log = logging.getLogger(__name__)
POINTER = "champion.json"


def served_inputs(input_names: list[str], kept: list[str]) -> list[str]:
    """The inputs a loaded model asks the scorer for: those it was trained on, less the features the
    online code no longer computes and the model does not read (hygiene set them aside at training).

    So a champion registered before a feature was retired keeps scoring; one that reads a retired
    feature still asks for it, and the score stage refuses it by name (``functions.score.model_matrix``).
    """
    reads = set(kept)
    return [name for name in input_names if name in FEATURE_INDEX or name in reads]


class RegistryError(SentinelError):
    """A version or pointer is missing or unusable."""


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically: a reader sees the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise RegistryError(f"missing {path}") from exc
    except (ValueError, OSError) as exc:  # truncated or corrupt JSON, invalid UTF-8, unreadable
        raise RegistryError(f"unreadable {path.name}: {exc}") from exc


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = root

    @contextmanager
    def new_version(self, algorithm: str) -> Iterator[tuple[str, Path]]:
        """Yield (version, a scratch directory); it becomes the version only if the block succeeds."""
        self.root.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        version, n = f"{stamp}-{algorithm}", 1
        while (self.root / version).exists():
            n += 1
            version = f"{stamp}-{algorithm}-{n}"
        scratch = self.root / f".{version}.partial"
        scratch.mkdir()
        try:
            yield version, scratch
            scratch.rename(self.root / version)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch)
        log.info("registered model version=%s", version)

    def sweep_partials(self, older_than_s: float) -> list[str]:
        """Delete versions being written that are older than any writer can live (killed writers)."""
        swept = []
        for path in self.root.glob(".*.partial") if self.root.is_dir() else []:
            if time.time() - path.stat().st_mtime > older_than_s:
                shutil.rmtree(path, ignore_errors=True)
                swept.append(path.name)
        if swept:
            log.warning("removed unfinished registry versions %s", swept)
        return swept

    def versions(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if not p.name.startswith(".") and (p / "manifest.json").is_file()
        )

    def read(self, version: str, name: str) -> Any:
        if version not in self.versions():
            raise RegistryError(f"no model version {version!r} in {self.root}")
        return read_json(self.root / version / name)

    def load(self, version: str) -> LoadedModel:
        manifest = self.read(version, "manifest.json")
        features = self.read(version, "features.json")
        members = [
            Member(
                booster=BOOSTERS[m["algorithm"]].load(self.root / version / m["file"]),
                calibrator=Calibrator.from_dict(m["calibrator"]),
            )
            for m in manifest["members"]
        ]
        return LoadedModel(
            version,
            served_inputs(features["input_names"], features["kept"]),
            features["kept"],
            members,
            self.thresholds(version),
        )

    def thresholds(self, version: str) -> tuple[float, float] | None:
        """The cost-optimal (review, decline) thresholds training found for ``version``, if it has them."""
        path = self.root / version / "thresholds.json"
        if not path.is_file():
            return None
        found = read_json(path)
        return float(found["review"]), float(found["decline"])

    def champion_thresholds(self) -> tuple[float, float] | None:
        """The champion's own thresholds (None: no champion, or one trained without them)."""
        champion = self.pointer().get("champion")
        return None if champion is None else self.thresholds(champion)

    # -- pointer ---------------------------------------------------------------------------

    @property
    def pointer_path(self) -> Path:
        return self.root / POINTER

    def pointer(self) -> dict[str, Any]:
        if not self.pointer_path.is_file():
            return {"champion": None, "challenger": None, "history": []}
        data: dict[str, Any] = read_json(self.pointer_path)
        return data

    def _set(self, action: str, **changes: str | None) -> dict[str, Any]:
        current = self.pointer()
        updated = {**current, **changes}
        entry = {"at": datetime.now(UTC).isoformat(), "action": action, **changes}
        updated["history"] = [*current["history"], entry]
        self.root.mkdir(parents=True, exist_ok=True)
        write_json(self.pointer_path, updated)
        log.info("registry pointer %s %s", action, changes)
        return updated

    def probe(self, version: str) -> LoadedModel:
        """``version`` loaded and scoring a probe row, or RegistryError saying why it cannot."""
        try:
            model = self.load(version)
            probe = np.zeros((1, len(model.feature_names)), dtype=np.float32)
            probability = float(model.predict_proba(probe)[0])
        except RegistryError:
            raise
        except Exception as exc:
            raise RegistryError(f"model version {version} cannot be loaded: {exc!r}") from exc
        if not 0.0 <= probability <= 1.0:
            raise RegistryError(
                f"model version {version} scores a probe row {probability}, not a probability"
            )
        return model

    def promote(self, version: str, role: str = "champion") -> dict[str, Any]:
        """Make ``version`` the champion (or challenger), once it loads and scores a probe row."""
        if version not in self.versions():
            raise RegistryError(f"no model version {version!r} in {self.root}")
        self.probe(version)
        if role == "challenger":
            return self._set("challenger", challenger=version)
        if role != "champion":
            raise RegistryError(f"role must be champion or challenger, not {role!r}")
        current = self.pointer()
        challenger = None if current["challenger"] == version else current["challenger"]
        return self._set("promote", champion=version, challenger=challenger)

    def clear_challenger(self) -> dict[str, Any]:
        """No challenger any more (no history entry when there was none)."""
        current = self.pointer()
        return self._set("clear-challenger", challenger=None) if current.get("challenger") else current

    def rollback(self) -> dict[str, Any]:
        """Make the champion before the current one champion again (repeatable, like undo)."""
        stack: list[str] = []
        for entry in self.pointer()["history"]:
            if entry["action"] == "promote":
                stack.append(entry["champion"])
            elif entry["action"] == "rollback":
                stack.pop()
        if len(stack) < 2:
            raise RegistryError("no earlier champion to roll back to")
        return self._set("rollback", champion=stack[-2])


class ChampionSource:
    """The current champion (and challenger) for a running scorer, reloaded when promoted.

    ``champion()`` is cheap: it stats the pointer file at most every ``interval_s`` seconds
    and reloads only when it changed, so a promotion reaches running scorers without restart.
    Every version is warmed before it is served: loaded and made to score a probe row
    (``Registry.probe``), so the first real score pays no first-use cost. The first models load
    in the caller; later ones (a promotion) load on a background thread while the current ones
    keep serving, and are swapped in once warm: no batch or request waits for a load. A version
    that fails to load is logged and tried again at the next check; the current ones stay.
    """

    def __init__(
        self, registry: Registry, interval_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = registry
        self.interval_s = interval_s
        self.clock = clock
        self._checked = -float("inf")
        self._stamp: tuple[int, int] | None = None
        self._models: tuple[LoadedModel | None, LoadedModel | None] = (None, None)  # champion, challenger
        self._loading: threading.Thread | None = None
        self._failed: str | None = None  # why the first models did not load (retried each interval)

    def _refresh(self) -> None:
        now = self.clock()
        if now - self._checked < self.interval_s:
            if self._failed is not None:  # nothing served, and the last try failed: say why again
                raise RegistryError(self._failed)
            return
        self._checked = now
        try:
            stat = self.registry.pointer_path.stat()
        except FileNotFoundError:
            return
        stamp = (stat.st_mtime_ns, stat.st_ino)
        if stamp == self._stamp or (self._loading is not None and self._loading.is_alive()):
            return
        if self._models == (None, None):
            try:
                self._load(stamp)
            except RegistryError as exc:
                self._failed = str(exc)
                raise
            self._failed = None
            return
        self._loading = threading.Thread(
            target=self._load_in_background, args=(stamp,), name="model-reload", daemon=True
        )
        self._loading.start()

    def _load(self, stamp: tuple[int, int]) -> None:
        pointer = self.registry.pointer()
        models = (self._reuse_or_load(pointer["champion"]), self._reuse_or_load(pointer["challenger"]))
        self._models, self._stamp = models, stamp  # one assignment: both swap together
        log.info("scorer models champion=%s challenger=%s", pointer["champion"], pointer["challenger"])

    def _load_in_background(self, stamp: tuple[int, int]) -> None:
        try:
            self._load(stamp)
        except RegistryError as exc:
            log.error("new models not loaded, still serving the current ones: %s", exc)

    def _reuse_or_load(self, version: str | None) -> LoadedModel | None:
        if version is None:
            return None
        for loaded in self._models:
            if loaded is not None and loaded.version == version:
                return loaded
        return self.registry.probe(version)  # loaded and warm (one probe row scored)

    def wait_loaded(self, timeout_s: float) -> bool:
        """Wait for a background reload to finish (tests, shutdown): True when none runs."""
        if self._loading is not None:
            self._loading.join(timeout_s)
        return self._loading is None or not self._loading.is_alive()

    def champion(self) -> LoadedModel | None:
        self._refresh()
        return self._models[0]

    def challenger(self) -> LoadedModel | None:
        self._refresh()
        return self._models[1]
