"""Event-driven pipelines on one endpoint: what moto's EventBridge, S3 and Scheduler lack,
completed at runtime around moto (no fork) so rules, uploads and schedules start Batch jobs.

  targets.py    rule targets: Batch job queues (SubmitJob through batchemu's operations), SQS,
                Input/InputPath/InputTransformer, RetryPolicy, DeadLetterConfig
  inputs.py     what a target receives (pure)
  s3_events.py  S3 -> EventBridge events of AWS's shape
  cron.py       rate()/cron()/at() expressions and their next fire time (pure)
  schedules.py  the schedule thread (scheduled rules, EventBridge Scheduler schedules)

`Pipelines` is what the composition root holds: built with the server's Batch operations
(cloudformation.BatchOperations), started and stopped with it, installed into moto before
moto's first EventBridge, S3 or Scheduler request. Must not import moto at module level.
"""

from __future__ import annotations

from batchemu.pipelines import s3_events, schedules, targets

SERVICES = ("events", "s3", "scheduler")  # moto's names for the services these hooks complete


class Pipelines:
    def __init__(self, ops, time_scale: float = 1.0):
        self.deliveries = targets.Deliveries(ops, time_scale)
        self.schedules = schedules.Schedules(self.deliveries, time_scale)

    def start(self) -> None:
        self.schedules.start()

    def install(self) -> None:
        """Into moto (loaded): this server's deliveries and schedule thread serve its rules."""
        targets.install(self.deliveries)
        schedules.install(self.schedules)
        s3_events.install()
        self.schedules.wake()

    def stop(self) -> None:
        targets.uninstall(self.deliveries)
        schedules.uninstall(self.schedules)
        self.schedules.close()
        self.deliveries.close()
