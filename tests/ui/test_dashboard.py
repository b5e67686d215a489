"""The dashboard in a real browser (headless Chromium): it loads from /ui/, follows a job from
RUNNABLE through RUNNING to SUCCEEDED without a reload while its log grows, cancels another job
and disables a queue (each confirmed), signs its requests well enough for
--verify-signatures, and a page of another origin cannot drive the server. Jobs run as host
processes (the process runner), so these tests need no Docker. Screenshots are saved as
artefacts (tests/ui/browser.py)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from batchemu.testing import running_server
from tests.e2e.support import describe, make_definition, make_queue, new_account, wait_status
from tests.ui.browser import responses, screenshot, start_browser, wait_until

pytestmark = pytest.mark.browser
# WebDriver's key codes (selenium's Keys.TAB / Keys.ENTER), so that this module imports
# without selenium and the browser check can skip or fail with its own message.
TAB, ENTER = "\ue004", "\ue007"


@pytest.fixture(scope="module")
def browser():
    driver = start_browser()
    try:
        yield driver
    finally:
        driver.quit()


def by_id(driver, element_id):
    return driver.find_element("id", element_id)


def click(driver, element_id: str, what: str) -> None:
    """Click #element_id once it is there. The page re-renders from the live event stream, so an
    element found a moment ago can be replaced before the click lands: then find it again."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    def attempt():
        try:
            by_id(driver, element_id).click()
            return True
        except (NoSuchElementException, StaleElementReferenceException):
            return False
    wait_until(attempt, what=what, driver=driver)


def text_of(driver, element_id) -> str:
    found = driver.find_elements("id", element_id)
    return found[0].text if found else ""


def show_account(driver, url: str, account: str) -> None:
    """Open the dashboard and choose `account` in its account selector."""
    driver.get(url + "/ui/")
    field = wait_until(lambda: by_id(driver, "account").get_attribute("value") and by_id(driver, "account"),
                       what="the account selector", driver=driver)
    field.clear()
    field.send_keys(account)
    driver.find_element("css selector", "#scope button[type=submit]").click()
    wait_until(lambda: account in text_of(driver, "live") and "on" in text_of(driver, "live"),
               what="live updates for the account", driver=driver)


def go(driver, hash_route: str) -> None:
    """Follow an in-page link (a hash change: never a reload)."""
    driver.execute_script("location.hash = arguments[0]", hash_route)


def confirm(driver, reason: str | None = None) -> None:
    dialog = wait_until(lambda: by_id(driver, "confirm").is_displayed() and by_id(driver, "confirm"),
                        what="the confirmation dialog", driver=driver)
    if reason is not None:
        field = dialog.find_element("id", "confirm-reason")
        field.clear()
        field.send_keys(reason)
    by_id(driver, "confirm-yes").click()


def test_dashboard_follows_a_job_live_cancels_another_and_disables_a_queue(browser):
    with running_server(runner="process", stop_grace_seconds=2) as server:
        account = new_account()
        batch = server.client("batch", access_key=account)
        work_ce = make_queue(batch, "work", max_vcpus=2)
        make_queue(batch, "parked", max_vcpus=1)
        # Both CEs start disabled: the job stays RUNNABLE until the test lets it run.
        batch.update_compute_environment(computeEnvironment=work_ce, state="DISABLED")
        batch.update_compute_environment(computeEnvironment="parked-ce", state="DISABLED")
        batch.create_consumable_resource(consumableResourceName="licences", totalQuantity=5,
                                         resourceType="REPLENISHABLE")
        make_definition(batch, "talk", ["sh", "-c", "echo hello from the dashboard test; sleep 2; echo goodbye"],
                        image="ignored:latest")
        job = batch.submit_job(jobName="talker", jobQueue="work", jobDefinition="talk")["jobId"]
        after = batch.submit_job(jobName="after-talker", jobQueue="work", jobDefinition="talk",
                                 dependsOn=[{"jobId": job}])["jobId"]
        parked = batch.submit_job(jobName="parked-job", jobQueue="parked", jobDefinition="talk")["jobId"]
        array = batch.submit_job(jobName="fan-out", jobQueue="parked", jobDefinition="talk",
                                 arrayProperties={"size": 3})["jobId"]
        wait_status(batch, job, "RUNNABLE")
        wait_status(batch, parked, "RUNNABLE")

        show_account(browser, server.url, account)
        wait_until(lambda: "work" in text_of(browser, "job-queues"), what="the queues", driver=browser)
        queue_row = browser.find_element("css selector", '#job-queues tr[data-queue="work"]')
        assert queue_row.find_element("css selector", 'td[data-status="RUNNABLE"]').text == "1"
        assert queue_row.find_element("css selector", 'td[data-status="PENDING"]').text == "1"
        assert "licences REPLENISHABLE 0 / 5" in text_of(browser, "main")  # in use / total
        screenshot(browser, "01-overview")

        go(browser, f"#/job/{job}")
        wait_until(lambda: "RUNNABLE" in text_of(browser, "job-status"), what="the job as RUNNABLE", driver=browser)
        wait_until(lambda: "after-talker" in text_of(browser, "dependents"), what="its dependent", driver=browser)
        # Record every status the page shows from now on, and mark the document: a reload
        # would lose the mark.
        browser.execute_script("""
            window.noReload = true; window.shown = [];
            const note = () => { const el = document.getElementById('job-status');
              const t = el && el.textContent.replace(/[^A-Z]/g, '');
              if (t && window.shown[window.shown.length - 1] !== t) window.shown.push(t); };
            note(); new MutationObserver(note).observe(document.getElementById('main'), {subtree: true, childList: true, characterData: true});""")
        batch.update_compute_environment(computeEnvironment=work_ce, state="ENABLED")

        wait_until(lambda: "RUNNING" in text_of(browser, "job-status"), what="the job as RUNNING", driver=browser)
        wait_until(lambda: "hello from the dashboard test" in text_of(browser, "job-log"),
                   what="the first log line while it runs", driver=browser)
        assert "goodbye" not in text_of(browser, "job-log")  # the log is read live, not at the end
        screenshot(browser, "02-job-running-live-log")
        wait_until(lambda: "SUCCEEDED" in text_of(browser, "job-status"), what="the job as SUCCEEDED", driver=browser)
        wait_until(lambda: "goodbye" in text_of(browser, "job-log"), what="the last log line", driver=browser)
        shown = browser.execute_script("return window.shown")
        assert browser.execute_script("return window.noReload") is True
        assert [s for s in shown if s in ("RUNNABLE", "RUNNING", "SUCCEEDED")] == ["RUNNABLE", "RUNNING", "SUCCEEDED"], shown
        assert "0" in text_of(browser, "attempts-table")  # exit code 0 of its attempt
        steps = {li.get_attribute("data-status"): li.text
                 for li in browser.find_elements("css selector", "#status-timeline li")}
        assert steps["RUNNABLE"].endswith("(passed)") and steps["RUNNING"].endswith("(passed)"), steps
        assert steps["PENDING"].endswith("(not reached)"), steps  # it waited for nothing
        assert steps["SUCCEEDED"].endswith("(current)") and "FAILED" not in steps, steps
        assert describe(batch, job)["status"] == "SUCCEEDED"
        screenshot(browser, "03-job-succeeded")

        go(browser, "#/timeline?queue=work")
        wait_until(lambda: browser.find_elements("css selector", '#gantt-chart a[data-status="SUCCEEDED"]'),
                   what="the job on the timeline", driver=browser)
        screenshot(browser, "04-timeline")

        # Terminate a running job from its page.
        make_definition(batch, "sleepy", ["sleep", "30"], image="ignored:latest")
        sleeper = batch.submit_job(jobName="sleeper", jobQueue="work", jobDefinition="sleepy")["jobId"]
        go(browser, f"#/job/{sleeper}")
        wait_until(lambda: "RUNNING" in text_of(browser, "job-status"), what="the sleeper RUNNING", driver=browser)
        click(browser, "terminate-job", "the terminate button")
        confirm(browser, "stopped from the dashboard test")
        wait_until(lambda: "FAILED" in text_of(browser, "job-status"), what="the terminated job as FAILED", driver=browser)
        terminated = describe(batch, sleeper)
        assert terminated["status"] == "FAILED" and "stopped from the dashboard test" in terminated["statusReason"]

        # Cancel the parked job from the job list, confirmed in the dialog.
        go(browser, "#/jobs?queue=parked&status=RUNNABLE")
        wait_until(lambda: "parked-job" in text_of(browser, "jobs-table"), what="the parked job", driver=browser)
        screenshot(browser, "05-jobs")
        browser.find_element("link text", "parked-job").click()
        click(browser, "cancel-job", "the cancel button")
        confirm(browser, "no longer needed (dashboard test)")
        wait_until(lambda: "FAILED" in text_of(browser, "job-status"), what="the cancelled job as FAILED", driver=browser)
        wait_until(lambda: "(not reached)" in browser.find_element("css selector", '#status-timeline li[data-status="RUNNING"]').text,
                   what="RUNNING shown as never reached", driver=browser)
        cancelled = describe(batch, parked)
        assert cancelled["status"] == "FAILED"
        assert "no longer needed (dashboard test)" in cancelled["statusReason"]
        screenshot(browser, "06-job-cancelled")

        # An array parent expands to its children, by keyboard.
        go(browser, "#/jobs?queue=parked")
        expand = wait_until(lambda: by_id(browser, f"expand-{array}"), what="the array's expand button", driver=browser)
        expand.send_keys(ENTER)
        wait_until(lambda: len(browser.find_elements("css selector", f'tr[data-parent="{array}"]')) == 3,
                   what="the array's 3 children", driver=browser)
        assert expand.get_attribute("aria-expanded") == "true"
        children = " ".join(r.text for r in browser.find_elements("css selector", f'tr[data-parent="{array}"]'))
        assert all(f"child {i}" in children for i in range(3)), children
        screenshot(browser, "07-array-children")
        go(browser, f"#/job/{array}")
        wait_until(lambda: "Array of 3" in text_of(browser, "main"), what="the array summary", driver=browser)
        assert "3" in text_of(browser, "array-summary")

        # Disable a queue from the overview; "Keep as is" first changes nothing.
        go(browser, "#/overview")
        click(browser, "toggle-job-queue-parked", "the queue's button")
        wait_until(lambda: by_id(browser, "confirm").is_displayed(), what="the dialog", driver=browser)
        by_id(browser, "confirm-no").click()
        assert batch.describe_job_queues(jobQueues=["parked"])["jobQueues"][0]["state"] == "ENABLED"
        click(browser, "toggle-job-queue-parked", "the queue's button")
        confirm(browser)
        wait_until(lambda: batch.describe_job_queues(jobQueues=["parked"])["jobQueues"][0]["state"] == "DISABLED",
                   what="the queue disabled")
        wait_until(lambda: "Enable" in by_id(browser, "toggle-job-queue-parked").text, what="the button to say Enable",
                   driver=browser)
        # And a compute environment: the work CE, enabled above, is disabled from the page.
        click(browser, f"toggle-compute-environment-{work_ce}", "the compute environment's button")
        confirm(browser)
        wait_until(lambda: batch.describe_compute_environments(computeEnvironments=[work_ce])["computeEnvironments"][0]
                   ["state"] == "DISABLED", what="the compute environment disabled")
        assert describe(batch, after)["status"] in ("RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED")
        severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not severe, severe


def test_dashboard_signs_requests_the_server_verifies(browser):
    account = "210987654321"
    # server.client signs with the secret "test"; the page's default secret is another one.
    with running_server(verify_signatures=True, credentials=f"{account}:test",
                        default_account=account) as server:
        batch = server.client("batch", access_key=account)
        make_queue(batch, "signed-q", max_vcpus=1)
        browser.get(server.url + "/ui/")
        wait_until(lambda: by_id(browser, "account").get_attribute("value") == account, what="the default account",
                   driver=browser)
        browser.find_element("tag name", "body").send_keys(TAB)  # keyboard: the first stop skips to content
        assert browser.switch_to.active_element.text == "Skip to content"
        # The page itself loads unsigned; its API calls with the default secret are refused.
        wait_until(lambda: "InvalidSignatureException" in text_of(browser, "main"),
                   what="the refusal of a wrong secret", driver=browser)
        by_id(browser, "open-settings").click()
        by_id(browser, "secret-key").clear()
        by_id(browser, "secret-key").send_keys("test")
        by_id(browser, "settings-save").click()
        wait_until(lambda: "signed-q" in text_of(browser, "job-queues"), what="the queue, signed right", driver=browser)
        wait_until(lambda: "Live updates: on" in text_of(browser, "live"), what="the signed event stream", driver=browser)
        screenshot(browser, "08-verified-signatures")


FOREIGN_PAGE = """<!doctype html><title>foreign</title><script>
window.results = [];
const target = "%(server)s/v1/canceljob";
const body = JSON.stringify({jobId: "%(job)s", reason: "a foreign page"});
fetch(target, {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body})
  .then(r => results.push("no-cors:" + r.type), e => results.push("no-cors:error"));
fetch(target, {method: "POST", body, headers: {"Content-Type": "application/json",
  "Authorization": "AWS4-HMAC-SHA256 Credential=%(account)s/20260101/us-east-1/batch/aws4_request, SignedHeaders=host, Signature=00"}})
  .then(r => results.push("cors:" + r.status), e => results.push("cors:refused"));
</script>"""


def test_a_page_of_another_origin_cannot_act(browser):
    with running_server(runner="process") as server:
        account = new_account()
        batch = server.client("batch", access_key=account)
        ce = make_queue(batch, "held", max_vcpus=1)
        batch.update_compute_environment(computeEnvironment=ce, state="DISABLED")
        make_definition(batch, "d", ["true"], image="ignored:latest")
        job = batch.submit_job(jobName="keep-me", jobQueue="held", jobDefinition="d")["jobId"]
        wait_status(batch, job, "RUNNABLE")
        page = (FOREIGN_PAGE % {"server": server.url, "job": job, "account": account}).encode()

        class Foreign(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        foreign = ThreadingHTTPServer(("127.0.0.1", 0), Foreign)
        threading.Thread(target=foreign.serve_forever, daemon=True).start()
        try:
            browser.get_log("performance")  # forget earlier requests
            browser.get(f"http://localhost:{foreign.server_address[1]}/")
            results = wait_until(lambda: len(browser.execute_script("return window.results")) == 2
                                 and browser.execute_script("return window.results"), what="both requests")
        finally:
            foreign.shutdown()
        # The simple request reached the server and was refused (the page cannot read it);
        # the signed one was refused at its preflight, so it was never sent.
        assert "cors:refused" in results, results
        statuses = responses(browser, "/v1/canceljob")
        assert statuses and all(status == 403 for status in statuses), statuses
        assert describe(batch, job)["status"] == "RUNNABLE"
