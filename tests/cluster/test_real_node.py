"""Real pods on a real node (scripts/start-node.sh: containerd, runc, CNI bridge, kubelet and
kube-scheduler built from source) for a control plane of its own: a restricted-profile Deployment
of the locally built probe server becomes Ready through its readiness probe and answers on its pod
address; a rollout really replaces its pods (the waits the pusher uses, `mlpipe.serving.status`);
a rollout to an image the node does not have times out naming the pod and the kubelet's reason,
and the old pods keep serving. Traffic goes only to the pods this module created."""

from __future__ import annotations

import ipaddress
import json
import urllib.request

import pytest
from servers import ControlPlane, Node, server_binaries, unavailable

from mlpipe.serving.status import RolloutNotReady, wait_deployment

pytestmark = pytest.mark.cluster

NAMESPACE = "node-test"
POD_NETWORK = ipaddress.ip_network("10.244.0.0/24")  # start-node.sh's POD_CIDR, on this machine only


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    server_binaries("etcd", "kube", "node")
    try:
        plane = ControlPlane(tmp_path_factory.mktemp("node-plane"))
    except RuntimeError as exc:
        unavailable("Kubernetes control plane", str(exc))
    try:
        try:
            real = Node(plane, tmp_path_factory.mktemp("node"))
        except RuntimeError as exc:
            unavailable("a kubelet + containerd node", str(exc))
        try:
            plane.kubectl("create", "namespace", NAMESPACE)
            plane.kubectl("label", "namespace", NAMESPACE, "pod-security.kubernetes.io/enforce=restricted")
            yield plane, real
        finally:
            real.stop()
    finally:
        plane.stop()


def _admin(plane):
    from kubernetes import client, config

    return config.new_client_from_config(config_file=plane.kubeconfig), client


def _deployment(image: str, version: str) -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "probe", "namespace": NAMESPACE},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "probe"}},
            "strategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": {"app": "probe"}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [
                        {
                            "name": "probe",
                            "image": image,
                            "imagePullPolicy": "Never",  # nothing can be pulled here
                            "env": [{"name": "VERSION", "value": version}],
                            "ports": [{"containerPort": 8080}],
                            "readinessProbe": {
                                "httpGet": {"path": "/healthz", "port": 8080},
                                "periodSeconds": 1,
                            },
                            "securityContext": {
                                "allowPrivilegeEscalation": False,
                                "readOnlyRootFilesystem": True,
                                "capabilities": {"drop": ["ALL"]},
                            },
                        }
                    ],
                },
            },
        },
    }


def _ready_pods(plane) -> list[dict]:
    pods = json.loads(plane.kubectl("get", "pods", "-n", NAMESPACE, "-l", "app=probe", "-o", "json").stdout)
    return [
        p
        for p in pods["items"]
        if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))
        and not p["metadata"].get("deletionTimestamp")
    ]


def _ask(pod: dict) -> str:
    address = pod["status"]["podIP"]
    assert ipaddress.ip_address(address) in POD_NETWORK, address  # only pods this test created
    with urllib.request.urlopen(f"http://{address}:8080/", timeout=5) as answer:
        return answer.read().decode().strip()


def test_the_node_registers_and_runs_a_restricted_deployment_that_answers(node):
    plane, real = node
    status = json.loads(plane.kubectl("get", "node", real.name, "-o", "json").stdout)["status"]
    assert status["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
    assert {c["type"]: c["status"] for c in status["conditions"]}["Ready"] == "True"

    plane.kubectl("apply", "-f", "-", stdin=json.dumps(_deployment(real.probe_image, "v1")))
    api, _ = _admin(plane)
    wait_deployment(api, NAMESPACE, "probe", 90)
    pods = _ready_pods(plane)
    assert len(pods) == 2 and {p["spec"]["nodeName"] for p in pods} == {real.name}
    for pod in pods:  # each pod answers from its own address, as the non-root image user
        assert _ask(pod) == f"{pod['metadata']['name']} v1 uid=65535"


def test_a_rollout_replaces_the_pods_and_a_missing_image_names_the_pod_and_keeps_the_old(node):
    plane, real = node
    api, client = _admin(plane)
    plane.kubectl("apply", "-f", "-", stdin=json.dumps(_deployment(real.probe_image, "v1")))
    wait_deployment(api, NAMESPACE, "probe", 90)
    before = {p["metadata"]["name"] for p in _ready_pods(plane)}

    plane.kubectl("apply", "-f", "-", stdin=json.dumps(_deployment(real.probe_image, "v2")))
    wait_deployment(api, NAMESPACE, "probe", 90)
    after = _ready_pods(plane)
    assert len(after) == 2 and not before & {p["metadata"]["name"] for p in after}  # new pods
    assert {_ask(p).split()[1] for p in after} == {"v2"}
    sets = client.AppsV1Api(api).list_namespaced_replica_set(NAMESPACE).items
    assert sorted((rs.status.replicas or 0) for rs in sets) == [0, 2]  # the old ReplicaSet scaled down

    missing = "mlpipe.local/probe-server:not-on-this-node"
    plane.kubectl("apply", "-f", "-", stdin=json.dumps(_deployment(missing, "v3")))
    with pytest.raises(RolloutNotReady) as error:
        wait_deployment(api, NAMESPACE, "probe", 20)
    message = str(error.value)
    assert "Deployment node-test/probe not ready after 20 s" in message
    assert "pod probe-" in message and "ErrImageNeverPull" in message and missing in message
    serving = _ready_pods(plane)  # maxUnavailable 0: the v2 pods still serve
    assert len(serving) == 2 and {_ask(p).split()[1] for p in serving} == {"v2"}
