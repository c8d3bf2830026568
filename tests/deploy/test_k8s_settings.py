"""The manifests agree with the service: probe routes, port, worker count and grace periods."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from app.settings import load_settings
from tests.support.manifests import (
    K8S_DIR,
    container_env,
    container_port,
    find,
    gunicorn_config,
)

# Model load + warm-up may take minutes on a GPU (CUDA start, kernel compilation, a large bundle).
MIN_STARTUP_BUDGET_S = 300
QUEUE_METRIC = "mms_queue_depth"
# Measured RSS of a replica (docs/operations.md): master + the bench bundle's worker after a soak.
MEASURED_REPLICA_MIB = 61 + 1063
MEBI = {"Mi": 1, "Gi": 1024}


def _pod_specs() -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """name -> (pod spec, {probe kind: expected route}) of each workload that runs our image."""
    deployment = find("Deployment")["spec"]["template"]["spec"]
    predictor = find("InferenceService", K8S_DIR / "kserve")["spec"]["predictor"]
    return {
        "deployment": (
            deployment,
            {"startupProbe": "/readyz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"},
        ),
        "kserve": (
            predictor,
            {
                "startupProbe": "/v2/health/ready",
                "readinessProbe": "/v2/health/ready",
                "livenessProbe": "/v2/health/live",
            },
        ),
    }


PODS = _pod_specs()


@pytest.fixture(params=sorted(PODS))
def pod(request):
    """(pod spec, its one container, gunicorn config and Settings under the container's env)."""
    spec, routes = PODS[request.param]
    [container] = spec["containers"]
    env = container_env(container)
    return spec, container, routes, gunicorn_config(env), load_settings(environ=env)


def test_container_port_is_the_bind_port_and_one_worker_per_gpu(pod):
    _, container, _, conf, _ = pod
    bind_port = int(conf["bind"].rsplit(":", 1)[1])
    assert [p["containerPort"] for p in container["ports"]] == [bind_port]
    assert conf["workers"] == 1
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_memory_request_covers_the_measured_replica(pod):
    _, container, _, _, _ = pod
    resources = container["resources"]
    request, limit = (_mib(resources[kind]["memory"]) for kind in ("requests", "limits"))
    assert MEASURED_REPLICA_MIB <= request <= limit
    assert "cpu" in resources["requests"]  # the CPU autoscalers' utilisation is of this request


def test_probes_hit_the_right_routes_on_the_bind_port(pod, app, client):
    _, container, routes, conf, _ = pod
    rules = {rule.rule for rule in app.url_map.iter_rules()}
    bind_port = int(conf["bind"].rsplit(":", 1)[1])
    for kind, path in routes.items():
        probe = container[kind]["httpGet"]
        assert probe["path"] == path, kind
        assert path in rules, path
        assert client.get(path).status_code == 200, path  # the fixture's app is ready
        assert container_port(container, probe["port"]) == bind_port, kind


def test_startup_probe_allows_load_and_warm_up(pod):
    _, container, _, _, _ = pod
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= MIN_STARTUP_BUDGET_S


def test_grace_periods_nest(pod):
    """preStop, then SIGTERM: drain + the longest request fit gunicorn's grace, which fits k8s'."""
    spec, container, _, conf, settings = pod
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop > 0
    assert conf["graceful_timeout"] >= settings.drain_delay_s + settings.request_timeout_s
    # Strictly more: a margin for gunicorn's own exit after its grace runs out.
    assert spec["terminationGracePeriodSeconds"] > pre_stop + conf["graceful_timeout"]


def test_kserve_predictor_speaks_v2():
    [container] = find("InferenceService", K8S_DIR / "kserve")["spec"]["predictor"]["containers"]
    assert container_env(container)["PROTOCOL"] == "v2"


def test_service_pdb_and_hpas_select_the_deployment():
    deployment = find("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    service = find("Service")
    assert service["spec"]["selector"].items() <= labels.items()
    [port] = service["spec"]["ports"]
    assert container_port(container, port["targetPort"]) == container["ports"][0]["containerPort"]
    assert find("PodDisruptionBudget")["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for folder in (K8S_DIR, K8S_DIR / "queue-depth"):
        target = find("HorizontalPodAutoscaler", folder)["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])


def test_queue_depth_variant_scales_on_a_metric_the_service_exports(client):
    hpa = find("HorizontalPodAutoscaler", K8S_DIR / "queue-depth")
    names = [m["pods"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "Pods"]
    assert names == [QUEUE_METRIC]
    adapter = yaml.safe_load(find("ConfigMap", K8S_DIR / "queue-depth")["data"]["config.yaml"])
    [rule] = adapter["rules"]
    assert rule["seriesQuery"].startswith(QUEUE_METRIC + "{")
    assert rule["name"]["as"] == QUEUE_METRIC
    scrape = client.get("/metrics").get_data(as_text=True)
    assert f"# TYPE {QUEUE_METRIC} gauge" in scrape


def _mib(quantity: str) -> int:
    """A Kubernetes memory quantity in Mi or Gi, as MiB."""
    return int(quantity[:-2]) * MEBI[quantity[-2:]]
