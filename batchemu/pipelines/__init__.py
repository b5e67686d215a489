"""Event-driven pipelines on one endpoint: what moto's EventBridge, S3 and Scheduler lack,
completed at runtime around moto (no fork) so rules, uploads and schedules start Batch jobs.

  targets.py    rule targets: Batch job queues (SubmitJob through batchemu's operations), SQS,
                Input/InputPath/InputTransformer, RetryPolicy, DeadLetterConfig
  inputs.py     what a target receives (pure)
  s3_events.py  S3 -> EventBridge events of AWS's shape
  cron.py       rate()/cron()/at() expressions and their next fire time (pure)
  schedules.py  the schedule thread (scheduled rules, EventBridge Scheduler schedules)
  durable.py    what moto accepted, copied to batchemu's store and put back after a restart:
                event buses, rules, schedules; Lambda functions (durable_functions.py) and
                Step Functions state machines (durable_machines.py)

`Pipelines` is what the composition root holds: built with the server's Batch operations
(cloudformation.BatchOperations) and its Logs operations (the same class over the Logs
provider: log-group targets write into batchemu's CloudWatch Logs), started and stopped with it, installed into moto before
moto's first EventBridge, S3 or Scheduler request; `keep("lambda")` and `keep("states")` before
moto's first Lambda and Step Functions request (after the composition root's own hooks for
those services). Must not import moto at module level.
"""

from __future__ import annotations

import logging

from batchemu import services
from batchemu.pipelines import durable, s3_events, schedules, targets

log = logging.getLogger("batchemu.pipelines")

SERVICES = ("events", "s3", "scheduler")  # moto's names for the services these hooks complete
KEPT_SERVICES = ("lambda", "states")  # moto services whose state durable.py keeps (besides events)


class Pipelines:
    def __init__(self, ops, store, time_scale: float = 1.0, logs_ops=None):
        self.deliveries = targets.Deliveries(ops, time_scale, logs_ops=logs_ops)
        self.schedules = schedules.Schedules(self.deliveries, time_scale)
        self.durable = durable.Durable(store)
        self._restored = False
        self._restored_services: set[str] = set()

    def start(self) -> None:
        """Start the retry and schedule threads; with state kept from an earlier run, load moto now
        and put it back (each service's first-request hooks run now), so rules and schedules fire,
        and reach the functions they target, without waiting for someone to call a service."""
        self.deliveries.start()
        self.schedules.start()
        for service in (*KEPT_SERVICES, "events"):
            if self.durable.has_any(service):
                services.prepare(service)  # its hooks: install() / keep(service)

    def keep(self, service: str) -> None:
        """Into moto (loaded) for "lambda" or "states": the kept functions or state machines go
        back in (once), and from now on what moto accepts is kept (with a data dir only)."""
        if service not in self._restored_services:
            self._restored_services.add(service)
            count = self.durable.restore(service)
            if count:
                log.info("restored %d kept %s resources from the store", count, service)
        if self.durable.keeps_code:
            durable.watch(service, self.durable)

    def install(self) -> None:
        """Into moto (loaded): this server's deliveries and schedule thread serve its rules;
        the kept rules and schedules go back in (once)."""
        targets.install(self.deliveries)
        schedules.install(self.schedules)
        s3_events.install()
        if not self._restored:
            self._restored = True
            count = self.durable.restore()
            if count:
                log.info("restored %d EventBridge rules and schedules from the store", count)
        self.schedules.on_change = self.durable.save
        self.schedules.wake()

    def moto_was_reset(self) -> None:
        """Call after anything wipes moto's state (POST /moto-api/reset): the kept copies (buses,
        rules, schedules, functions, state machines) go too, so a restart does not bring back
        what the reset removed."""
        self.durable.clear()
        self.schedules.wake()

    def stop(self) -> None:
        durable.unwatch(self.durable)
        targets.uninstall(self.deliveries)
        schedules.uninstall(self.schedules)
        self.schedules.close()
        self.deliveries.close()
