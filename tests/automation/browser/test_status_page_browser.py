"""The status page in a real browser: headless Chromium, driven through chromedriver (WebDriver),
loads ``/`` of a real daemon (``run --dry-run`` in a copy of the project) and shows what
``/stacks`` says; a screenshot of it is left in ``.driftless/status-page.png``.

The copy keeps other edits of the work tree from starting operations mid-test. One extra stack
file holds a document whose name is markup: the daemon stalls it, with the name in the message,
and the page must show that markup as text.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from tests.automation.daemon.helpers import eventually, free_port, get

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parents[3]
SCREENSHOT = PROJECT_ROOT / ".driftless" / "status-page.png"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
INSTALL = "apt-get install -y --no-install-recommends chromium chromium-driver"
PROJECT_FILES = ("Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml", "__main__.py", "requirements.txt")
PROJECT_DIRS = ("automation", "components", "connectors", "stacks")
MARKUP = "<script>window.pwned=1</script>"
BOUND = 120.0  # seconds: a generous bound on the first cycle, never a speed target


def project_copy(target: Path) -> Path:
    """The program, the daemon and the example stacks, without state, caches or local files."""
    ignore = shutil.ignore_patterns("__pycache__", "files", "crash-reports", "configuration.json")
    for name in PROJECT_FILES:
        shutil.copy2(PROJECT_ROOT / name, target / name)
    for name in PROJECT_DIRS:
        shutil.copytree(PROJECT_ROOT / name, target / name, ignore=ignore)
    (target / "stacks" / "broken.yaml").write_text(
        f'kind: FivetranConnector\nmetadata: {{name: "{MARKUP}"}}\nspec: {{}}\n'
    )
    return target


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[str]:
    """A real ``run --dry-run`` daemon on loopback, until it has decided every stack; its base URL."""
    project = project_copy(tmp_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DRIFTLESS_REGISTRY_AUTH_FILE", None)
    schemas = env.get("DRIFTLESS_CRD_SCHEMAS")
    if schemas:  # a relative path means the repository's, not the copy's
        env["DRIFTLESS_CRD_SCHEMAS"] = str((PROJECT_ROOT / schemas).resolve())
    port = free_port()
    with (tmp_path / "daemon.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "automation", "run", "--dry-run", "--http-port", str(port)],
            cwd=project,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: process.poll() is not None or get(f"{base}/readyz")[0] == 200, BOUND)
        assert process.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
        eventually(lambda: settled(stacks(base)), BOUND)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stacks(base: str) -> dict[str, Any]:
    code, body = get(f"{base}/stacks")
    return json.loads(body) if code == 200 else {}


def settled(document: dict[str, Any]) -> bool:
    """Every stack decided: applied or stalled, nothing queued or running."""
    found = {stack["name"]: stack for stack in document.get("stacks", [])}
    return set(found) == {"dev", "prod", "broken"} and all(
        stack["phase"] not in ("Pending", "Reconciling") for stack in found.values()
    )


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    if missing:
        pytest.fail(f"{' and '.join(missing)} missing: the browser test needs them; install with: {INSTALL}")
    options = Options()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",  # as root, Chromium refuses to start with its sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(argument)
    # an explicit chromedriver: Selenium Manager, which would download one, never runs
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def text(element: WebElement) -> str:
    return str(element.get_attribute("textContent"))


def table_rows(driver: WebDriver, table_id: str) -> list[list[str]]:
    table = driver.find_element(By.ID, table_id)
    return [
        [text(cell) for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]


def test_the_status_page_shows_the_daemons_stacks_in_a_browser(daemon: str, browser: WebDriver) -> None:
    browser.get(f"{daemon}/")
    document = stacks(daemon)
    by_name = {stack["name"]: stack for stack in document["stacks"]}

    assert browser.title == "driftless status"
    assert document["dryRun"] is True
    notice = browser.find_element(By.ID, "dry-run")
    assert notice.is_displayed()
    assert notice.text.startswith("Dry-run state:")

    # every stack, with its phase
    overview = table_rows(browser, "overview")
    assert [row[:2] for row in overview] == [
        [name, by_name[name]["phase"]] for name in sorted(("broken", "dev", "prod"))
    ]
    assert by_name["broken"]["phase"] == "Stalled"
    for name in ("broken", "dev", "prod"):
        assert browser.find_element(By.ID, f"stack-{name}").is_displayed()

    # a condition: the markup in the broken file's message is text on the page, and never ran
    stalled = [row for row in table_rows(browser, "conditions-stack-broken") if row[0] == "Stalled"]
    assert [row[:3] for row in stalled] == [["Stalled", "True", "InvalidSpec"]]
    assert f"FivetranConnector/{MARKUP}" in stalled[0][3]
    assert MARKUP in browser.find_element(By.ID, "stack-broken").text  # what a person sees
    assert browser.find_elements(By.TAG_NAME, "script") == []
    assert browser.execute_script("return typeof window.pwned") == "undefined"

    # the last operation and its changes, as /stacks has them
    operation = by_name["dev"]["lastOperation"]
    assert table_rows(browser, "operation-stack-dev")[0][:3] == [
        operation["kind"],
        operation["result"],
        operation["trigger"],
    ]
    changes = operation["changes"]
    assert table_rows(browser, "changes-stack-dev") == [
        [str(changes[key]) for key in ("create", "update", "delete", "same")]
    ]

    # components and their health, as the daemon reported them
    components = by_name["dev"].get("components") or []
    assert {(c["kind"], c["name"]) for c in components} >= {("WazuhCluster", "siem"), ("WandB", "wandb")}
    assert table_rows(browser, "components-stack-dev") == [
        [c["kind"], c["name"], c["ready"], c["reason"], c["message"]] for c in components
    ]

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    # the whole page: the window grows by what the viewport lacks (the window's own frame aside)
    lacking = "return document.documentElement.scrollHeight - window.innerHeight"
    for _ in range(3):
        missing = int(browser.execute_script(lacking))
        if missing <= 0:
            break
        browser.set_window_size(1280, browser.get_window_size()["height"] + missing)
    assert browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
