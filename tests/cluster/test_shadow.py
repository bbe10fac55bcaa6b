"""Shadow serving (overlays/kubeflow-shadow) on a real API server with KServe's and Istio's real
CRDs: the overlay applied server-side, then the specs of both InferenceServices and of the
VirtualService after each step (push, promote, rollback), every step with the pusher's token.

No KServe controller runs here: a stand-in (`kserve_controller`) writes the Ready status of the
InferenceServices it is told to (the status subresource, as KServe's controller would).
"""

from __future__ import annotations

import json
import types

import pytest

from mlpipe.components.push.core import push
from mlpipe.errors import UserInputError
from mlpipe.registry.local import LocalRegistry
from mlpipe.serving.rollout import VERSION_ANNOTATION, promote, roll_out, rollback
from mlpipe.serving.shadow import shadow_name
from mlpipe.serving.state import describe, serving_state
from mlpipe.serving.status import RolloutNotReady

from .conftest import REPO, allowed, kserve_controller, pusher_api, registry_with_versions

pytestmark = pytest.mark.cluster

OVERLAY = REPO / "manifests" / "overlays" / "kubeflow-shadow"
RUN_IDENTITY = "default-editor"  # a Kubeflow profile's run account


def _get(cluster, kind: str, name: str) -> dict:
    out = cluster.plane.kubectl("get", kind, name, "-n", cluster.names.namespace, "-o", "json")
    return json.loads(out.stdout)


def specs(cluster) -> dict:
    """What the server holds now: each InferenceService's pinned version, storageUri and
    generation, and the VirtualService's spec."""
    names = cluster.names
    found = {}
    for role, name in (("primary", names.inference_service), ("shadow", shadow_name(names))):
        isvc = _get(cluster, "inferenceservice", name)
        predictor = isvc["spec"]["predictor"]
        found[role] = {
            "version": (predictor.get("annotations") or {}).get(VERSION_ANNOTATION),
            "storageUri": predictor["model"].get("storageUri"),
            "generation": isvc["metadata"]["generation"],
            "logger": predictor.get("logger"),
        }
    found["mirror"] = _get(cluster, "virtualservice.networking.istio.io", "mlpipe-shadow-mirror")["spec"]
    print(json.dumps(found, indent=1))  # the specs after each step, in the test's output (-s)
    return found


def expected_mirror(names) -> dict:
    def host(name: str) -> str:  # KServe's Service in front of a predictor
        return f"{name}-predictor.{names.namespace}.svc.cluster.local"

    return {
        "hosts": [host(names.inference_service)],
        "gateways": ["mesh"],
        "http": [
            {
                "name": "primary-mirrored-to-shadow",
                "route": [{"destination": {"host": host(names.inference_service)}, "weight": 100}],
                "mirror": {"host": host(shadow_name(names)), "port": {"number": 80}},
                "mirrorPercentage": {"value": 100},
            }
        ],
    }


def _model(folder, fingerprint: str):
    model = folder / f"model-{fingerprint}"
    (model / "saved_model").mkdir(parents=True)
    (model / "saved_model" / "saved_model.pb").write_text(f"graph-{fingerprint}")
    (model / "model_metadata.json").write_text(json.dumps({"training_fingerprint": fingerprint * 64}))
    return model


def _push(cluster, registry, model, timeout: float = 30):
    config = types.SimpleNamespace(
        model_name=cluster.names.model_name,
        serving=types.SimpleNamespace(canary_traffic_percent=0, rollout_timeout_seconds=timeout),
    )
    blessed = {"blessed": True, "reasons": []}
    api = pusher_api(cluster)
    return push(
        config,
        model,
        blessed,
        blessed,
        registry,
        "shadow",
        cluster.names,
        run_id=f"run-{model.name}",
        api=api,
    )


def test_the_overlay_applies_and_the_pusher_alone_may_patch_both_inference_services(shadow_cluster):
    plane, names = shadow_cluster.plane, shadow_cluster.names
    applied = specs(shadow_cluster)
    assert applied["mirror"] == expected_mirror(names)  # Istio's CRD took it as rendered
    assert applied["primary"]["storageUri"] is None and applied["shadow"]["storageUri"] is None
    assert applied["shadow"]["logger"] == {"mode": "all"} and applied["primary"]["logger"] is None
    pusher = f"system:serviceaccount:{names.pipeline_namespace}:{names.pusher_service_account}"
    run = f"system:serviceaccount:{names.pipeline_namespace}:{RUN_IDENTITY}"
    for name in (names.inference_service, shadow_name(names)):
        for verb in ("get", "patch"):
            assert allowed(
                plane, pusher, verb, "serving.kserve.io", "inferenceservices", name, names.namespace
            )
            assert not allowed(
                plane, run, verb, "serving.kserve.io", "inferenceservices", name, names.namespace
            )
    # no code changes the mirror: nobody of the pipeline may
    for who in (pusher, run):
        assert not allowed(
            plane,
            who,
            "patch",
            "networking.istio.io",
            "virtualservices",
            "mlpipe-shadow-mirror",
            names.namespace,
        )
    assert not allowed(plane, pusher, "create", "serving.kserve.io", "inferenceservices", "", names.namespace)


def test_push_pins_the_shadow_promote_and_rollback_the_primary(shadow_cluster, tmp_path):
    cluster, names = shadow_cluster, shadow_cluster.names
    api = pusher_api(cluster)
    registry = LocalRegistry(tmp_path / "registry")
    with kserve_controller(cluster, names.inference_service, shadow_name(names)):
        # the primary serves version 1 (a kserve rollout), the registry says so
        first = _push(cluster, registry, _model(tmp_path, "a"))
        assert first["version"] == 1 and registry.serving_version(names.model_name) is None
        roll_out("kserve", names, 1, registry.uri(names.model_name, 1), api=api, wait=30)
        registry.set_serving(names.model_name, 1)
        before = specs(cluster)

        # push: the shadow takes version 2 and is ready; the primary, the mirror and the pointer stay
        pushed = _push(cluster, registry, _model(tmp_path, "b"))
        assert (pushed["version"], pushed["serving"]["target"]) == (2, "shadow")
        assert pushed["serving"]["name"] == shadow_name(names) and pushed["serving"]["status"]["ready"]
        after_push = specs(cluster)
        assert (after_push["shadow"]["version"], after_push["shadow"]["storageUri"]) == (
            "2",
            names.version_uri(2),
        )
        assert after_push["primary"] == before["primary"]  # not even a new generation
        assert after_push["mirror"] == expected_mirror(names)
        assert registry.serving_version(names.model_name) == 1  # the shadow serves nobody
        state = serving_state("shadow", names, api)
        assert (state["version"], state["shadow"]["version"]) == (1, 2)
        assert describe(state, 1) == (
            f"shadow {names.inference_service}: version 1 at 100 %, ready; shadow {shadow_name(names)} "
            "holds version 2, ready (mirrored traffic, answers discarded)"
        )

        # promote: the primary serves the shadow's version
        promoted = promote(registry, names.model_name, "shadow", names, api=api, wait=30)
        assert (promoted["version"], promoted["previous"]) == (2, 1)
        after_promote = specs(cluster)
        assert (after_promote["primary"]["version"], after_promote["primary"]["storageUri"]) == (
            "2",
            names.version_uri(2),
        )
        assert after_promote["shadow"] == after_push["shadow"] and after_promote["mirror"] == expected_mirror(
            names
        )
        assert registry.serving_version(names.model_name) == 2

        # rollback: the primary goes back to 1; the shadow keeps 2
        back = rollback(registry, names.model_name, "shadow", names, api=api, wait=30)
        assert (back["version"], back["previous"], back["serving"]["target"]) == (1, 2, "kserve")
        after_rollback = specs(cluster)
        assert after_rollback["primary"]["storageUri"] == names.version_uri(1)
        assert after_rollback["shadow"] == after_push["shadow"]
        assert after_rollback["mirror"] == expected_mirror(names)
        assert registry.serving_version(names.model_name) == 1

    # a re-apply of the manifests (a GitOps sync) moves nothing the pusher set
    assert cluster.plane.kubectl("apply", "--server-side", "-k", str(OVERLAY)).returncode == 0
    reapplied = specs(cluster)
    assert {k: v["storageUri"] for k, v in reapplied.items() if k != "mirror"} == {
        "primary": names.version_uri(1),
        "shadow": names.version_uri(2),
    }


def test_a_shadow_that_never_gets_ready_fails_the_push_and_leaves_the_primary_alone(shadow_cluster, tmp_path):
    cluster, names = shadow_cluster, shadow_cluster.names
    registry = LocalRegistry(tmp_path / "registry")
    before = specs(cluster)
    with pytest.raises(
        RolloutNotReady,
        match=f"InferenceService {names.namespace}/{shadow_name(names)} not ready after 3 s: "
        "not yet seen by the KServe controller",
    ):
        _push(cluster, registry, _model(tmp_path, "c"), timeout=3)
    after = specs(cluster)
    assert after["primary"] == before["primary"] and after["mirror"] == before["mirror"]
    assert after["shadow"]["storageUri"] == names.version_uri(1)  # pinned, never ready
    assert registry.versions(names.model_name) == [1] and registry.serving_version(names.model_name) is None


def test_push_refuses_before_publishing_when_the_shadow_is_missing(shadow_cluster, tmp_path):
    cluster, names = shadow_cluster, shadow_cluster.names
    registry = LocalRegistry(tmp_path / "registry")
    cluster.plane.kubectl("delete", "inferenceservice", shadow_name(names), "-n", names.namespace)
    try:
        with pytest.raises(
            UserInputError,
            match=f"inferenceservices/{shadow_name(names)} in namespace {names.namespace} does not exist: "
            "nothing was published",
        ):
            _push(cluster, registry, _model(tmp_path, "d"))
        assert registry.versions(names.model_name) == []
    finally:
        cluster.plane.kubectl("apply", "--server-side", "-k", str(OVERLAY))
    # re-created from the manifests, it holds no version: nothing to promote
    assert specs(cluster)["shadow"]["storageUri"] is None
    with pytest.raises(
        UserInputError, match=f"nothing to promote: the shadow InferenceService .*{shadow_name(names)}"
    ):
        promote(registry, names.model_name, "shadow", names, api=pusher_api(cluster))


def test_models_and_promote_from_the_cli(shadow_cluster, tmp_path, repo_root, monkeypatch, capsys):
    from mlpipe.cli.main import main

    cluster, names = shadow_cluster, shadow_cluster.names
    api = pusher_api(cluster)
    registry = registry_with_versions(tmp_path, names.model_name, count=2)
    registry.set_serving(names.model_name, 1)
    monkeypatch.setenv("KUBECONFIG", cluster.plane.kubeconfig)
    args = ["--config", str(repo_root / "configs" / "adult.yaml"), "--registry", str(registry.root)]
    with kserve_controller(cluster, names.inference_service, shadow_name(names)):
        roll_out("kserve", names, 1, registry.uri(names.model_name, 1), api=api, wait=30)
        roll_out("shadow", names, 2, registry.uri(names.model_name, 2), api=api, wait=30)
        assert main(["models", *args, "--cluster", "--target", "shadow"]) == 0
        assert capsys.readouterr().out.strip().splitlines()[-1] == (
            f"serving now: shadow {names.inference_service}: version 1 at 100 %, ready; shadow "
            f"{shadow_name(names)} holds version 2, ready (mirrored traffic, answers discarded)"
        )
        assert main(["promote", *args, "--target", "shadow", "--wait", "30"]) == 0
    assert capsys.readouterr().out.startswith(f"promoted {names.model_name} version 2: target ")
    assert specs(cluster)["primary"]["storageUri"] == names.version_uri(2)
    assert registry.serving_version(names.model_name) == 2
