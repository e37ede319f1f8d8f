"""Gateway composition root: settings from the environment + the pipeline table -> the HTTP app.

granian imports ``app_from_environment`` in each worker process (``sentinel gateway``). The
gateway scores with the pipeline's own enrich and score functions, fused, and streams the
score stage's outputs live; their names come from the stage wiring here, the one place that
knows both.
"""

from __future__ import annotations

from litestar import Litestar

from core.settings import Settings, get_settings
from gateway.app import create_app
from gateway.wiring import Wiring
from infra.pipeline.streams import ALERTS, LABELS, SCORED
from streams.function import load_pipeline

SCORE_CHAIN = ("enrich", "score")


def wiring(settings: Settings) -> Wiring:
    return Wiring(
        pipeline=load_pipeline(settings.streams.pipeline),
        score_chain=SCORE_CHAIN,
        scored_stream=SCORED,
        alerts_stream=ALERTS,
        labels_stream=LABELS,
    )


def gateway_app(settings: Settings) -> Litestar:
    return create_app(settings, wiring(settings))


def app_from_environment() -> Litestar:
    """The app factory granian calls in each worker: settings from the environment."""
    return gateway_app(get_settings())
