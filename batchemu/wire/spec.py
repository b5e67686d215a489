"""Service models from botocore: operations, the route map built from each http trait, paginators.

A route is (method, compiled regex over the decoded path, operation). A URI label that ends the
path matches the rest of it, slashes included, so `/v1/tags/arn:...:job-definition/x:1` (raw
slash) and its percent-encoded twin both reach the tag operations (ref §1.2).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import botocore.session
from botocore.model import OperationModel, ServiceModel

_LABEL = re.compile(r"\{([^}]+?)\+?\}")


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    operation: OperationModel
    labels: tuple


class ServiceSpec:
    def __init__(self, service_name: str):
        session = _session()
        loader = session.get_component("data_loader")
        self.model: ServiceModel = session.get_service_model(service_name)
        try:
            self.paginators = loader.load_service_model(service_name, "paginators-1")["pagination"]
        except Exception:  # a service without paginators
            self.paginators = {}
        self.routes = [self._route(self.model.operation_model(n)) for n in self.model.operation_names]
        # Routes without labels by (method, path): one dict look-up instead of a regex per route
        # (every Batch call but the tag operations; the scan was ~4% of a SubmitJob).
        self._fixed = {(r.method, r.operation.http["requestUri"].split("?", 1)[0]): r.operation
                       for r in self.routes if not r.labels}

    @property
    def operation_names(self):
        return self.model.operation_names

    def operation(self, name: str) -> OperationModel:
        return self.model.operation_model(name)

    def match(self, method: str, path: str):
        """The (operation, uri params) for a request, or None."""
        fixed = self._fixed.get((method, path))
        if fixed is not None:
            return fixed, {}
        for route in self.routes:
            if route.method != method:
                continue
            found = route.pattern.fullmatch(path)
            if found:
                return route.operation, dict(zip(route.labels, found.groups()))
        return None

    def methods_for(self, path: str):
        return sorted({r.method for r in self.routes if r.pattern.fullmatch(path)})

    @staticmethod
    def _route(op: OperationModel) -> Route:
        uri = op.http["requestUri"].split("?", 1)[0]
        labels, parts, pos = [], [], 0
        for m in _LABEL.finditer(uri):
            parts.append(re.escape(uri[pos:m.start()]))
            labels.append(m.group(1))
            last = m.end() == len(uri)
            parts.append("(.+)" if last else "([^/]+)")
            pos = m.end()
        parts.append(re.escape(uri[pos:]))
        return Route(op.http["method"], re.compile("".join(parts)), op, tuple(labels))


@functools.lru_cache(maxsize=None)
def _session():
    return botocore.session.get_session()


@functools.lru_cache(maxsize=None)
def load(service_name: str) -> ServiceSpec:
    return ServiceSpec(service_name)
