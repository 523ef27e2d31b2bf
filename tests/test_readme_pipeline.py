import re
import time
import urllib.request

from vismock.mockserver.pytest_plugin import VismockServer

REQUEST = """<vmware-infrastructure-request>
<operation-type>{kind}</operation-type>
<operation-name>{name}</operation-name>
<parameters>{parameters}</parameters>
</vmware-infrastructure-request>"""


def call(adapter_url: str, kind: str, name: str, parameters: str) -> str:
    body = REQUEST.format(kind=kind, name=name, parameters=parameters).encode()
    request = urllib.request.Request(adapter_url, data=body, headers={"Content-Type": "text/xml"})
    with urllib.request.urlopen(request) as response:
        return response.read().decode()


def found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match is not None, text
    return match.group(1)


def power_off(adapter_url: str, vm: str, poll_seconds: float = 1.0) -> str:
    """The pipeline step under test: power a VM off, follow its task to the end."""
    answer = call(adapter_url, "Basic_Vm", "Power_Off_VM", f"<virtual-machine>{vm}</virtual-machine>")
    if "<status>error</status>" in answer:
        return "refused: " + found(r"<fault>(\w+)</fault>", answer)
    task = found(r"<Task>(task-\d+)</Task>", answer)
    objects = f"<spec-set><object-set><task>{task}</task></object-set></spec-set>"
    while True:
        status = call(adapter_url, "Monitor_Vm", "Retrieve_Task_Status", objects)
        state = found(r"<state>(\w+)</state>", status)
        if state == "success":
            return state
        if state == "error":
            return "failed: " + found(r"<fault>(\w+)</fault>", status)
        time.sleep(poll_seconds)


def test_power_off_runs_to_success(vismock_server: VismockServer) -> None:
    # Its task runs for 2 polls, then succeeds.
    timeline = [{"state": "running"}, {"state": "success", "at": 2}]
    vismock_server.set_operation("Power_Off_VM", progression="polls", timeline=timeline)
    assert power_off(vismock_server.adapter_url, "win1", poll_seconds=0) == "success"
    assert vismock_server.power_state("win1") == "poweredOff"
    vismock_server.assert_called("PowerOffVM_Task", vm="win1", times=1)


def test_a_task_that_fails_after_two_polls(vismock_server: VismockServer) -> None:
    vismock_server.script("Power_Off_VM", vm="win1", fault="InvalidState", after=2, progression="polls")
    assert power_off(vismock_server.adapter_url, "win1", poll_seconds=0) == "failed: InvalidState"
    assert vismock_server.power_state("win1") == "poweredOn"
    (entry,) = vismock_server.journal(operation="Power_Off_VM")
    vismock_server.assert_polled(entry.task_ids[0], times=3)


def test_a_vm_already_off_is_refused(vismock_server: VismockServer) -> None:
    vismock_server.set_power_state("win1", "poweredOff")
    assert power_off(vismock_server.adapter_url, "win1") == "refused: InvalidPowerState"
