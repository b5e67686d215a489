"""What of EventBridge survives a restart: the rules of each account's and region's default event
bus (pattern and schedule, state, role, targets) and EventBridge Scheduler schedules (with their
group's name), copied into batchemu's store whenever moto's rules or schedules change, and put
back into moto (in memory only) when the next server starts.

Not kept: custom event buses and their rules, archives, connections, API destinations, tags,
and everything of the target side that lives in moto (SQS queues, S3 buckets and their
notification configuration, log groups): a restored rule whose target or source was moto's
points at nothing until that is created again. Batch job queues and job definitions are
batchemu's and survive, so a scheduled Batch job keeps firing. Firings missed while the server
was down are not replayed; a rate() counts afresh from the restart.
With --ephemeral the store is in memory and nothing survives. Knows no HTTP and no Batch.
"""

from __future__ import annotations

import json
import logging

log = logging.getLogger("batchemu.pipelines")

RULE_KIND = "eventbridge-rule"
SCHEDULE_KIND = "scheduler-schedule"


class Durable:
    def __init__(self, store):
        self.store = store

    def has_any(self) -> bool:
        return bool(self.store.list_every_scope(RULE_KIND) or self.store.list_every_scope(SCHEDULE_KIND))

    # -- moto -> store -------------------------------------------------------------------------

    def save(self, backend) -> None:
        """Copy the rules or schedules of one moto backend (an account and region) to the store."""
        if hasattr(backend, "event_buses"):
            bus = backend.event_buses.get("default")
            docs = {rule.name: (rule.arn, _rule_doc(rule)) for rule in (bus.rules.values() if bus else ())}
            kind = RULE_KIND
        else:
            docs = {f"{s.group_name}/{s.name}": (s.arn, _schedule_doc(s))
                    for group in backend.schedule_groups.values() for s in group.schedules.values()}
            kind = SCHEDULE_KIND
        account, region = backend.account_id, backend.region_name
        with self.store.transaction():
            for doc in self.store.list(account, region, kind):
                if doc["key"] not in docs:
                    self.store.delete(account, region, kind, doc["key"])
            for key, (arn, doc) in docs.items():
                self.store.put(account, region, kind, key, arn, dict(doc, key=key))

    def clear(self) -> None:
        """Forget every kept rule and schedule (moto's state was reset: mirror it)."""
        with self.store.transaction():
            for kind in (RULE_KIND, SCHEDULE_KIND):
                for account, region, doc in self.store.list_every_scope(kind):
                    self.store.delete(account, region, kind, doc["key"])

    # -- store -> moto -------------------------------------------------------------------------

    def restore(self) -> int:
        """Put every stored rule and schedule that moto lacks back into moto; returns how many."""
        # lazy for start-up time: only when something is stored (moto's models take seconds)
        from moto.events.models import events_backends
        from moto.scheduler.models import scheduler_backends

        restored = 0
        for account, region, doc in self.store.list_every_scope(RULE_KIND):
            backend = events_backends[account][region]
            if doc["Name"] in backend.event_buses["default"].rules:
                continue
            try:
                backend.put_rule(doc["Name"], description=doc.get("Description"),
                                 event_pattern=doc.get("EventPattern"), role_arn=doc.get("RoleArn"),
                                 scheduled_expression=doc.get("ScheduleExpression"), state=doc.get("State"))
                if doc.get("Targets"):
                    backend.put_targets(doc["Name"], None, doc["Targets"])
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


def _plain(value):
    """JSON-safe (moto may keep a datetime): anything else becomes its text."""
    return json.loads(json.dumps(value, default=str))


def _rule_doc(rule) -> dict:
    return _plain({"Name": rule.name, "Description": rule.description,
                   "EventPattern": rule.event_pattern._raw_pattern, "ScheduleExpression": rule.scheduled_expression,
                   "State": rule.state, "RoleArn": rule.role_arn, "Targets": rule.targets})


def _schedule_doc(schedule) -> dict:
    doc = schedule.to_dict()
    return _plain({k: doc.get(k) for k in ("Name", "GroupName", "Description", "ScheduleExpression",
                                          "ScheduleExpressionTimezone", "FlexibleTimeWindow", "Target",
                                          "ActionAfterCompletion", "State", "KmsKeyArn", "EndDate")})
