"""Where the Kubernetes runner's pods go (a Target: an API client and a namespace).

The runner's default target comes from its options (--kubeconfig, --kube-context,
--kube-namespace). A compute environment with `eksConfiguration {eksClusterArn,
kubernetesNamespace}` names its own: the kubeconfig context its cluster ARN names, and its
namespace. A kubeconfig written by `aws eks update-kubeconfig` names its contexts (and clusters)
by the cluster's ARN; a laptop cluster's context is matched by the ARN's cluster name (an ARN
ending in `cluster/kind-batch` picks kind's context `kind-batch`). An ARN no context names
falls back to the default context, said once in the log, so any ARN works against one local
cluster.

One API client per context, made on first use. Owns the lookup only: no pods, no threads, no
Batch rules.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import warnings

import urllib3

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


@dataclasses.dataclass(frozen=True, eq=False)
class Target:
    """One namespace of one cluster: where a pod is created, listed, watched, read and deleted.
    Compared by identity: Clusters hands out one Target per (context, namespace)."""
    api: object            # a CoreV1Api (or a test's fake)
    namespace: str
    context: str = ""      # the kubeconfig context's name ("" in a pod / for a test's fake)


def context_for(cluster_arn: str, contexts: list) -> str | None:
    """The name of the kubeconfig context that `cluster_arn` names, or None. In order: a context
    named by the ARN, one whose cluster is the ARN (both as `aws eks update-kubeconfig` writes
    them), one named as the ARN's cluster name, one whose cluster has that name."""
    name = cluster_arn.rsplit("/", 1)[-1]
    for wanted, field in ((cluster_arn, "name"), (cluster_arn, "cluster"), (name, "name"), (name, "cluster")):
        for c in contexts:
            value = c.get("name") if field == "name" else (c.get("context") or {}).get("cluster")
            if value == wanted:
                return c["name"]
    return None


class Clusters:
    """The default Target and the Target of each ClusterPlace the runner has been told of."""

    def __init__(self, default_api, default_namespace: str, default_context: str = "",
                 contexts: list | None = None, api_for=None):
        # contexts: the kubeconfig's contexts ([] in a pod, or for a fake); api_for(name): a new
        # API client for a context.
        self.default = Target(default_api, default_namespace or "default", default_context)
        self._contexts = contexts or []
        self._api_for = api_for
        self._apis = {default_context: default_api}
        self._targets = {(default_context, self.default.namespace): self.default}
        self._warned: set = set()
        self._lock = threading.Lock()

    def target(self, place) -> Target:
        """The Target of a runners.base.ClusterPlace (None: the default)."""
        if place is None:
            return self.default
        context = context_for(place.cluster_arn, self._contexts) if place.cluster_arn else None
        if context is None:
            context = self.default.context
            if place.cluster_arn and place.cluster_arn not in self._warned:
                self._warned.add(place.cluster_arn)
                log.warning("kubernetes runner: no kubeconfig context names the EKS cluster %s; its pods "
                            "go to the context %s", place.cluster_arn, context or "of the runner")
        with self._lock:
            key = (context, place.namespace)
            found = self._targets.get(key)
            if found is None:
                api = self._apis.get(context)
                if api is None:
                    api = self._apis[context] = self._api_for(context)
                found = self._targets[key] = Target(api, place.namespace, context)
            return found

    def known(self) -> list:
        """Every Target handed out so far, the default first."""
        with self._lock:
            return list(self._targets.values())


def connect(kubeconfig: str = "", context: str = "", namespace: str = "") -> Clusters:
    """Clusters from a kubeconfig file (default ~/.kube/config or $KUBECONFIG), or from the
    in-cluster service account when there is no kubeconfig and we run in a pod (then every
    place is in this cluster). The default namespace: the option, else the context's, else
    "default"."""
    from kubernetes import client, config   # lazy: the kubernetes client is an optional extra
    path = kubeconfig or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or os.path.expanduser("~/.kube/config")
    if not kubeconfig and not os.path.exists(path) and os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config()
        api_client = client.ApiClient()
        if not namespace:
            with open(SERVICE_ACCOUNT_NAMESPACE) as f:
                namespace = f.read().strip()
        _quiet_if_unverified(api_client)
        return Clusters(client.CoreV1Api(api_client), namespace)
    contexts, active = config.list_kube_config_contexts(path)
    chosen = next((c for c in contexts if c["name"] == context), None) if context else active
    if context and chosen is None:
        raise ValueError(f"no context {context!r} in {path}")
    if not namespace:
        namespace = ((chosen or {}).get("context") or {}).get("namespace") or ""

    def api_for(name: str):
        made = config.new_client_from_config(config_file=path, context=name or None)
        _quiet_if_unverified(made)
        return client.CoreV1Api(made)

    name = (chosen or {}).get("name") or ""
    return Clusters(api_for(name), namespace, name, contexts, api_for)


_said_unverified = []


def _quiet_if_unverified(api_client) -> None:
    if not api_client.configuration.verify_ssl and not _said_unverified:
        _said_unverified.append(True)
        # insecure-skip-tls-verify: said once here, not by urllib3 on every request.
        log.warning("kubernetes runner: the cluster's TLS certificate is not verified (kubeconfig "
                    "insecure-skip-tls-verify)")
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
