"""The dashboard in a real headless browser: Debian's chromium driven by Playwright for Python.

The page loads from the server alone (every request the browser makes goes to the server under
test), shows a time-progressing task advancing live as the mock's clock moves, and its buttons
change the server's state (checked through the admin API). Screenshots are saved under the
test's tmp_path and copied to ``test-artifacts/`` (ignored by git) for people to look at.

Needs ``apt-get install -y chromium`` and ``pip install playwright`` (the ``test`` extra); no
``playwright install``: the system chromium is used. Without them the tests skip, saying so,
except under CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.support import ROOT
from vismock.mockserver.app import create_app
from vismock.mockserver.services import services_of
from vismock.mockserver.state import Backend, Behaviour, Step
from vismock.mockserver.vim25.values import Data

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = Path(os.environ.get("VISMOCK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # A name a web page's author controls, re-pointed at this machine: DNS rebinding, simulated.
    "--host-resolver-rules=MAP evil.example 127.0.0.1",
]
SEED_REQUEST = (ROOT / "tests" / "data" / "seed" / "request.xml").read_bytes()
WAIT_MS = 10_000

pytestmark = pytest.mark.slow


def _missing() -> list[str]:
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Playwright for Python (pip install playwright, in the test extra)")
    if not CHROMIUM.is_file():
        missing.append(f"chromium at {CHROMIUM} (apt-get install -y chromium)")
    return missing


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = _missing()
    if missing:
        message = "the browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must install them", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


# -- servers ------------------------------------------------------------------------------------


@dataclass
class LiveServer:
    app: Flask
    url: str  # http://127.0.0.1:PORT

    def api(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/_vismock{path}", data=data, method=method)
        if method in ("POST", "PUT", "PATCH"):  # with a body or without (faces/guard.py)
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def adapter_request(self) -> int:
        """The seed request on the adapter face; its HTTP status."""
        request = urllib.request.Request(
            f"{self.url}/adapter", data=SEED_REQUEST, headers={"Content-Type": "text/xml"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return error.code


@dataclass
class _Running:
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _serve(app: Flask) -> tuple[LiveServer, _Running]:
    """*app* on a free loopback port: werkzeug's threaded server in a thread, as the pytest plugin."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}"), _Running(server, thread)


def _app(database: Path, *, token: str | None = None) -> Flask:
    config: dict[str, Any] = {"VISMOCK_DB": str(database)}
    if token:
        config["VISMOCK_ADMIN_TOKEN"] = token
    return create_app(config)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server, running = _serve(_app(tmp_path_factory.mktemp("ui") / "state.sqlite3"))
    yield server
    running.stop()


@pytest.fixture
def fresh(live: LiveServer) -> LiveServer:
    live.api("POST", "/reset")
    return live


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A new page (1440x1000) recording every URL it requests, every script error and every failed
    answer."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    opened = context.new_page()
    opened.requested = []
    opened.errors = []

    def on_console(message: Any) -> None:
        # A failed answer is logged as "Failed to load resource"; those are checked below instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            opened.errors.append(message.text)

    def on_response(response: Any) -> None:
        if response.status >= 400:
            opened.errors.append(f"{response.status} from {response.url}")

    opened.on("request", lambda req: opened.requested.append(req.url))
    opened.on("pageerror", lambda error: opened.errors.append(str(error)))
    opened.on("console", on_console)
    opened.on("response", on_response)
    yield opened
    context.close()


def _shot(page: Any, tmp_path: Path, name: str, *, full_page: bool = True) -> Path:
    page.wait_for_timeout(600)  # let the progress bars finish their width transition
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=full_page)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(path, ARTIFACTS / name)
    return path


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def _row(page: Any, task_id: str) -> Any:
    return page.locator(f'[data-testid="task-{task_id}"]')


def _open(page: Any, server: LiveServer) -> None:
    page.goto(f"{server.url}/_vismock/ui")
    page.wait_for_selector('[data-testid="task-task-525"]', timeout=WAIT_MS)
    page.wait_for_function(
        "document.querySelector('[data-testid=connection]').textContent === 'live'", timeout=WAIT_MS
    )


# -- the tests ---------------------------------------------------------------------------------------


def test_the_page_loads_from_the_server_alone(page: Any, fresh: LiveServer, tmp_path: Path) -> None:
    assert fresh.adapter_request() == 200  # something in the journal
    fresh.api("POST", "/faults", {"action": "delay", "delay_seconds": 2, "face": "soap", "times": 3})
    _open(page, fresh)
    assert page.url == f"{fresh.url}/_vismock/ui/"
    assert page.title() == "vismock dashboard"
    builtin = {task["id"] for task in fresh.api("GET", "/tasks")["tasks"]}
    shown = set(
        page.locator('[data-testid^="task-task-"]').evaluate_all("rows => rows.map(r => r.dataset.testid)")
    )
    assert shown == {f"task-{task_id}" for task_id in builtin}
    page.wait_for_selector('[data-testid="fault-1"]', timeout=WAIT_MS)
    page.wait_for_selector(
        '[data-testid="journal-table"] td:has-text("Retrieve_Task_Status")', timeout=WAIT_MS
    )
    # The built-in inventory: every VM under its host, with its power state.
    vms = [e for e in fresh.api("GET", "/inventory")["entities"] if e["type"] == "VirtualMachine"]
    for vm in vms:
        shown_power = page.locator(f'[data-testid="entity-{vm["id"]}"] [data-power]')
        assert shown_power.get_attribute("data-power") == vm["powerState"], vm["id"]
    assert page.locator('[data-testid="entity-vm-1005"] td').last.inner_text().strip() == "powered off"
    assert "esx02.lab.local" in page.locator('[data-testid="host-host-22"]').inner_text()
    assert page.locator('[data-testid="task-task-525"] .entity-power').inner_text() == "powered on"
    _shot(page, tmp_path, "dashboard.png")
    assert page.requested, "the page made no requests"
    assert all(url.startswith(fresh.url + "/") for url in page.requested), page.requested
    assert page.errors == []


def test_a_time_task_advances_live_as_the_clock_moves(page: Any, fresh: LiveServer, tmp_path: Path) -> None:
    fresh.api("POST", "/clock/freeze", {})
    fresh.api(
        "POST",
        "/tasks",
        {
            "id": "task-7001",
            "name": "CloneVM_Task",
            "entity": {"type": "VirtualMachine", "id": "vm-7001", "name": "build-agent-07"},
            "timeline": [
                {"state": "queued", "at": 0},
                {"state": "running", "at": 2, "progress": 10},
                {"state": "running", "at": 6, "progress": 60},
                {"state": "success", "at": 10, "progress": 100, "result": "vm-7002"},
            ],
        },
    )
    _open(page, fresh)
    row = _row(page, "task-7001")
    progress = row.locator("td[data-progress]")

    def shows(state: str, percent: str) -> bool:
        return bool(
            row.get_attribute("data-state") == state and progress.get_attribute("data-progress") == percent
        )

    _wait_for(lambda: shows("queued", "0"), "task-7001 queued at 0 %")
    fresh.api("POST", "/clock/advance", {"seconds": 3})
    _wait_for(lambda: shows("running", "10"), "task-7001 running at 10 %")
    fresh.api("POST", "/clock/advance", {"seconds": 4})
    _wait_for(lambda: shows("running", "60"), "task-7001 running at 60 %")
    assert row.locator(".pct").inner_text() == "60%"
    assert "state-running" in (row.locator(".bar-fill").get_attribute("class") or "")
    _shot(page, tmp_path, "task-running.png")
    fresh.api("POST", "/clock/advance", {"seconds": 5})
    _wait_for(lambda: shows("success", "100"), "task-7001 success at 100 %")
    assert page.errors == []


def test_a_task_advances_live_in_real_time(page: Any, fresh: LiveServer) -> None:
    """The clock running (not frozen): the page follows the task without anyone touching it."""
    fresh.api(
        "PUT",
        "/tasks/task-7002",
        {
            "name": "PowerOnVM_Task",
            "timeline": [
                {"state": "queued", "at": 0},
                {"state": "running", "at": 1, "progress": 50},
                {"state": "success", "at": 3},
            ],
        },
    )
    _open(page, fresh)
    row = _row(page, "task-7002")
    seen: list[str] = []

    def finished() -> bool:
        state = row.get_attribute("data-state") or ""
        if not seen or seen[-1] != state:
            seen.append(state)
        return state == "success"

    _wait_for(finished, "task-7002 to finish on the page", timeout=15)
    assert seen[-1] == "success"
    assert len(seen) >= 2, seen  # it changed on the page, not just loaded finished


def test_buttons_change_the_servers_state(page: Any, fresh: LiveServer, tmp_path: Path) -> None:
    _open(page, fresh)
    # Advance a manual task.
    page.click('[data-testid="advance-task-1003"]')
    _wait_for(
        lambda: fresh.api("GET", "/tasks/task-1003")["info"]["state"] == "running",
        "task-1003 running on the server",
    )
    _wait_for(
        lambda: _row(page, "task-1003").get_attribute("data-state") == "running",
        "task-1003 running on the page",
    )
    assert fresh.api("GET", "/tasks/task-1003")["info"]["progress"] == 50
    assert _row(page, "task-1001").locator('[data-testid="advance-task-1001"]').is_hidden()  # time-driven

    # Add a fault rule through the form.
    page.select_option("#fault-action", "status")
    page.fill("#fault-task", "task-525")
    page.select_option("#fault-face", "adapter")
    page.fill("#fault-times", "2")
    page.fill("#fault-status", "503")
    page.fill("#fault-fault", "HostCommunication")
    page.click('[data-testid="fault-add"]')
    _wait_for(lambda: len(fresh.api("GET", "/faults")["faults"]) == 1, "the rule on the server")
    (rule,) = fresh.api("GET", "/faults")["faults"]
    assert {key: rule[key] for key in ("action", "task", "face", "times", "http_status", "fault")} == {
        "action": "status",
        "task": "task-525",
        "face": "adapter",
        "times": 2,
        "http_status": 503,
        "fault": "HostCommunication",
    }
    page.wait_for_selector(f'[data-testid="fault-{rule["id"]}"]', timeout=WAIT_MS)

    # Freeze the clock and move it.
    page.click('[data-testid="clock-freeze"]')
    _wait_for(lambda: fresh.api("GET", "/clock")["frozen"] is True, "the clock frozen")
    before = datetime.fromisoformat(fresh.api("GET", "/clock")["now"])
    page.click("button.step[data-seconds='60']")
    _wait_for(
        lambda: datetime.fromisoformat(fresh.api("GET", "/clock")["now"]) == before + timedelta(seconds=60),
        "the frozen clock 60 s on",
    )
    _wait_for(lambda: page.inner_text('[data-testid="clock-state"]') == "FROZEN", "the frozen badge")
    assert fresh.adapter_request() == 503  # the rule fired
    page.wait_for_selector('[data-testid="journal-table"] td:has-text("fault-injected")', timeout=WAIT_MS)
    _shot(page, tmp_path, "after-actions.png")

    # Remove the rule, then reset everything (confirming the dialog).
    page.click(f'[data-testid="fault-{rule["id"]}"] button')
    _wait_for(lambda: fresh.api("GET", "/faults")["faults"] == [], "the rule removed")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click('[data-testid="clock-resume"]')  # a POST without a body: JSON all the same
    _wait_for(lambda: fresh.api("GET", "/clock")["frozen"] is False, "the clock running again")
    page.click('[data-testid="clock-freeze"]')
    _wait_for(lambda: fresh.api("GET", "/clock")["frozen"] is True, "the clock frozen again")
    page.click('[data-testid="reset"]')
    _wait_for(lambda: fresh.api("GET", "/clock")["frozen"] is False, "the clock real after reset")
    _wait_for(lambda: fresh.api("GET", "/tasks/task-1003")["info"]["state"] == "queued", "task-1003 reset")
    assert page.errors == []


def test_an_error_from_the_api_is_shown(page: Any, fresh: LiveServer) -> None:
    _open(page, fresh)
    page.fill("#fault-fault", "not a fault!")
    page.click('[data-testid="fault-add"]')
    toast = page.locator(".toast.error")
    toast.wait_for(timeout=WAIT_MS)
    assert "fault 'not a fault!' is not a vim25 fault type" in toast.inner_text()
    assert fresh.api("GET", "/faults")["faults"] == []
    page.errors.remove(f"400 from {fresh.url}/_vismock/faults")  # the refusal shown, nothing else
    assert page.errors == []


SCENARIO = """\
tasks:
  - id: task-8001
    name: PowerOffVM_Task
    entity: {type: VirtualMachine, id: vm-81, name: web-01}
    progression: manual
    timeline: [{state: queued}, {state: running, progress: 40}, {state: success}]
inventory:
  datacenters:
    - name: DC-East
      clusters:
        - name: Prod
          hosts:
            - name: esx-a.east.lab
              vms:
                - {id: vm-81, name: web-01, folder: prod/web}
                - {id: vm-82, name: db-01, power: poweredOff, folder: prod}
      hosts:
        - name: esx-b.east.lab
          vms:
            - {id: vm-83, name: batch-01, power: suspended}
            - {id: vm-84, name: golden, template: true, power: poweredOff}
"""


def test_the_inventory_panel_shows_the_scenarios_vms_and_follows_their_power(
    page: Any, tmp_path: Path
) -> None:
    """A scenario file's own inventory: VMs under their hosts, folder, template, power states; a
    power state changed on the server shows on the page without reloading it."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    app = create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3"), "VISMOCK_TASKS": str(scenario)})
    server, running = _serve(app)
    try:
        page.goto(f"{server.url}/_vismock/ui")
        page.wait_for_selector('[data-testid="entity-vm-81"]', timeout=WAIT_MS)
        cells = page.locator('[data-testid="entity-vm-81"] td').all_inner_texts()
        assert cells == ["web-01", "vm-81", "vm/prod/web", "powered on"]
        assert page.locator('[data-testid="entity-vm-84"] .tag').inner_text() == "template"
        hosts = page.locator("tr.group").all_inner_texts()
        assert [text.split()[0] for text in hosts] == ["esx-a.east.lab", "esx-b.east.lab"]
        assert "cluster Prod · DC-East · 2 VMs" in hosts[0]
        assert "standalone host · DC-East · 2 VMs" in hosts[1]
        assert page.inner_text("#inventory-summary").split("\n") == [
            "1 powered on",
            "2 powered off",
            "1 suspended",
        ]
        assert page.locator('[data-testid="task-task-8001"] .entity-power').inner_text() == "powered on"
        services_of(app).backend.inventory.set_power_state("vm-81", "poweredOff")
        page.wait_for_selector('[data-testid="entity-vm-81"] [data-power="poweredOff"]', timeout=WAIT_MS)
        page.wait_for_selector(
            '[data-testid="task-task-8001"] .entity-power [data-power="poweredOff"]', timeout=WAIT_MS
        )
        _shot(page, tmp_path, "dashboard-with-inventory.png")
        assert page.errors == []
    finally:
        running.stop()


def _snapshot_ids(backend: Backend, vm_id: str) -> dict[str, str]:
    return {node["name"]: node["id"] for node in backend.inventory.snapshots(vm_id)}


def test_a_vm_row_shows_its_snapshot_tree_and_a_clone_shows_as_a_vm(page: Any, tmp_path: Path) -> None:
    """Snapshots taken, reverted to and taken again show as the VM's tree, the current one marked,
    following the server live; a clone appears as a VM of its folder, marked as its source's clone."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    app = create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3"), "VISMOCK_TASKS": str(scenario)})
    backend = services_of(app).backend
    backend.operations.set_behaviours({"default": Behaviour(timeline=(Step("success", 0),))})

    def snapshot(name: str) -> None:
        backend.invoke("vm-81", "CreateSnapshot_Task", name=name, memory=True, quiesce=False)

    snapshot("base")
    snapshot("patched")
    backend.invoke(_snapshot_ids(backend, "vm-81")["base"], "RevertToSnapshot_Task")
    snapshot("hotfix")  # a second child of base
    server, running = _serve(app)
    try:
        page.goto(f"{server.url}/_vismock/ui/")
        tree = '[data-testid="snapshots-vm-81"]'
        page.wait_for_selector(tree, timeout=WAIT_MS)
        assert page.locator(f"{tree} > li > .snapshot-name").all_inner_texts() == ["base"]
        children = page.locator(f"{tree} > li > ul > li > .snapshot-name").all_inner_texts()
        assert children == ["patched", "hotfix"]
        assert page.locator(f"{tree} li[data-current] > .snapshot-name").all_inner_texts() == ["hotfix"]
        assert page.locator(f"{tree} li[data-current] > .tag").inner_text() == "current"
        assert page.locator('[data-testid="snapshots-vm-82"]').count() == 0  # no snapshots, no tree
        patched = _snapshot_ids(backend, "vm-81")["patched"]
        backend.invoke(patched, "RevertToSnapshot_Task")
        page.wait_for_selector(f'[data-testid="snapshot-{patched}"][data-current]', timeout=WAIT_MS)
        assert page.locator(f"{tree} li[data-current]").count() == 1
        folder = backend.inventory.object("vm-81").get("parent")
        spec = Data(
            "VirtualMachineCloneSpec",
            location=Data("VirtualMachineRelocateSpec"),
            powerOn=False,
            template=False,
        )
        backend.invoke("vm-81", "CloneVM_Task", folder=folder, name="web-01-copy", spec=spec)
        (clone,) = backend.inventory.named("web-01-copy")
        row = f'[data-testid="entity-{clone.id}"]'
        page.wait_for_selector(row, timeout=WAIT_MS)
        page.wait_for_selector(f"{row} .clone-tag", timeout=WAIT_MS)
        assert page.locator(f"{row} .clone-tag").inner_text() == "clone of web-01"
        assert page.locator(f"{row} .vm-name").inner_text().startswith("web-01-copy")
        assert page.locator(f"{row} td").all_inner_texts()[1:] == [clone.id, "vm/prod/web", "powered off"]
        assert page.locator(f'{row} [data-testid^="snapshots-"]').count() == 0  # its source's are not its own
        assert page.locator('[data-testid="entity-vm-81"] .clone-tag').count() == 0
        _shot(page, tmp_path, "dashboard-with-snapshots.png")
        assert page.errors == []
    finally:
        running.stop()


def test_with_an_admin_token_the_page_asks_for_it(page: Any, tmp_path: Path) -> None:
    server, running = _serve(_app(tmp_path / "state.sqlite3", token="t0ken-for-ui"))
    try:
        page.goto(f"{server.url}/_vismock/ui/")
        page.wait_for_selector("#auth:not([hidden])", timeout=WAIT_MS)
        assert page.locator('[data-testid="task-task-525"]').count() == 0  # no data without the token
        _shot(page, tmp_path, "token-prompt.png", full_page=False)
        page.fill("#auth-token", "t0ken-for-ui")
        page.click("#auth-form button")
        page.wait_for_selector('[data-testid="task-task-525"]', timeout=WAIT_MS)
        assert page.locator("#auth").is_hidden()
        page.click('[data-testid="clock-freeze"]')
        _wait_for(
            lambda: server.api("GET", "/clock", token="t0ken-for-ui")["frozen"] is True, "frozen with token"
        )
        # The token never travels in a URL.
        assert not any("t0ken-for-ui" in url for url in page.requested)
    finally:
        running.stop()


def test_a_token_in_the_fragment_is_used_and_removed_from_the_address(page: Any, tmp_path: Path) -> None:
    server, running = _serve(_app(tmp_path / "state.sqlite3", token="frag-token"))
    try:
        page.goto(f"{server.url}/_vismock/ui/#token=frag-token")
        page.wait_for_selector('[data-testid="task-task-525"]', timeout=WAIT_MS)
        assert page.url == f"{server.url}/_vismock/ui/"
    finally:
        running.stop()


def test_the_reload_button_reads_the_task_file_and_shows_its_error(page: Any, tmp_path: Path) -> None:
    tasks_file = tmp_path / "tasks.yaml"
    tasks_file.write_text("tasks:\n  - id: task-525\n    name: PowerOnVM_Task\n")
    app = create_app({"VISMOCK_DB": str(tmp_path / "state.sqlite3"), "VISMOCK_TASKS": str(tasks_file)})
    server, running = _serve(app)
    try:
        _open(page, server)
        tasks_file.write_text(tasks_file.read_text() + "  - id: task-526\n    name: PowerOffVM_Task\n")
        page.click('[data-testid="reload"]')
        page.wait_for_selector('[data-testid="task-task-526"]', timeout=WAIT_MS)
        page.locator(".toast", has_text="reloaded: 2 task(s)").wait_for(timeout=WAIT_MS)
        tasks_file.write_text(tasks_file.read_text() + "    colour: blue\n")
        page.click('[data-testid="reload"]')
        toast = page.locator(".toast.error")
        toast.wait_for(timeout=WAIT_MS)
        assert toast.inner_text().startswith(f"{tasks_file}:6: tasks[1].colour: unknown field 'colour'")
        assert page.locator('[data-testid="task-task-526"]').count() == 1  # still served
        page.errors.remove(f"400 from {server.url}/_vismock/reload")  # the refusal shown, nothing else
        assert page.errors == []
    finally:
        running.stop()


# -- web pages of other sites (issue 19): what the browser sends is refused, nothing changes -----------

# What a page records of each request it makes: "opaque" (sent, its answer unreadable: no-cors),
# "STATUS BODY" (readable), or "blocked: ERROR" (the browser refused it: a CORS failure).
SETTLE_JS = """
const results = {};
function settle(name, promise) {
  return promise.then(
    async (r) => { results[name] = r.type === "opaque" ? "opaque" : r.status + " " + await r.text(); },
    (error) => { results[name] = "blocked: " + error.name; });
}
function finish(promises) {
  Promise.all(promises).then(() => { window.results = results; document.title = "done"; });
}
"""
CROSS_SITE_PAGE = """<!doctype html><title>a page of another site</title>
<iframe name="sink"></iframe>
<form id="reset" method="POST" action="MOCK/_vismock/reset" enctype="text/plain" target="sink">
  <input name='{"a":"' value='"}'></form>
<script>SETTLE_JS
const simple = (path, body) => fetch("MOCK" + path,
  {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: JSON.stringify(body)});
document.getElementById("reset").submit();
navigator.sendBeacon("MOCK/_vismock/reset", "{}");
finish([
  settle("faults", simple("/_vismock/faults", {action: "drop", times: null})),
  settle("tasks", simple("/_vismock/tasks", {id: "task-666", name: "PowerOffVM_Task"})),
  settle("overrides", simple("/_vismock/overrides", {operation: "Power_Off_VM", vm: "win1", after: 1})),
  settle("freeze", fetch("MOCK/_vismock/clock/freeze", {method: "POST", mode: "no-cors"})),
  settle("json", fetch("MOCK/_vismock/faults", {method: "POST",
    headers: {"Content-Type": "application/json"}, body: JSON.stringify({action: "drop"})})),
  settle("journal", fetch("MOCK/_vismock/journal")),
]);
</script>"""
REBOUND_PAGE = """<!doctype html><title>a page behind DNS rebinding</title>
<script>SETTLE_JS
const json = (path, body) => fetch(path,
  {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
finish([
  settle("faults", json("/_vismock/faults", {action: "drop", times: null})),
  settle("freeze", json("/_vismock/clock/freeze", {})),
  settle("tasks", json("/_vismock/tasks", {id: "task-666", name: "PowerOffVM_Task"})),
  settle("journal", fetch("/_vismock/journal")),
  settle("dashboard", fetch("/_vismock/ui/")),
]);
</script>"""


def _recorded(app: Flask) -> list[tuple[str, str, int]]:
    """(method, path, status) of every request *app* answers from now on."""
    seen: list[tuple[str, str, int]] = []
    inner = app.wsgi_app

    def recording(environ: dict[str, Any], start_response: Any) -> Any:
        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            seen.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return inner(environ, start)

    app.wsgi_app = recording  # type: ignore[method-assign]
    return seen


def _page_app(html: str) -> Flask:
    """A site serving one page at /page.html."""
    site = Flask("another-site")
    site.add_url_rule("/page.html", "page", lambda: (html, 200, {"Content-Type": "text/html"}))
    return site


def _mock_state(server: LiveServer) -> dict[str, Any]:
    return {
        "faults": server.api("GET", "/faults")["faults"],
        "tasks": sorted(task["id"] for task in server.api("GET", "/tasks")["tasks"]),
        "overrides": server.api("GET", "/overrides")["overrides"],
        "frozen": server.api("GET", "/clock")["frozen"],
    }


def _run_page(page: Any, url: str) -> dict[str, str]:
    page.goto(url)
    page.wait_for_function("document.title === 'done'", timeout=WAIT_MS)
    results: dict[str, str] = page.evaluate("window.results")
    return results


def test_a_page_of_another_site_cannot_drive_or_read_the_admin_api(page: Any, tmp_path: Path) -> None:
    """Issue 19: a page the developer opens sent text/plain and form POSTs (no preflight needed)
    and they were obeyed. Now the browser sends them (the server sees each) and each is refused."""
    app = _app(tmp_path / "state.sqlite3")
    seen = _recorded(app)
    mock, running = _serve(app)
    html = CROSS_SITE_PAGE.replace("SETTLE_JS", SETTLE_JS).replace("MOCK", mock.url)
    site, site_running = _serve(_page_app(html))
    try:
        mock.api("PUT", "/tasks/task-kept", {"name": "PowerOnVM_Task"})  # what a reset would remove
        before = _mock_state(mock)
        seen.clear()
        results = _run_page(page, f"{site.url}/page.html")
        _wait_for(lambda: seen.count(("POST", "/_vismock/reset", 403)) == 2, "the form and the beacon")
        assert results == {
            "faults": "opaque",  # sent, and its answer hidden from the page
            "tasks": "opaque",
            "overrides": "opaque",
            "freeze": "opaque",
            "json": "blocked: TypeError",  # its preflight refused: never sent
            "journal": "blocked: TypeError",  # answered 403, and without a CORS grant unreadable anyway
        }
        # Each reached the server and was refused there for its foreign Origin (the form's, the
        # beacon's and the no-cors POSTs' types are what used to get them in).
        assert sorted(seen) == [
            ("GET", "/_vismock/journal", 403),
            ("OPTIONS", "/_vismock/faults", 403),  # the JSON POST's preflight
            ("POST", "/_vismock/clock/freeze", 403),
            ("POST", "/_vismock/faults", 403),
            ("POST", "/_vismock/overrides", 403),
            ("POST", "/_vismock/reset", 403),
            ("POST", "/_vismock/reset", 403),
            ("POST", "/_vismock/tasks", 403),
        ]
        assert _mock_state(mock) == before
    finally:
        site_running.stop()
        running.stop()


def test_a_page_behind_dns_rebinding_cannot_drive_or_read_the_admin_api(page: Any, tmp_path: Path) -> None:
    """A page served as http://evil.example:PORT whose name then points at 127.0.0.1 is same-origin
    with the mock: it may send JSON and read answers. Its Host gives it away: every call is refused.
    The same page loaded as http://127.0.0.1:PORT does it all: only the name differs."""
    app = _app(tmp_path / "state.sqlite3")
    page_view = _page_app(REBOUND_PAGE.replace("SETTLE_JS", SETTLE_JS)).view_functions["page"]
    app.add_url_rule("/page.html", "rebound-page", page_view)  # the attacker's server, before rebinding
    mock, running = _serve(app)
    try:
        before = _mock_state(mock)
        port = mock.url.rsplit(":", 1)[1]
        results = _run_page(page, f"http://evil.example:{port}/page.html")
        refusal = f'403 {{"error":"admin API: Host \'evil.example:{port}\' is not a name of this server'
        assert set(results) == {"faults", "freeze", "tasks", "journal", "dashboard"}
        for name, result in results.items():
            assert result.startswith(refusal), (name, result)
        assert _mock_state(mock) == before
        control = _run_page(page, f"{mock.url}/page.html")
        assert [control[name][:3] for name in ("faults", "freeze", "tasks", "journal", "dashboard")] == [
            "201", "200", "201", "200", "200"
        ]  # fmt: skip
        assert _mock_state(mock) != before
    finally:
        running.stop()
