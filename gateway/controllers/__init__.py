"""Gateway HTTP surface: one controller per domain, registered here."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from gateway.controllers.alerts import AlertsController
from gateway.controllers.audit import AuditController
from gateway.controllers.drift import DriftController
from gateway.controllers.events import EventsController
from gateway.controllers.health import HealthController
from gateway.controllers.me import MeController
from gateway.controllers.metrics import MetricsController
from gateway.controllers.models import ModelsController
from gateway.controllers.score import ScoreController
from gateway.controllers.strategy import StrategyController
from gateway.controllers.transactions import TransactionsController

CONTROLLERS: list[ControllerRouterHandler] = [
    HealthController,
    ScoreController,
    TransactionsController,
    ModelsController,
    StrategyController,
    EventsController,
    AlertsController,
    AuditController,
    MetricsController,
    MeController,
    DriftController,
]
