"""Streams runtime: stateless functions on Redis Streams consumer groups, and the broker -> Redis mirror.

It knows nothing about fraud. The pieces, in the order an event meets them:

- :mod:`streams.mirror`   broker topics -> Redis streams, offsets stored with the XADDs (exactly once)
- :mod:`streams.keys`     every Redis key/stream name of the runtime, under one prefix
- :mod:`streams.events`   entry layout (``d`` + metadata such as ``published_ns``), Event, effects, codecs
- :mod:`streams.function` FunctionSpec (one row of the pipeline table), Context, Pipeline
- :mod:`streams.worker`   the consumer loop: read, decode, call, commit, reclaim, trim, stop
- :mod:`streams.isolation` call a function; on an error, isolate the bad event (dead letter / retry)
- :mod:`streams.commit`   outputs + effects + dead letters + XACK in one ownership-checked script
- :mod:`streams.fusion`   consecutive functions in one consumer (operator chaining)
- :mod:`streams.groups`   idempotent groups, backlog, trimming below what every group consumed
- :mod:`streams.metrics`  per-function counters, latencies, lag (Redis + Prometheus)
- :mod:`streams.dlq`      dead letters: list, show, replay
- :mod:`streams.cli`      ``sentinel fn``, ``sentinel dlq``, ``sentinel mirror``
- :mod:`streams.inline`   the one-off door: a chain run once outside a consumer group (sync scoring)

Its benchmark (``sentinel bench streams``) lives with the others in ``infra/bench/``.
"""
