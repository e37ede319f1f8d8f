"""compose.yaml, the Procfile and the k8s manifests agree with the CLI and the settings.

There is no Docker engine or cluster on the development machines, so these files are
validated statically: a renamed command or setting breaks this test, not a deployment.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from core.settings import Settings
from infra.cli import COMMANDS
from infra.pipeline.table import PIPELINE
from streams.keys import Shards

ROOT = Path(__file__).resolve().parents[2]
SETTING_ENVS = {env for env, *_ in Settings().describe()}
RQ_TOOLS = {"rq", "rqscheduler", "rq-dashboard"}


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def _k8s_documents() -> list[dict[str, Any]]:
    docs = []
    for path in sorted((ROOT / "infra" / "k8s").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def _check_sentinel_argv(argv: list[str], where: str) -> None:
    assert argv, f"{where}: empty command"
    assert argv[0] in COMMANDS, f"{where}: `sentinel {argv[0]}` is not a command ({sorted(COMMANDS)})"


def test_compose_services_run_existing_commands() -> None:
    services = _compose()["services"]
    assert {"redpanda", "redis", "mirror", "enrich", "score", "label", "gateway"} <= set(services)
    for name, service in services.items():
        if service.get("image", "").startswith("sentinel") or "build" in service:
            if "entrypoint" in service:
                assert service["entrypoint"][0] in RQ_TOOLS, f"{name}: unexpected entrypoint"
            else:
                _check_sentinel_argv(service["command"], f"compose service {name}")


def test_compose_environment_matches_settings() -> None:
    for name, service in _compose()["services"].items():
        for env in service.get("environment", {}):
            if env.startswith("SENTINEL_"):
                assert env in SETTING_ENVS, f"compose service {name}: {env} is not a setting"


def test_compose_gateway_port_matches_its_settings() -> None:
    gateway = _compose()["services"]["gateway"]
    port = gateway["environment"]["SENTINEL_GATEWAY_PORT"]
    assert any(mapping.endswith(f":{port}") for mapping in gateway["ports"])
    assert f"127.0.0.1:{port}" in " ".join(gateway["healthcheck"]["test"])


def test_compose_volumes_persist_redis_redpanda_and_models() -> None:
    compose = _compose()
    assert {"redis", "redpanda", "models"} <= set(compose["volumes"])
    assert "--appendonly" in compose["services"]["redis"]["command"]


def test_every_k8s_process_that_trains_or_scores_shares_one_registry_volume() -> None:
    """The champion pointer is a file in the registry: the jobs worker (writes), the score stage
    and the gateway (read) must mount one ReadWriteMany claim at SENTINEL_MODELS_REGISTRY_DIR."""
    docs = _k8s_documents()
    (claim,) = [d for d in docs if d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"] == "models"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    registry = config["data"]["SENTINEL_MODELS_REGISTRY_DIR"]
    mounts: dict[str, bool] = {}
    for d in docs:
        if d["kind"] != "Deployment":
            continue
        pod = d["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            for m in container.get("volumeMounts", []):
                if volumes[m["name"]].get("persistentVolumeClaim", {}).get("claimName") == "models":
                    assert m["mountPath"] == registry
                    mounts[d["metadata"]["name"]] = not m.get("readOnly", False)
    assert {"score", "gateway"} <= set(mounts) and not mounts["score"] and not mounts["gateway"]
    assert [name for name, writes in mounts.items() if writes] == ["jobs-worker"], mounts


def test_procfile_lines_run_existing_commands() -> None:
    for line in (ROOT / "infra" / "Procfile").read_text().splitlines():
        name, command = line.split(":", 1)
        argv = shlex.split(command.split(";")[0])
        if argv[0] == "sentinel":
            _check_sentinel_argv(argv[1:], f"Procfile {name}")
        else:
            assert argv[0] in RQ_TOOLS, f"Procfile {name}: unknown program {argv[0]}"


def test_the_local_stack_names_its_consumers_stably() -> None:
    """A function restarted under the same name takes its own pending entries at once (issue 11,
    item 7; tests/integration/streams/test_recovery.py), instead of after claim_idle_ms."""
    lines = (ROOT / "infra" / "Procfile").read_text().splitlines()
    runs = [shlex.split(line.split(":", 1)[1]) for line in lines if " fn run " in line]
    assert runs and all("--consumer" in argv for argv in runs)


@pytest.mark.parametrize("kind", ["Deployment", "StatefulSet"])
def test_k8s_workloads_run_existing_commands_with_known_settings(kind: str) -> None:
    config = next(d for d in _k8s_documents() if d["kind"] == "ConfigMap")
    assert set(config["data"]) <= SETTING_ENVS
    for doc in (d for d in _k8s_documents() if d["kind"] == kind):
        for container in doc["spec"]["template"]["spec"]["containers"]:
            if "sentinel" in container["image"] and "args" in container:
                _check_sentinel_argv(container["args"], f"k8s {doc['metadata']['name']}")


def test_keda_scalers_watch_the_functions_streams() -> None:
    scaled = [d for d in _k8s_documents() if d["kind"] == "ScaledObject"]
    assert {d["metadata"]["name"] for d in scaled} == {"enrich", "score", "label"}
    for doc in scaled:
        trigger = doc["spec"]["triggers"][0]["metadata"]
        assert re.fullmatch(r"sentinel:stream:[\w.]+", trigger["stream"])
        assert trigger["consumerGroup"] == doc["metadata"]["name"]


def test_dockerfile_copies_only_what_the_repository_has() -> None:
    for line in (ROOT / "infra" / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY ") and "--from=" not in line:  # --from copies from a build stage
            *sources, _ = line.split()[1:]
            missing = [s for s in sources if not (ROOT / s).exists()]
            assert not missing, f"Dockerfile copies {missing}, which the repository does not have"


def test_the_k8s_cluster_variant_reads_every_shard_with_known_commands_and_settings() -> None:
    """infra/k8s/cluster: a cluster URL beside a plain Redis for RQ, and one Deployment per function
    and shard whose KEDA scaler watches exactly the stream that shard's consumers read."""
    docs = []
    for path in sorted((ROOT / "infra" / "k8s" / "cluster").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]
    assert set(config) <= SETTING_ENVS
    assert config["SENTINEL_REDIS_URL"].startswith("redis+cluster://")
    assert config["SENTINEL_JOBS_REDIS_URL"].startswith("redis://")
    shards = Shards("sentinel:", int(config["SENTINEL_STREAMS_SHARDS"]), tagged=True)
    inputs = {spec.name: spec.input for spec in PIPELINE}
    watched = set()
    for doc in (d for d in docs if d["kind"] == "Deployment"):
        for container in doc["spec"]["template"]["spec"]["containers"]:
            _check_sentinel_argv(container["args"], f"k8s cluster {doc['metadata']['name']}")
    for doc in (d for d in docs if d["kind"] == "ScaledObject"):
        deployment = next(d for d in docs if d["metadata"]["name"] == doc["spec"]["scaleTargetRef"]["name"])
        args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        name, shard = args[2], int(args[args.index("--shard") + 1])
        trigger = doc["spec"]["triggers"][0]["metadata"]
        assert trigger["stream"] == shards.keys(shard).stream(inputs[name])
        assert trigger["consumerGroup"] == name
        watched.add((name, shard))
    assert watched == {(name, s) for name in ("enrich", "score", "label") for s in range(shards.count)}
