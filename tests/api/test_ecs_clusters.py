"""The ECS cluster of each compute environment (ref §2.1, §3.6), seen as tools see it: through the
ECS API on the same endpoint (moto's ECS). Created with the compute environment under the ARN
DescribeComputeEnvironments gives, INACTIVE once it is deleted, none for an EKS one, and back
after a restart of a server (moto's state is in memory, batchemu's on disk).

moto's state is per Python process, so each test works in an account of its own."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from tests.e2e.support import new_account

REPO = Path(__file__).resolve().parents[2]
EC2 = {"type": "EC2", "maxvCpus": 8, "instanceTypes": ["optimal"], "subnets": ["subnet-1"],
       "instanceRole": "ecsInstanceRole"}


@pytest.fixture()
def account():
    return new_account()


@pytest.fixture()
def batch(server, account):
    return server.client("batch", access_key=account)


@pytest.fixture()
def ecs(server, account):
    return server.client("ecs", access_key=account)


def cluster_of(batch, name: str) -> str:
    return batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"][0]["ecsClusterArn"]


def disable_and_delete(batch, name: str) -> None:
    batch.update_compute_environment(computeEnvironment=name, state="DISABLED")
    batch.delete_compute_environment(computeEnvironment=name)


@pytest.mark.parametrize("kind", ["EC2", "SPOT", "FARGATE", "FARGATE_SPOT", "UNMANAGED"])
def test_every_ecs_compute_environment_has_its_cluster_in_ecs(batch, ecs, account, kind):
    if kind == "UNMANAGED":
        batch.create_compute_environment(computeEnvironmentName="ce", type="UNMANAGED")
    elif kind.startswith("FARGATE"):
        batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources={
            "type": kind, "maxvCpus": 8, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]})
    else:
        batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED",
                                         computeResources=dict(EC2, type=kind, allocationStrategy="SPOT_CAPACITY_OPTIMIZED")
                                         if kind == "SPOT" else EC2)
    arn = cluster_of(batch, "ce")
    assert re.fullmatch(rf"arn:aws:ecs:us-east-1:{account}:cluster/ce_Batch_[0-9a-f-]{{36}}", arn)
    assert ecs.list_clusters()["clusterArns"] == [arn]
    described = ecs.describe_clusters(clusters=[arn])
    assert described["failures"] == []
    assert [(c["clusterArn"], c["clusterName"], c["status"]) for c in described["clusters"]] == \
        [(arn, arn.split("/")[-1], "ACTIVE")]


def test_deleting_the_compute_environment_deletes_its_cluster(batch, ecs):
    batch.create_compute_environment(computeEnvironmentName="gone", type="MANAGED", computeResources=EC2)
    batch.create_compute_environment(computeEnvironmentName="kept", type="UNMANAGED")
    gone, kept = cluster_of(batch, "gone"), cluster_of(batch, "kept")
    disable_and_delete(batch, "gone")
    # ECS DeleteCluster leaves a cluster INACTIVE (still described for a while), as here.
    statuses = {c["clusterArn"]: c["status"] for c in ecs.describe_clusters(clusters=[gone, kept])["clusters"]}
    assert statuses == {gone: "INACTIVE", kept: "ACTIVE"}


def test_an_eks_compute_environment_has_no_ecs_cluster(batch, ecs):
    batch.create_compute_environment(
        computeEnvironmentName="eks", type="MANAGED",
        computeResources={"type": "EC2", "maxvCpus": 8, "instanceTypes": ["optimal"], "subnets": ["subnet-1"],
                          "instanceRole": "ecsInstanceRole"},
        eksConfiguration={"eksClusterArn": "arn:aws:eks:us-east-1:123456789012:cluster/k", "kubernetesNamespace": "ns"})
    env = batch.describe_compute_environments(computeEnvironments=["eks"])["computeEnvironments"][0]
    assert "ecsClusterArn" not in env
    assert ecs.list_clusters()["clusterArns"] == []


def test_clusters_stay_in_their_account_and_region(server, batch, account):
    batch.create_compute_environment(computeEnvironmentName="mine", type="UNMANAGED")
    arn = cluster_of(batch, "mine")
    other_account = str((int(account) + 1) % 10**12).zfill(12)
    assert arn not in server.client("ecs", access_key=other_account).list_clusters()["clusterArns"]
    assert server.client("ecs", access_key=account, region="eu-west-1").list_clusters()["clusterArns"] == []
    west = server.client("batch", access_key=account, region="eu-west-1")
    west.create_compute_environment(computeEnvironmentName="mine", type="UNMANAGED")
    west_arn = cluster_of(west, "mine")
    assert west_arn.startswith(f"arn:aws:ecs:eu-west-1:{account}:cluster/mine_Batch_")
    assert server.client("ecs", access_key=account, region="eu-west-1").list_clusters()["clusterArns"] == [west_arn]


# -- a real server process, restarted on the same data dir ------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`python -m batchemu` (no runner) on a data dir; stopped with SIGTERM."""

    def __init__(self, data_dir: Path):
        self.url = f"http://127.0.0.1:{free_port()}"
        self.log = data_dir.parent / "server.log"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "batchemu", "--port", self.url.rsplit(":", 1)[1],
                                          "--data-dir", str(data_dir), "--runner", "none"],
                                         cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                self.client("batch").list_scheduling_policies()
                return
            except Exception:
                assert time.monotonic() < deadline, self.log.read_text()
                time.sleep(0.1)

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="210987654321", aws_secret_access_key="test")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def test_a_restarted_server_has_the_clusters_of_its_compute_environments_again(tmp_path):
    data_dir = tmp_path / "data"
    first = ServerProcess(data_dir)
    try:
        # Created before anything loaded moto in this server: its cluster appears when ECS is asked.
        batch = first.client("batch")
        batch.create_compute_environment(computeEnvironmentName="kept", type="MANAGED", computeResources=EC2)
        batch.create_compute_environment(computeEnvironmentName="deleted", type="UNMANAGED")
        kept, deleted = cluster_of(batch, "kept"), cluster_of(batch, "deleted")
        assert first.client("ecs").list_clusters()["clusterArns"] == [kept, deleted]
        disable_and_delete(batch, "deleted")
    finally:
        first.stop()
    second = ServerProcess(data_dir)
    try:
        ecs = second.client("ecs")
        assert cluster_of(second.client("batch"), "kept") == kept
        assert ecs.list_clusters()["clusterArns"] == [kept]
        assert [c["status"] for c in ecs.describe_clusters(clusters=[kept])["clusters"]] == ["ACTIVE"]
        # A compute environment created after the restart gets its cluster at once.
        second.client("batch").create_compute_environment(computeEnvironmentName="new", type="UNMANAGED")
        assert ecs.list_clusters()["clusterArns"] == [kept, cluster_of(second.client("batch"), "new")]
    finally:
        second.stop()


def test_the_cluster_arn_has_the_partition_of_the_region(server, account):
    china = server.client("batch", access_key=account, region="cn-north-1")
    china.create_compute_environment(computeEnvironmentName="cn", type="UNMANAGED")
    arn = cluster_of(china, "cn")
    assert arn.startswith(f"arn:aws-cn:ecs:cn-north-1:{account}:cluster/cn_Batch_")
    assert server.client("ecs", access_key=account, region="cn-north-1").list_clusters()["clusterArns"] == [arn]


def test_a_region_without_ecs_emulation_still_has_compute_environments(server, account, ecs):
    ecs.list_clusters()  # moto's ECS is in use
    odd = server.client("batch", access_key=account, region="xx-fake-1")  # moto's ECS has no such region
    odd.create_compute_environment(computeEnvironmentName="c", type="UNMANAGED")
    assert cluster_of(odd, "c").startswith(f"arn:aws:ecs:xx-fake-1:{account}:cluster/c_Batch_")
    disable_and_delete(odd, "c")
    assert odd.describe_compute_environments()["computeEnvironments"] == []
