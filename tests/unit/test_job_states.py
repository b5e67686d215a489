"""One transition table per kind of job, one transition(), and a store that refuses a status
write the table does not allow, whoever the caller is."""

import pytest

from batchemu.vocabulary import job_states
from batchemu.engine import states
from batchemu.store.db import Store
from batchemu.store.jobs import Jobs
from batchemu.store.service_jobs import ServiceJobs


def _doc(job_id, status, **more):
    return dict({"jobId": job_id, "jobArn": f"arn:aws:batch:us-east-1:1:job/{job_id}", "jobName": "n",
                 "jobQueue": "arn:q", "jobDefinition": "arn:jd", "status": status, "createdAt": 1,
                 "_account": "1", "_region": "us-east-1"}, **more)


@pytest.fixture
def store():
    return Store(":memory:")


def test_transition_moves_a_container_job_and_tells_the_observers(store):
    jobs, seen = Jobs(store), []
    store.job_observers.append(lambda new, old: seen.append((old, new["status"])))
    jobs.insert(_doc("a", "RUNNABLE"))
    new = states.transition(jobs, jobs.get("a"), states.STARTING, 5)
    assert new["status"] == "STARTING" and jobs.get("a")["status"] == "STARTING"
    assert seen == [("RUNNABLE", "STARTING")]


def test_a_lost_compare_and_set_returns_none(store):
    jobs = Jobs(store)
    jobs.insert(_doc("a", "RUNNABLE"))
    first, second = jobs.get("a"), jobs.get("a")
    assert states.transition(jobs, first, states.STARTING, 5)
    assert states.transition(jobs, second, states.FAILED, 6) is None
    assert jobs.get("a")["status"] == "STARTING"


def test_the_kind_picks_the_table(store):
    jobs, service = Jobs(store), ServiceJobs(store)
    jobs.insert(_doc("c", "RUNNABLE"))
    service.insert(_doc("s", "RUNNABLE"))
    with pytest.raises(job_states.IllegalTransition):
        states.transition(jobs, jobs.get("c"), states.SCHEDULED, 5)  # no SCHEDULED for container jobs
    assert states.transition(service, service.get("s"), states.SCHEDULED, 5)["status"] == "SCHEDULED"
    with pytest.raises(job_states.IllegalTransition):
        states.transition(service, service.get("s"), states.RUNNING, 6)  # SCHEDULED -> STARTING first


def test_the_store_refuses_an_illegal_status_write_that_skips_transition(store):
    jobs = Jobs(store)
    jobs.insert(_doc("a", "SUCCEEDED"))
    doc = jobs.get("a")
    doc["status"] = "RUNNING"
    with pytest.raises(job_states.IllegalTransition):
        jobs.update(doc)
    assert jobs.get("a")["status"] == "SUCCEEDED"
    doc = jobs.get("a")
    doc["tags"] = {"k": "v"}  # a write that keeps the status is always allowed
    assert jobs.update(doc) and jobs.get("a")["tags"] == {"k": "v"}


def test_the_store_checks_against_the_stored_status_not_the_callers_copy(store):
    service = ServiceJobs(store)
    service.insert(_doc("s", "RUNNABLE"))
    doc = service.get("s")
    doc["status"] = "STARTING"  # RUNNABLE -> STARTING skips SCHEDULED
    with pytest.raises(job_states.IllegalTransition):
        service.update(doc)
    stale = service.get("s")
    assert states.transition(service, service.get("s"), states.SCHEDULED, 5)
    stale["status"] = "FAILED"
    assert service.update(stale) is False  # a lost race, not an illegal move
