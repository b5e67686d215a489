"""Headless Chromium for the dashboard tests (Debian's chromium + chromium-driver, driven by
selenium; nothing is downloaded at run time: the driver's path is given, so Selenium Manager
never runs). Without a browser a test skips on a user's machine and fails where a browser is
required (BATCHEMU_REQUIRE_BROWSER=1, set by scripts/test.sh, or CI). Screenshots go to
$BATCHEMU_ARTEFACTS/ui-screenshots (default build/ui-screenshots)."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCREENSHOTS = pathlib.Path(os.environ.get("BATCHEMU_ARTEFACTS") or ROOT / "build") / "ui-screenshots"


def unavailable(reason: str):
    if os.environ.get("BATCHEMU_REQUIRE_BROWSER") == "1" or os.environ.get("CI"):
        pytest.fail(f"{reason} (a browser is required here: BATCHEMU_REQUIRE_BROWSER=1 or CI)")
    pytest.skip(f"{reason}; run scripts/ensure-chromium.sh, or set BATCHEMU_REQUIRE_BROWSER=1 to fail instead")


def find(env: str, *names: str) -> str | None:
    return os.environ.get(env) or next((p for p in map(shutil.which, names) if p), None)


def start_browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[test]')")
    binary = find("BATCHEMU_CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    driver = find("BATCHEMU_CHROMEDRIVER", "chromedriver")
    if not (binary and driver):
        unavailable("no Chromium and chromedriver found")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000",
                "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    # The network log lets a test see the status of a request a page cannot read (no-cors).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver))


def screenshot(driver, name: str) -> pathlib.Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def wait_until(check, timeout: float = 20, what: str = "the condition", driver=None):
    """Poll `check()` every 50 ms until it returns something truthy; return that. On timeout
    the failure shows the page's text and console (and a screenshot is saved)."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except Exception as exc:  # an element replaced while read: look again
            last_error = exc
        time.sleep(0.05)
    detail = ""
    if driver is not None:
        screenshot(driver, "failure")
        detail = "\npage:\n" + driver.find_element("tag name", "body").text[:3000]
        detail += "\nconsole:\n" + "\n".join(str(e) for e in driver.get_log("browser"))
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error}){detail}")


def responses(driver, url_part: str) -> list[int]:
    """HTTP statuses the browser received for URLs containing `url_part` (DevTools network log)."""
    out = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.responseReceived":
            response = message["params"]["response"]
            if url_part in response["url"]:
                out.append(response["status"])
    return out
