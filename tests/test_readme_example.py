import urllib.request

from vismock.mockserver.pytest_plugin import VismockServer

SEED_REQUEST = b"""<vmware-infrastructure-request>
<operation-type>Monitor_Vm</operation-type>
<operation-name>Retrieve_Task_Status</operation-name>
<parameters><spec-set><object-set><task>task-525</task></object-set></spec-set></parameters>
</vmware-infrastructure-request>"""


def test_task_525_succeeded(vismock_server: VismockServer) -> None:
    request = urllib.request.Request(
        f"{vismock_server.url}/adapter", data=SEED_REQUEST, headers={"Content-Type": "text/xml"}
    )
    with urllib.request.urlopen(request) as response:
        body = response.read()
    assert b"<status>success</status>" in body
    assert b"<key>task-525</key>" in body
    vismock_server.assert_requested(task="task-525", times=1)
