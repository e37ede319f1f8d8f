"""Benchmarks, one wing: ``sentinel bench NAME`` (``cli.py``), one module per benchmark, one report writer.

    data        data_path.py        generator rows/s, loader, decode, simulator rates
    streams     runtime.py          mirror and a no-op function: events/s, per-hop latency (children.py)
    api         api.py              POST /v1/score on a real gateway (loadgen.py, payloads.py, gateway_process.py)
    e2e         e2e.py              broker -> mirror -> enrich -> score
    stage       stage_cost.py       enrich alone: worker CPU, Redis calls and instructions per event
    ablation    ablation.py         model quality without sets of features, per seed
    inference   inference.py        µs per transaction per algorithm
    lifecycle   lifecycle.py        retrain / drift-check time, estimate before labels vs realised

Every benchmark prints a table and writes its JSON document with ``report.write``.
"""
