"""Run by tests/clients/test_airflow.py with the Python of Airflow's own venv (scripts/real-clients.sh):
Airflow's BatchOperator as a DAG author writes it, every argument at its default but the three
names and `awslogs_enabled=True` (the CloudWatch log fetch). The endpoint and the account come
from the AWS_* environment, as on any machine with credentials; no Airflow connection exists.

    python airflow_driver.py QUEUE DEFINITION  ->  one JSON line: {"job_id"} or {"raised", "message"}
"""

import json
import sys

from airflow.providers.amazon.aws.operators.batch import BatchOperator

queue, definition = sys.argv[1:3]
operator = BatchOperator(task_id=f"run-{definition}", job_name=definition, job_definition=definition,
                         job_queue=queue, awslogs_enabled=True)
try:
    result = {"job_id": operator.execute({})}
except Exception as exc:  # what the task would fail with
    result = {"raised": type(exc).__name__, "message": str(exc), "job_id": operator.job_id}
print(json.dumps(result), flush=True)
