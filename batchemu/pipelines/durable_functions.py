"""Lambda functions kept across a restart (durable.py decides when): each function of a moto
Lambda backend as one document (its $LATEST configuration, its published versions, its aliases)
and each distinct code zip once, by its SHA-256, in the store's blobs table, so changing a
function's configuration never rewrites its code. Restored under the same name and ARN, with
the same code (CodeSha256), configuration, tags, reserved concurrency, versions (same numbers)
and aliases.

Not kept: resource policies (AddPermission), event source mappings, function URLs, event invoke
configs, layers (a restored function has none) and the IAM role, which is moto's: a restored
function keeps its role ARN whether or not that role exists again.
Container images (PackageType Image) keep their ImageUri only. Knows no HTTP and no Batch.
"""

from __future__ import annotations

import base64
import hashlib
import logging

log = logging.getLogger("batchemu.pipelines")

KIND = "lambda-function"
CODE = "lambda:"  # blob key prefix: "lambda:<sha256 hex of the zip>"
WRITERS = ("create_function", "update_function_code", "update_function_configuration", "delete_function",
           "publish_version", "create_alias", "update_alias", "delete_alias", "tag_resource",
           "untag_resource", "put_function_concurrency", "delete_function_concurrency")


def writers():
    """(moto's Lambda backend class, the names of its methods that change a function)."""
    from moto.awslambda.models import LambdaBackend  # lazy for start-up time (moto loaded)

    return LambdaBackend, WRITERS


def is_backend(backend) -> bool:
    return hasattr(backend, "_lambdas") and hasattr(backend, "list_functions")


# -- moto -> store -----------------------------------------------------------------------------

def docs(backend, store) -> dict:
    """key (function name) -> (function ARN, document) for every function of the backend; code
    zips not kept yet go into the store's blobs."""
    found = {}
    for latest in backend.list_functions():
        name = latest.function_name
        versions = [v for v in backend.list_versions_by_function(name) if str(v.version) != "$LATEST"]
        found[name] = (latest.function_arn, {
            "FunctionName": name,
            "Latest": _function_doc(latest, store),
            "Versions": [_function_doc(v, store) for v in versions],
            "Aliases": [{"Name": a.name, "FunctionVersion": a.function_version, "Description": a.description,
                         "RoutingConfig": a.routing_config or None} for a in backend.list_aliases(name)],
            "Changed": bool(latest.code_or_config_updated)})
    return found


def _function_doc(fn, store) -> dict:
    """One version as CreateFunction's input (Code by blob key), plus what moto generated."""
    spec = {"FunctionName": fn.function_name, "Role": fn.role, "Handler": fn.handler, "Runtime": fn.run_time,
            "Description": fn.description, "MemorySize": fn.memory_size, "Timeout": fn.timeout,
            "PackageType": fn.package_type, "KMSKeyArn": fn.kms_key_arn, "TracingConfig": fn.tracing_config,
            "Architectures": fn.architectures, "EphemeralStorage": {"Size": fn.ephemeral_storage},
            "Tags": dict(fn.tags or {}), "ReservedConcurrentExecutions": fn.reserved_concurrency}
    if fn.environment_vars:
        spec["Environment"] = {"Variables": dict(fn.environment_vars)}
    if fn._vpc_config:
        spec["VpcConfig"] = fn._vpc_config
    image_config = fn.image_config.response()
    if any(image_config.values()):
        spec["ImageConfig"] = image_config
    doc = {"Spec": {k: v for k, v in spec.items() if v is not None}, "Version": str(fn.version),
           "LastModified": fn.last_modified}
    if "ImageUri" in fn.code:
        doc["ImageUri"] = fn.code["ImageUri"]
    else:
        code = bytes(getattr(fn, "code_bytes", b"") or b"")
        # moto's hex SHA-256 of the zip, computed once when it took the code
        key = CODE + (getattr(fn, "code_digest", None) or hashlib.sha256(code).hexdigest())
        if not store.has_blob(key):  # each distinct zip is written once
            store.put_blob(key, code)
        doc["Code"] = key
    return doc


def forget_unused_code(store) -> None:
    """Drop the kept zips no kept function names any more."""
    used = {version.get("Code") for _, _, doc in store.list_every_scope(KIND)
            for version in [doc["Latest"], *doc["Versions"]]}
    for key in store.blob_keys(CODE) - used:
        store.delete_blob(key)


# -- store -> moto -----------------------------------------------------------------------------

def restore(store) -> int:
    """Every kept function moto lacks, back into moto's Lambda; returns how many."""
    # lazy for start-up time: moto's Lambda loads only when a function is kept
    from moto.awslambda.utils import get_backend

    restored = 0
    for account, region, doc in store.list_every_scope(KIND):
        backend = get_backend(account, region)
        if any(f.function_name == doc["FunctionName"] for f in backend.list_functions()):
            continue
        try:
            _restore_function(store, backend, account, region, doc)
            restored += 1
        except Exception:
            log.warning("could not restore Lambda function %s", doc["FunctionName"], exc_info=True)
    return restored


def _restore_function(store, backend, account: str, region: str, doc: dict) -> None:
    from moto.awslambda.models import LambdaFunction  # lazy for start-up time (as restore)

    def function(version_doc: dict, version):
        spec = dict(version_doc["Spec"])
        if "ImageUri" in version_doc:
            spec["Code"] = {"ImageUri": version_doc["ImageUri"]}
        else:
            code = store.get_blob(version_doc["Code"])
            if code is None:
                raise LookupError(f"the kept code {version_doc['Code']} is missing")
            spec["Code"] = {"ZipFile": base64.b64encode(code).decode()}
        fn = LambdaFunction(account_id=account, spec=spec, region=region, version=version)
        if version != "$LATEST":
            fn.set_version(int(version))
        fn.last_modified = version_doc["LastModified"]
        return fn

    latest = function(doc["Latest"], "$LATEST")
    versions = [function(v, v["Version"]) for v in doc["Versions"]]
    latest.code_or_config_updated = doc.get("Changed", False)
    # What moto's LambdaStorage.put_function and publish_version record, without put_function's
    # look-up of the role in moto's IAM: the role was checked when moto accepted the function,
    # and IAM roles are not kept. Versions keep their numbers (publish_version would renumber).
    storage = backend._lambdas
    storage._functions[latest.function_name] = {"latest": latest, "versions": versions}
    for fn in [latest, *versions]:
        storage._arns[fn.function_arn] = fn
    for alias in doc["Aliases"]:
        storage.put_alias(alias["Name"], latest.function_name, alias["FunctionVersion"], alias["Description"],
                          alias["RoutingConfig"])
