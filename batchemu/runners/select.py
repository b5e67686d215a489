"""Choose the runner from the configuration: docker (when an engine answers), process (no
isolation, for machines without Docker; never with --deny-host-access), kubernetes (pods in a
cluster) or none (jobs wait in RUNNABLE)."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger("batchemu.runners")


def make_runner(config, server_id: str):
    choice = config.runner
    if choice == "none":
        return None
    if choice == "kubernetes":
        return _kubernetes(config, server_id)
    if choice in ("auto", "docker"):
        # lazy for start-up time: the Docker SDK costs ~100 ms
        from batchemu.runners import docker as docker_runner
        if docker_runner.engine_available():
            return docker_runner.DockerRunner(server_id, network=config.job_network,
                                              pull_policy=config.pull_policy,
                                              remove_on_close=config.ephemeral,
                                              deny_host_access=config.deny_host_access,
                                              task_holder_image=config.task_holder_image)
        if choice == "docker":
            raise SystemExit("batchemu: --runner docker was asked for, but no Docker engine answers "
                             "(is dockerd running? is DOCKER_HOST right?)")
        if config.deny_host_access:
            # The process runner runs every job on the host: it is host access itself.
            log.warning("No Docker engine answers and --deny-host-access forbids the process runner: "
                        "jobs wait in RUNNABLE. Start Docker and restart batchemu to run them.")
            return None
        log.warning("No Docker engine answers: jobs run as plain host processes with the process "
                    "runner (no isolation, the image is ignored). Start Docker and restart batchemu "
                    "to run jobs in containers.")
    if config.deny_host_access:
        raise SystemExit("batchemu: --runner process runs jobs on the host, which --deny-host-access "
                         "forbids; use --runner docker")
    from batchemu.runners.process import ProcessRunner  # lazy for start-up time, like the Docker runner
    state = Path(config.data_dir) / "processes" if not config.ephemeral else None
    return ProcessRunner(state)


def _kubernetes(config, server_id: str):
    try:
        # lazy for start-up time, and the kubernetes client is an optional extra (batchemu[kubernetes])
        from batchemu.runners import kube_clusters
        from batchemu.runners import kubernetes as kube
        clusters = kube_clusters.connect(config.kubeconfig, config.kube_context, config.kube_namespace)
    except ImportError:
        raise SystemExit("batchemu: --runner kubernetes needs the Kubernetes client: "
                         "pip install 'batchemu[kubernetes]'")
    except Exception as exc:
        raise SystemExit(f"batchemu: --runner kubernetes: cannot load the cluster configuration: {exc}")
    return kube.KubernetesRunner(server_id, clusters=clusters, pull_policy=config.pull_policy,
                                 host_network=config.kube_host_network,
                                 stop_grace_seconds=config.stop_grace_seconds / config.time_scale)
