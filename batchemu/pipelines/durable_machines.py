"""Step Functions state machines kept across a restart (durable.py decides when): each state
machine of the backend moto's Step Functions serves as one document (name, definition, role,
type, logging, tracing and encryption configuration, description, tags, creation date, its
published versions and its aliases), restored under the same ARN through the backend's own
create/update/publish methods, so the same checks run and versions get the same numbers.

Not kept: executions. A finished execution's DescribeExecution and history are gone after a
restart, and an execution running at the restart is lost (not resumed, not marked failed: it
simply no longer exists; a Batch job it submitted is batchemu's and runs on). Activities are not
kept either. Knows no HTTP and no Batch.
"""

from __future__ import annotations

import datetime as dt
import logging

log = logging.getLogger("batchemu.pipelines")

KIND = "states-state-machine"
WRITERS = ("create_state_machine", "update_state_machine", "delete_state_machine", "create_state_machine_alias",
           "update_state_machine_alias", "delete_state_machine_alias", "tag_resource", "untag_resource")


def writers():
    """(moto's Step Functions backend class, the names of its methods that change a machine);
    the interpreter's backend (a subclass) calls these through super()."""
    from moto.stepfunctions.models import StepFunctionBackend  # lazy for start-up time (moto loaded)

    return StepFunctionBackend, WRITERS


def is_backend(backend) -> bool:
    """Only the backend moto's Step Functions requests reach (the interpreter's, once
    stepfunctions.py turned it on): moto's other one holds nothing a user made."""
    if not hasattr(backend, "state_machines"):
        return False
    from moto.stepfunctions.responses import get_backend  # lazy for start-up time (moto loaded)

    return get_backend(backend.account_id, backend.region_name) is backend


# -- moto -> store -----------------------------------------------------------------------------

def docs(backend) -> dict:
    """key (state machine name) -> (its ARN, document) for every state machine of the backend."""
    found = {}
    for machine in backend.state_machines:
        doc = _configuration(machine)
        doc.update(Name=machine.name, Type=machine.type, CreationDate=machine.creation_date.isoformat(),
                   Tags=backend.tagger.list_tags_for_resource(machine.arn).get("tags", []),
                   Versions=[dict(_configuration(v), Version=number)
                             for number, v in sorted(machine.versions.items())],
                   Aliases=[{"Name": a.name, "Description": a.description,
                             "RoutingConfiguration": a.routing_configuration} for a in machine.aliases.values()])
        found[machine.name] = (machine.arn, doc)
    return found


def _configuration(machine) -> dict:
    return {"Definition": machine.definition, "RoleArn": machine.roleArn, "Description": machine.description,
            "LoggingConfiguration": machine.loggingConfiguration,
            "TracingConfiguration": machine.tracingConfiguration,
            "EncryptionConfiguration": machine.encryptionConfiguration}


# -- store -> moto -----------------------------------------------------------------------------

def restore(store) -> int:
    """Every kept state machine moto lacks, back into moto's Step Functions (the interpreter's
    backend: call after stepfunctions.install); returns how many."""
    from moto.stepfunctions.responses import get_backend  # lazy for start-up time (moto loaded)

    restored = 0
    for account, region, doc in store.list_every_scope(KIND):
        backend = get_backend(account, region)
        if any(m.name == doc["Name"] for m in backend.state_machines):
            continue
        try:
            _restore_machine(backend, doc)
            restored += 1
        except Exception:
            log.warning("could not restore state machine %s", doc["Name"], exc_info=True)
    return restored


def _restore_machine(backend, doc: dict) -> None:
    # Each published version in order, then the machine's own configuration: moto numbers
    # versions 1, 2, ... as it publishes them and never deletes one, so the numbers come back.
    steps = doc["Versions"] + [dict(doc, Version=None)]
    first = steps[0]
    machine = backend.create_state_machine(
        name=doc["Name"], definition=first["Definition"], roleArn=first["RoleArn"], tags=doc.get("Tags") or None,
        publish=first["Version"] is not None, loggingConfiguration=first["LoggingConfiguration"],
        tracingConfiguration=first["TracingConfiguration"],
        encryptionConfiguration=first["EncryptionConfiguration"],
        version_description=first["Description"] if first["Version"] is not None else None, sm_type=doc["Type"])
    for step in steps[1:]:
        published = step["Version"] is not None
        backend.update_state_machine(
            machine.arn, definition=step["Definition"], role_arn=step["RoleArn"],
            logging_configuration=step["LoggingConfiguration"],
            tracing_configuration=step["TracingConfiguration"],
            encryption_configuration=step["EncryptionConfiguration"], publish=published,
            version_description=step["Description"] if published else None)
    machine.description = doc.get("Description")
    for alias in doc["Aliases"]:
        backend.create_state_machine_alias(alias["Name"], alias["RoutingConfiguration"], alias["Description"])
    # moto's own attribute: ListStateMachines' order and DescribeStateMachine's creationDate
    machine.creation_date = dt.datetime.fromisoformat(doc["CreationDate"])
