"""The registry's least-privilege credentials on a real MinIO: the policies the setup Job installs
(manifests/base/registry-policies/) let the pipeline's key do everything the registry code does,
and nothing outside the bucket; serving's key reads and cannot write."""

from __future__ import annotations

import io
import json
import secrets
import uuid
from pathlib import Path

import pytest
from registry_backends import make_model_dir

from mlpipe.registry.access import open_registry
from mlpipe.serving.names import load_serving_names

pytestmark = pytest.mark.s3

POLICIES = Path(__file__).resolve().parents[2] / "manifests" / "base" / "registry-policies"
BUCKET = load_serving_names().registry_bucket


def _denied(call) -> None:
    from minio.error import S3Error

    with pytest.raises(S3Error) as refused:
        call()
    assert refused.value.code == "AccessDenied", refused.value


@pytest.fixture(scope="module")
def keys(s3_server):
    """The two users with their policies, installed as the setup Job does (policy create, user add,
    policy attach), through MinIO's admin API."""
    if s3_server.kind != "minio":
        pytest.skip("MinIO's admin API is needed (moto stands in only outside CI)")
    from minio import Minio, MinioAdmin
    from minio.credentials import StaticProvider

    admin = MinioAdmin(
        endpoint=s3_server.endpoint,
        credentials=StaticProvider(s3_server.access_key, s3_server.secret_key),
        secure=False,
    )
    root = s3_server.client()
    for bucket in (BUCKET, "elsewhere"):
        if not root.bucket_exists(bucket):
            root.make_bucket(bucket)
    users = {}
    for role, policy in (("pipeline", "registry-readwrite"), ("serving", "registry-readonly")):
        admin.policy_add(policy, policy_file=POLICIES / f"{role}.json")
        access, secret = f"{role}-{secrets.token_hex(4)}", secrets.token_hex(16)
        admin.user_add(access, secret)
        admin.attach_policy([policy], user=access)
        users[role] = (
            Minio(s3_server.endpoint, access_key=access, secret_key=secret, secure=False),
            access,
            secret,
        )
    return users


def test_the_policies_name_the_registry_bucket_of_params_env():
    """They cannot read params.env (MinIO takes plain JSON): this keeps them in step."""
    for role in ("pipeline", "serving"):
        document = json.loads((POLICIES / f"{role}.json").read_text())
        resources = {r for statement in document["Statement"] for r in statement["Resource"]}
        assert resources == {f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"}, role
        assert all(statement["Effect"] == "Allow" for statement in document["Statement"])


def test_the_pipeline_key_runs_the_registry_and_nothing_else(keys, s3_server, tmp_path):
    client, access, secret = keys["pipeline"]
    environ = s3_server.environ(MLPIPE_S3_ACCESS_KEY=access, MLPIPE_S3_SECRET_KEY=secret)
    model = f"model-{uuid.uuid4().hex[:8]}"
    registry = open_registry(f"s3://{BUCKET}/least-privilege", environ)
    version = registry.publish(model, make_model_dir(tmp_path / "m"), {"blessed": True})
    assert registry.versions(model) == [version]
    registry.set_serving(model, version)
    assert registry.serving_version(model) == version
    assert registry.local_copy(model, version).joinpath("saved_model.pb").read_bytes() == b"graph-v"
    registry.cleanup(model, older_than=0)  # lists and aborts incomplete multipart uploads, deletes staging
    assert registry.versions(model) == [version]

    _denied(lambda: client.put_object("elsewhere", "x", io.BytesIO(b"x"), 1))
    _denied(lambda: list(client.list_objects("elsewhere")))
    _denied(lambda: client.make_bucket(f"new-{uuid.uuid4().hex[:8]}"))
    assert [b.name for b in client.list_buckets()] == [BUCKET]  # MinIO lists what a key may see


def test_the_serving_key_reads_the_registry_and_cannot_write(keys, s3_server, tmp_path):
    root = s3_server.client()
    key = f"least-privilege/served-{uuid.uuid4().hex[:8]}/1/saved_model.pb"
    root.put_object(BUCKET, key, io.BytesIO(b"graph"), 5)
    client, _, _ = keys["serving"]
    assert client.get_object(BUCKET, key).read() == b"graph"
    assert [
        o.object_name for o in client.list_objects(BUCKET, prefix=key.rsplit("/", 2)[0], recursive=True)
    ] == [key]
    _denied(lambda: client.put_object(BUCKET, key, io.BytesIO(b"evil"), 4))
    _denied(lambda: client.remove_object(BUCKET, key))
    _denied(lambda: client.get_object("elsewhere", "x"))
    assert root.get_object(BUCKET, key).read() == b"graph"
