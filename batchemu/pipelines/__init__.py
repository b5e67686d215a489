"""Event-driven pipelines on one endpoint: what moto's EventBridge, S3 and Scheduler lack,
completed at runtime around moto (no fork) so rules, uploads and schedules start Batch jobs.

  targets.py    rule targets: Batch job queues (SubmitJob through batchemu's operations), SQS,
                Input/InputPath/InputTransformer, RetryPolicy, DeadLetterConfig
  inputs.py     what a target receives (pure)
  s3_events.py  S3 -> EventBridge events of AWS's shape
  cron.py       rate()/cron()/at() expressions and their next fire time (pure)
  schedules.py  the schedule thread (scheduled rules, EventBridge Scheduler schedules)
  durable.py    rules and schedules copied to batchemu's store, put back after a restart

`Pipelines` is what the composition root holds: built with the server's Batch operations
(cloudformation.BatchOperations) and its Logs operations (the same class over the Logs
provider: log-group targets write into batchemu's CloudWatch Logs), started and stopped with it, installed into moto before
moto's first EventBridge, S3 or Scheduler request. Must not import moto at module level.
"""

from __future__ import annotations

import logging

from batchemu import services
from batchemu.pipelines import durable, s3_events, schedules, targets

log = logging.getLogger("batchemu.pipelines")

SERVICES = ("events", "s3", "scheduler")  # moto's names for the services these hooks complete


class Pipelines:
    def __init__(self, ops, store, time_scale: float = 1.0, logs_ops=None):
        self.deliveries = targets.Deliveries(ops, time_scale, logs_ops=logs_ops)
        self.schedules = schedules.Schedules(self.deliveries, time_scale)
        self.durable = durable.Durable(store)
        self._restored = False

    def start(self) -> None:
        """Start the retry and schedule threads; with rules or schedules kept from an earlier run, load moto
        now and put them back, so they fire without waiting for someone to call EventBridge."""
        self.deliveries.start()
        self.schedules.start()
        if self.durable.has_any():
            services.moto_dispatcher()
            self.install()

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
        """Call after anything wipes moto's state (POST /moto-api/reset): the kept copies of
        rules and schedules go too, so a restart does not bring back what the reset removed."""
        self.durable.clear()
        self.schedules.wake()

    def stop(self) -> None:
        targets.uninstall(self.deliveries)
        schedules.uninstall(self.schedules)
        self.schedules.close()
        self.deliveries.close()
