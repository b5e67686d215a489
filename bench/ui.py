"""The dashboard at scale: N jobs (default 100,000) in one queue, then the page's views timed
in headless Chromium (tests/ui/browser.py). Prints one line per figure; asserts nothing.

    PYTHONPATH=. python3 bench/ui.py [N]

Jobs are submitted in-process (batch.jobs.submit_job, no HTTP: ~1 minute for 100,000) with the
runner `none`, so they wait RUNNABLE. Timed: the overview (job counts per status), the first
Jobs page and ten Older pages (100 jobs each, ListJobs with nextToken), a name-prefix and an
"any status" page, the oldest job's page (shown, then its dependents search), the Timeline.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batchemu.batch import jobs as batch_jobs  # noqa: E402
from batchemu.context import RequestContext  # noqa: E402
from batchemu.testing import running_server  # noqa: E402
from tests.e2e.support import make_definition, make_queue  # noqa: E402
from tests.ui.browser import responses, start_browser, wait_until  # noqa: E402

ACCOUNT = "123456789012"


def timed(label: str, action, check, timeout: float = 120) -> None:
    started = time.monotonic()
    action()
    wait_until(check, timeout, what=label)
    print(f"{label}: {time.monotonic() - started:.2f} s", flush=True)


def main(n: int) -> None:
    with running_server(runner="none") as server:
        batch = server.client("batch", access_key=ACCOUNT)
        make_queue(batch, "big", max_vcpus=1)
        make_definition(batch, "d", ["true"], image="x:latest")
        started = time.monotonic()
        for i in range(n):
            ctx = RequestContext(ACCOUNT, "us-east-1", uuid.uuid4().hex, int(time.time() * 1000))
            batch_jobs.submit_job(server.emulator.backend, ctx,
                                  {"jobName": f"job-{i:06d}", "jobQueue": "big", "jobDefinition": "d"})
        while batch.list_jobs(jobQueue="big", jobStatus="SUBMITTED", maxResults=1)["jobSummaryList"]:
            time.sleep(1)
        print(f"{n} jobs submitted and RUNNABLE after {time.monotonic() - started:.0f} s", flush=True)
        oldest = batch.list_jobs(jobQueue="big", filters=[{"name": "JOB_NAME", "values": ["job-000000"]}])
        oldest_id = oldest["jobSummaryList"][0]["jobId"]
        d = start_browser()
        go = lambda route: (lambda: d.execute_script("location.hash = arguments[0]", route))  # noqa: E731
        rows = lambda: d.find_elements("css selector", "#jobs-table tbody tr")  # noqa: E731
        try:
            timed("overview", lambda: d.get(server.url + "/ui/"),
                  lambda: d.find_elements("css selector", '#job-queues td[data-status="RUNNABLE"]'))
            d.get_log("performance")
            timed("jobs, first page of 100", go("#/jobs?queue=big&status=RUNNABLE&size=100"), lambda: len(rows()) == 100)
            print(f"  ListJobs requests for it: {len(responses(d, '/v1/listjobs'))}")
            for page in range(2, 12):
                first = rows()[0].text
                timed(f"  page {page}", lambda: d.find_element("id", "page-next").click(),
                      lambda: d.find_element("id", "page-no").text == f"Page {page}" and rows()[0].text != first)
            timed("name prefix job-04", go("#/jobs?queue=big&name=job-04&size=100"),
                  lambda: "job-04" in d.find_element("id", "jobs-table").text)
            timed("any status", go("#/jobs?queue=big&size=100"),
                  lambda: d.find_element("id", "f-status").get_attribute("value") == "" and len(rows()) == 100)
            timed("oldest job's page", go(f"#/job/{oldest_id}"), lambda: d.find_elements("css selector", "#status-timeline li"))
            timed("  its dependents search", lambda: None, lambda: "Depended on by" in d.find_element("id", "main").text)
            timed("timeline, last hour", go("#/timeline?queue=big&minutes=60"), lambda: d.find_elements("id", "gantt-chart"))
        finally:
            d.quit()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
