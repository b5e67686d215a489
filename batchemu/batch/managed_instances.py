"""ECS Managed Instances compute resources (computeResources.type ECS_MANAGED_INSTANCES): the
rules of `managedInstancesProvider` and `capacityTags` on create and update.

The model and the Batch user guide ("Compute environments on Amazon ECS Managed Instances"):
the provider block is required for this type and forbidden for the others; it is
self-contained (networking, instance profile and instance selection live inside it, so the EC2
members of computeResources don't apply); maxvCpus caps the vCPUs of running jobs, as on
Fargate; capacityTags are only valid here; capacityOptionType and fipsEnabled can't change on
update (the update shape has no such members, so the model's validation rejects them). Values
the model documents but does not declare as enums are checked here. No HTTP, no store.
"""

from __future__ import annotations

from batchemu.batch.common import check_tags
from batchemu.batch.errors import ClientException

TYPE = "ECS_MANAGED_INSTANCES"
# Documented valid values of members the model types as plain strings (model documentation).
CHOICES = {
    "propagateTags": ("CAPACITY_PROVIDER", "NONE"),
    "instanceLaunchTemplate.capacityOptionType": ("ON_DEMAND", "SPOT"),
    "instanceLaunchTemplate.monitoring": ("BASIC", "DETAILED"),
    "instanceLaunchTemplate.capacityReservations.reservationPreference":
        ("RESERVATIONS_ONLY", "RESERVATIONS_FIRST", "RESERVATIONS_EXCLUDED"),
}
SCALE_IN_MIN, SCALE_IN_MAX = 0, 3600  # "Valid values are -1 or 0 to 3600" (model)


def check_provider(provider: dict, where: str = "computeResources.managedInstancesProvider") -> dict:
    """A create's (or an update's merged) provider, validated; ON_DEMAND unless given."""
    provider = _copy(provider)
    template = provider.get("instanceLaunchTemplate") or {}
    network = template.get("networkConfiguration") or {}
    for key in ("subnets", "securityGroups"):
        if not network.get(key):
            raise ClientException(f"{where}.instanceLaunchTemplate.networkConfiguration.{key} must "
                                  "contain at least one entry")
    for path, allowed in CHOICES.items():
        value = _get(provider, path)
        if value is not None and value not in allowed:
            raise ClientException(f"{where}.{path} must be one of {', '.join(allowed)}, got {value!r}")
    size = (template.get("storageConfiguration") or {}).get("storageSizeGiB")
    if size is not None and size < 1:
        raise ClientException(f"{where}.instanceLaunchTemplate.storageConfiguration.storageSizeGiB must "
                              f"be at least 1, got {size}")
    scale_in = (provider.get("infrastructureOptimization") or {}).get("scaleInAfter")
    if scale_in is not None and scale_in != -1 and not SCALE_IN_MIN <= scale_in <= SCALE_IN_MAX:
        raise ClientException(f"{where}.infrastructureOptimization.scaleInAfter must be -1 or between "
                              f"{SCALE_IN_MIN} and {SCALE_IN_MAX}, got {scale_in}")
    template.setdefault("capacityOptionType", "ON_DEMAND")  # "ON_DEMAND (default)" (model)
    return provider


def updated_provider(current: dict, change: dict) -> dict:
    """The provider after an update: given members replace the current ones, one level into
    instanceLaunchTemplate (so a new networkConfiguration replaces the old one whole)."""
    merged = _copy(current)
    for key, value in change.items():
        if value is None:
            continue
        if key == "instanceLaunchTemplate":
            merged[key] = {**merged.get(key, {}), **{k: v for k, v in value.items() if v is not None}}
        else:
            merged[key] = value
    return check_provider(merged)


def check_capacity_tags(tags: dict | None, cr_type: str, where: str = "computeResources.capacityTags"):
    if tags is None:
        return None
    if cr_type != TYPE:
        raise ClientException(f"{where} is only valid for {TYPE} compute resources, not {cr_type}")
    return check_tags(tags, where)


def _get(doc: dict, path: str):
    for key in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc


def _copy(provider: dict) -> dict:
    out = dict(provider)
    if isinstance(out.get("instanceLaunchTemplate"), dict):
        out["instanceLaunchTemplate"] = dict(out["instanceLaunchTemplate"])
    return out
