"""Every manifest under deploy/k8s/ is valid for the pinned Kubernetes version (offline schemas)."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest

from tests.support.manifests import (
    K8S_DIR,
    KSERVE_API,
    all_documents,
    documents,
    find,
    manifest_files,
)

# The oldest Kubernetes the manifests promise to work on (the preStop sleep action needs 1.30).
KUBERNETES_VERSION = "1.31.0"
EXPECTED_KINDS = {
    "Deployment",
    "Service",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "ConfigMap",
    "InferenceService",
}
# KServe's predictor = a PodSpec plus these fields of its own (ComponentExtensionSpec).
KSERVE_PREDICTOR_FIELDS = {
    "minReplicas",
    "maxReplicas",
    "scaleMetric",
    "scaleTarget",
    "annotations",
}
POD_SPEC_FIELDS = {"containers", "volumes", "securityContext", "terminationGracePeriodSeconds"}


def _validate(doc: dict) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(K8S_DIR)))
def test_manifest_is_valid_kubernetes(path):
    for doc in documents(path):
        if doc["apiVersion"] == KSERVE_API:
            _validate(_inference_service_as_pod(doc))
        else:
            _validate(doc)


def test_every_kind_is_covered():
    kinds = {doc["kind"] for _, doc in all_documents()}
    assert kinds == EXPECTED_KINDS


def test_strict_validation_rejects_a_misspelled_field():
    deployment = copy.deepcopy(find("Deployment"))
    spec = deployment["spec"]["template"]["spec"]
    spec["terminationGracePeriodSecond"] = spec.pop("terminationGracePeriodSeconds")
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(deployment)


def test_inference_service_fields():
    """KServe's CRD is not in the Kubernetes schemas: its own fields are checked here."""
    isvc = find("InferenceService", K8S_DIR / "kserve")
    assert isvc["apiVersion"] == KSERVE_API
    # Plain Deployment + HPA, so startupProbe, preStop and the grace period are honoured.
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    predictor = isvc["spec"]["predictor"]
    assert set(predictor) <= KSERVE_PREDICTOR_FIELDS | POD_SPEC_FIELDS
    assert 1 <= predictor["minReplicas"] <= predictor["maxReplicas"]
    assert predictor["scaleMetric"] in {"cpu", "memory", "concurrency", "rps"}
    [container] = predictor["containers"]
    assert container["name"] == "kserve-container"


def _inference_service_as_pod(isvc: dict) -> dict:
    """The predictor's PodSpec part as a core Pod, so its containers meet the core schema."""
    predictor = isvc["spec"]["predictor"]
    spec = {key: value for key, value in predictor.items() if key in POD_SPEC_FIELDS}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "predictor"}, "spec": spec}
