"""What of moto's pipeline state survives a restart. Copied into batchemu's store whenever moto
accepts a change (after moto's method returned: a refused request changes nothing), and put back
into moto (in memory only) when the next server starts:

- EventBridge: every event bus but the default one (name, description, KMS key, dead-letter
  config, tags) and the rules of every bus (pattern and schedule, state, role, targets, tags);
- EventBridge Scheduler schedules (with their group's name);
- Lambda functions (durable_functions.py) and Step Functions state machines
  (durable_machines.py).

Not kept: partner event buses, bus policies, archives, connections, API destinations, and
everything of the target side that lives in moto (SQS queues, S3 buckets and their
notification configuration, log groups, IAM roles): a restored rule whose target or source was
moto's points at nothing until that is created again. Batch job queues and job definitions are
batchemu's and survive, so a scheduled Batch job keeps firing. Firings missed while the server
was down are not replayed; a rate() counts afresh from the restart.
Only a server with a data dir keeps functions and state machines (their copies would only
double an --ephemeral server's memory); rules and schedules are kept either way.
`clear()` forgets everything kept (a reset). Knows no HTTP and no Batch.
"""

from __future__ import annotations

import json
import logging
import threading

from batchemu.pipelines import durable_functions, durable_machines

log = logging.getLogger("batchemu.pipelines")

RULE_KIND = "eventbridge-rule"
BUS_KIND = "eventbridge-bus"
SCHEDULE_KIND = "scheduler-schedule"
EVENTS_KINDS = (RULE_KIND, BUS_KIND, SCHEDULE_KIND)
KINDS = {"events": EVENTS_KINDS, "lambda": (durable_functions.KIND,), "states": (durable_machines.KIND,)}
DEFAULT_BUS = "default"


class Durable:
    def __init__(self, store):
        self.store = store
        self.keeps_code = getattr(store, "path", ":memory:") != ":memory:"  # functions, state machines
        self._restoring = threading.local()  # moto's writers called by restore() save nothing

    def has_any(self, service: str | None = None) -> bool:
        """Whether anything of `service` ("events", "lambda", "states"; None: any) is kept."""
        kinds = KINDS[service] if service else [k for ks in KINDS.values() for k in ks]
        return any(self.store.list_every_scope(kind) for kind in kinds)

    # -- moto -> store -------------------------------------------------------------------------

    def save(self, backend) -> None:
        """Copy what one moto backend (an account and region of EventBridge, Scheduler, Lambda or
        Step Functions) holds of what is kept to the store, replacing the earlier copy."""
        if getattr(self._restoring, "active", False):
            return
        if hasattr(backend, "event_buses"):
            with self.store.transaction():
                self._replace(backend, RULE_KIND, _rule_docs(backend))
                self._replace(backend, BUS_KIND, _bus_docs(backend))
        elif hasattr(backend, "schedule_groups"):
            self._replace(backend, SCHEDULE_KIND,
                          {f"{s.group_name}/{s.name}": (s.arn, _schedule_doc(s))
                           for group in backend.schedule_groups.values() for s in group.schedules.values()})
        elif not self.keeps_code:
            return
        elif durable_functions.is_backend(backend):
            with self.store.transaction():
                self._replace(backend, durable_functions.KIND, durable_functions.docs(backend, self.store))
                durable_functions.forget_unused_code(self.store)
        elif durable_machines.is_backend(backend):
            self._replace(backend, durable_machines.KIND, durable_machines.docs(backend))

    def _replace(self, backend, kind: str, docs: dict) -> None:
        """The store's documents of `kind` in the backend's account and region become `docs`
        (key -> (arn, doc))."""
        account, region = backend.account_id, backend.region_name
        with self.store.transaction():
            for doc in self.store.list(account, region, kind):
                if doc["key"] not in docs:
                    self.store.delete(account, region, kind, doc["key"])
            for key, (arn, doc) in docs.items():
                self.store.put(account, region, kind, key, arn, plain(dict(doc, key=key)))

    def clear(self) -> None:
        """Forget everything kept (moto's state was reset: mirror it)."""
        with self.store.transaction():
            for kinds in KINDS.values():
                for kind in kinds:
                    for account, region, doc in self.store.list_every_scope(kind):
                        self.store.delete(account, region, kind, doc["key"])
            durable_functions.forget_unused_code(self.store)

    # -- store -> moto -------------------------------------------------------------------------

    def restore(self, service: str = "events") -> int:
        """Put everything kept of `service` that moto lacks back into moto; returns how many."""
        self._restoring.active = True
        try:
            if service == "lambda":
                return durable_functions.restore(self.store)
            if service == "states":
                return durable_machines.restore(self.store)
            return self._restore_events()
        finally:
            self._restoring.active = False

    def _restore_events(self) -> int:
        # lazy for start-up time: only when something is stored (moto's models take seconds)
        from moto.events.models import events_backends
        from moto.scheduler.models import scheduler_backends

        restored = 0
        for account, region, doc in self.store.list_every_scope(BUS_KIND):
            backend = events_backends[account][region]
            if doc["Name"] in backend.event_buses:
                continue
            try:
                bus = backend.create_event_bus(doc["Name"], description=doc.get("Description"),
                                               kms_key_identifier=doc.get("KmsKeyIdentifier"),
                                               dead_letter_config=doc.get("DeadLetterConfig"),
                                               tags=doc.get("Tags") or None)
                if doc.get("CreationTime") is not None:  # moto's own attribute: DescribeEventBus's date
                    bus.creation_time = doc["CreationTime"]
                restored += 1
            except Exception:
                log.warning("could not restore event bus %s", doc["Name"], exc_info=True)
        for account, region, doc in self.store.list_every_scope(RULE_KIND):
            backend = events_backends[account][region]
            bus = doc.get("EventBusName") or DEFAULT_BUS
            if bus not in backend.event_buses or doc["Name"] in backend.event_buses[bus].rules:
                continue
            try:
                backend.put_rule(doc["Name"], description=doc.get("Description"), event_bus_arn=bus,
                                 event_pattern=doc.get("EventPattern"), role_arn=doc.get("RoleArn"),
                                 scheduled_expression=doc.get("ScheduleExpression"), state=doc.get("State"),
                                 tags=doc.get("Tags") or None)
                if doc.get("Targets"):
                    backend.put_targets(doc["Name"], bus, doc["Targets"])
                restored += 1
            except Exception:
                log.warning("could not restore EventBridge rule %s", doc["Name"], exc_info=True)
        for account, region, doc in self.store.list_every_scope(SCHEDULE_KIND):
            backend = scheduler_backends[account][region]
            group = doc["GroupName"]
            if group not in backend.schedule_groups:
                backend.create_schedule_group(group, tags=[])
            if doc["Name"] in backend.schedule_groups[group].schedules:
                continue
            try:
                backend.create_schedule(
                    description=doc.get("Description"), end_date=doc.get("EndDate"),
                    flexible_time_window=doc.get("FlexibleTimeWindow"), group_name=group,
                    kms_key_arn=doc.get("KmsKeyArn"), name=doc["Name"],
                    schedule_expression=doc["ScheduleExpression"],
                    schedule_expression_timezone=doc.get("ScheduleExpressionTimezone"),
                    start_date=None, state=doc.get("State"), target=doc["Target"],
                    action_after_completion=doc.get("ActionAfterCompletion"))
                restored += 1
            except Exception:
                log.warning("could not restore schedule %s/%s", group, doc["Name"], exc_info=True)
        return restored


# -- moto's Lambda and Step Functions writers, watched -------------------------------------------
# (EventBridge's and Scheduler's are wrapped by schedules.py, which also wakes its thread.)

_keepers: list[Durable] = []  # the running servers' copies; the newest one keeps moto's changes
_wrapped: set = set()
_wrap_lock = threading.Lock()


def watch(service: str, durable: Durable) -> None:
    """From now on `durable` (the newest server's) keeps what moto's Lambda ("lambda") or Step
    Functions ("states") accepts: their writers are wrapped once per process (moto loaded)."""
    if durable in _keepers:
        _keepers.remove(durable)
    _keepers.append(durable)
    module = durable_functions if service == "lambda" else durable_machines
    cls, names = module.writers()
    with _wrap_lock:
        for name in names:
            if (cls, name) not in _wrapped:
                _wrapped.add((cls, name))
                setattr(cls, name, watched(getattr(cls, name), after=_keep))


def unwatch(durable: Durable) -> None:
    if durable in _keepers:
        _keepers.remove(durable)


def _keep(backend) -> None:
    if _keepers:
        _keepers[-1].save(backend)


def watched(method, after, before=None):
    """moto's writer `method` (a backend method), wrapped: `before(name, args, kwargs)` may refuse
    the call by raising; `after(backend)` runs once moto accepted it (moto raises on a refusal),
    and its failure is only logged: keeping a copy must never fail the request."""
    def wrapper(backend, *args, **kwargs):
        if before is not None:
            before(method.__name__, args, kwargs)
        result = method(backend, *args, **kwargs)
        try:
            after(backend)
        except Exception:
            log.warning("could not keep a copy of the change (%s)", method.__name__, exc_info=True)
        return result
    wrapper.__wrapped__ = method
    wrapper.__name__ = method.__name__
    return wrapper


# -- documents ---------------------------------------------------------------------------------

def plain(value):
    """JSON-safe (moto may keep a datetime, or bytes): anything else becomes its text."""
    return json.loads(json.dumps(value, default=str))


def _rule_docs(backend) -> dict:
    """Every bus's rules; a default-bus rule's key is its name (as kept before other buses were)."""
    docs = {}
    for bus in backend.event_buses.values():
        if bus.name != DEFAULT_BUS and "/" in bus.name:
            continue  # a partner bus: its event source is not kept
        for rule in bus.rules.values():
            key = rule.name if bus.name == DEFAULT_BUS else f"{bus.name}/{rule.name}"
            docs[key] = (rule.arn, _rule_doc(backend, rule))
    return docs


def _rule_doc(backend, rule) -> dict:
    return {"Name": rule.name, "EventBusName": rule.event_bus_name, "Description": rule.description,
            "EventPattern": rule.event_pattern._raw_pattern, "ScheduleExpression": rule.scheduled_expression,
            "State": rule.state, "RoleArn": rule.role_arn, "Targets": rule.targets,
            "Tags": backend.tagger.list_tags_for_resource(rule.arn).get("Tags", [])}


def _bus_docs(backend) -> dict:
    return {bus.name: (bus.arn, {
        "Name": bus.name, "Description": bus.description, "KmsKeyIdentifier": bus.kms_key_identifier,
        "DeadLetterConfig": bus.dead_letter_config, "CreationTime": bus.creation_time,
        "Tags": backend.tagger.list_tags_for_resource(bus.arn).get("Tags", [])})
        for bus in backend.event_buses.values() if bus.name != DEFAULT_BUS and "/" not in bus.name}


def _schedule_doc(schedule) -> dict:
    doc = schedule.to_dict()
    return {k: doc.get(k) for k in ("Name", "GroupName", "Description", "ScheduleExpression",
                                    "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target",
                                    "ActionAfterCompletion", "State", "KmsKeyArn", "EndDate")}
