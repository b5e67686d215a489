"""Kept wire views (batch.job_views): a job's JobSummary/JobDetail text is kept after the first
read and served as is until the job changes. What a user sees must never depend on whether a
view was kept: every answer here is compared with a fresh rendering of the same jobs."""

import base64
import json

import pytest

from batchemu.batch import job_views
from batchemu.batch.errors import ClientException
from tests.engine.harness import ACCOUNT, REGION, Harness


@pytest.fixture()
def h():
    h = Harness()
    h.setup()
    return h


def kept(h, job_id):
    """(summary kept?, detail kept?) of a job's row."""
    (row,) = h.store.query("SELECT summary_json, detail_json FROM jobs WHERE job_id=?", (job_id,))
    return row["summary_json"] is not None, row["detail_json"] is not None


def listing(h, **params):
    """Every JobSummary of a ListJobs walk over all pages, and the number of pages."""
    summaries, token, pages = [], None, 0
    while True:
        page = h.call("ListJobs", jobQueue="q", **params, **({"nextToken": token} if token else {}))
        summaries += page["jobSummaryList"]
        pages += 1
        token = page.get("nextToken")
        if not token:
            return summaries, pages


def fresh(h, read):
    """What `read()` answers when no view is kept."""
    h.jobs.forget_views()
    return read()


def test_views_are_kept_after_a_read_and_answer_as_a_fresh_rendering(h):
    done, running, queued = h.submit("done"), h.submit("running"), h.submit("queued", containerOverrides={
        "resourceRequirements": [{"type": "VCPU", "value": "64"}]})
    h.tick()
    h.run_to_end(done, code=3)
    h.runner.run(running)
    h.tick()
    ids = [done, running, queued]
    assert [kept(h, i) for i in ids] == [(False, False)] * 3
    first = h.call("DescribeJobs", jobs=ids)
    assert [kept(h, i) for i in ids] == [(False, True)] * 3
    assert h.call("DescribeJobs", jobs=ids) == first == fresh(h, lambda: h.call("DescribeJobs", jobs=ids))
    assert first["jobs"][0]["container"]["exitCode"] == 3 and first["jobs"][1]["status"] == "RUNNING"

    for status in ("FAILED", "RUNNING", "RUNNABLE"):
        first = h.call("ListJobs", jobQueue="q", jobStatus=status)
        assert len(first["jobSummaryList"]) == 1
        assert h.call("ListJobs", jobQueue="q", jobStatus=status) == first
        assert first == fresh(h, lambda: h.call("ListJobs", jobQueue="q", jobStatus=status))
    assert [kept(h, i)[0] for i in ids] == [False, False, True]  # forgotten by fresh(), then listed


def test_a_change_forgets_the_view_and_the_next_answer_shows_it(h):
    job = h.submit("j")
    assert h.job(job)["status"] == "SUBMITTED"
    assert h.call("ListJobs", jobQueue="q", jobStatus="SUBMITTED")["jobSummaryList"][0]["jobId"] == job
    assert kept(h, job) == (True, True)
    h.tick()  # SUBMITTED -> ... -> STARTING
    assert kept(h, job) == (False, False)
    assert h.job(job)["status"] == "STARTING"
    assert h.call("ListJobs", jobQueue="q", jobStatus="SUBMITTED")["jobSummaryList"] == []
    (summary,) = h.call("ListJobs", jobQueue="q", jobStatus="STARTING")["jobSummaryList"]
    assert summary["capacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 1.0}]

    arn = h.job(job)["jobArn"]
    h.call("TagResource", resourceArn=arn, tags={"team": "a"})
    assert kept(h, job)[1] is False
    assert h.job(job)["tags"] == {"team": "a"}


def test_a_view_read_before_a_change_is_not_kept_after_it(h):
    """keep_views is a compare-and-set on the row version: a view rendered from an older
    version never lands over a newer job."""
    job = h.submit("j")
    (job_id, version, kept_text, doc), = h.jobs.details(ACCOUNT, REGION, [job])
    assert kept_text is None
    h.tick()  # the job changes between the read and the keep
    h.jobs.keep_views("detail", [('{"stale":true}', job_id, version)])
    assert kept(h, job) == (False, False)
    assert h.job(job)["status"] == "STARTING"


def test_array_parents_are_never_kept_and_their_summary_is_live(h):
    parent = h.submit("array", arrayProperties={"size": 3})
    h.tick()
    counts = h.job(parent)["arrayProperties"]["statusSummary"]
    assert counts["STARTING"] == 3
    h.call("ListJobs", jobQueue="q", jobStatus="PENDING")
    assert kept(h, parent) == (False, False)
    child = f"{parent}:0"
    h.run_to_end(child, code=0)
    summary = h.job(parent)["arrayProperties"]["statusSummary"]
    assert summary["SUCCEEDED"] == 1 and summary["STARTING"] == 2
    (listed,) = h.call("ListJobs", jobQueue="q", jobStatus="PENDING")["jobSummaryList"]
    assert listed["arrayProperties"]["statusSummary"] == summary
    assert kept(h, parent) == (False, False)
    children = h.call("ListJobs", arrayJobId=parent, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert [c["jobId"] for c in children] == [child]
    assert kept(h, child)[0] is True


def test_forget_stale_drops_views_of_another_rendering(h):
    job = h.submit("j")
    h.job(job)
    h.call("ListJobs", jobQueue="q", jobStatus="SUBMITTED")
    job_views.forget_stale(h.store)  # same rendering: views stay
    assert kept(h, job) == (True, True)
    h.store.execute("UPDATE meta SET value='0/botocore-0' WHERE key='job_views'")
    job_views.forget_stale(h.store)
    assert kept(h, job) == (False, False)
    (row,) = h.store.query("SELECT value FROM meta WHERE key='job_views'")
    assert row["value"] == job_views.VIEWS_VERSION


@pytest.mark.parametrize("page_size", [1, 3, 7, 100])
def test_pages_are_whole_and_ordered_whether_views_are_kept_or_not(h, page_size):
    # The manual clock stands still, so every job has the same createdAt: pages are ordered and
    # continued by jobId alone (the nextToken's tie-break).
    ids = [h.submit(f"j{i}") for i in range(7)]
    expected = sorted(ids, reverse=True)
    cold, pages = listing(h, jobStatus="SUBMITTED", maxResults=page_size)
    assert [s["jobId"] for s in cold] == expected
    assert pages == -(-7 // page_size)
    assert all(kept(h, i)[0] for i in ids)
    warm, _ = listing(h, jobStatus="SUBMITTED", maxResults=page_size)
    assert warm == cold
    # Some views kept, some not: the page falls back to rendering the missing ones.
    h.store.execute("UPDATE jobs SET summary_json=NULL WHERE job_id IN (?, ?)", (expected[1], expected[5]))
    mixed, _ = listing(h, jobStatus="SUBMITTED", maxResults=page_size)
    assert mixed == cold


def test_a_job_submitted_during_a_walk_does_not_shift_its_pages(h):
    ids = [h.submit(f"j{i}") for i in range(4)]
    h.advance(1)
    listing(h, jobStatus="SUBMITTED")  # keep every view, so pages take the fast path
    first = h.call("ListJobs", jobQueue="q", jobStatus="SUBMITTED", maxResults=2)
    newer = h.submit("newer")
    rest = h.call("ListJobs", jobQueue="q", jobStatus="SUBMITTED", maxResults=2, nextToken=first["nextToken"])
    walked = [s["jobId"] for s in first["jobSummaryList"] + rest["jobSummaryList"]]
    assert walked == sorted(ids, reverse=True)
    assert newer not in walked and "nextToken" not in rest


@pytest.mark.parametrize("key", [[{"x": 1}, "id"], [1, ["id"]], [None, "id"], ["1", "id"], [1]])
def test_a_forged_next_token_is_a_client_error(h, key):
    h.submit("j")
    token = base64.urlsafe_b64encode(json.dumps({"p": key}).encode()).decode()
    with pytest.raises(ClientException, match="Invalid nextToken"):
        h.call("ListJobs", jobQueue="q", jobStatus="SUBMITTED", nextToken=token)


def test_views_kept_on_write_answer_as_a_fresh_rendering_and_follow_every_change(h):
    """The server keeps each JobDetail with every write (keep_on_write): the first DescribeJobs
    reads it as it is, and it always shows the job's current version."""
    job_views.keep_on_write(h.store)
    done, parent = h.submit("done"), h.submit("array", arrayProperties={"size": 2})
    assert kept(h, done) == (False, True) and kept(h, parent) == (False, False)
    h.tick()
    h.run_to_end(done, code=3)
    children = [f"{parent}:0", f"{parent}:1"]
    h.runner.run(children[0])
    h.tick()
    ids = [done, parent, *children]
    assert [kept(h, i)[1] for i in ids] == [True, False, True, True]
    (row,) = h.store.query("SELECT detail_json FROM jobs WHERE job_id=?", (done,))
    assert json.loads(row["detail_json"])["container"]["exitCode"] == 3  # the latest version
    first = h.call("DescribeJobs", jobs=ids)
    assert first == fresh(h, lambda: h.call("DescribeJobs", jobs=ids))
    assert [j["status"] for j in first["jobs"]] == ["FAILED", "PENDING", "RUNNING", "STARTING"]


def test_a_failing_renderer_keeps_nothing_and_the_write_goes_on(h):
    def broken(doc):
        raise ValueError("boom")
    h.store.detail_on_write = broken
    job = h.submit("j")
    h.tick()
    assert kept(h, job) == (False, False) and h.job(job)["status"] == "STARTING"
