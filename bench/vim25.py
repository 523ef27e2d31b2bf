"""How fast is the model-driven vim25 wire next to today's lxml one?

Measured side by side in one run, best of the repeats:

- a finished TaskInfo: ``vim25.xml.render`` of its vim25 value against ``wire.fill_task_info`` of
  the codec dict (what the SOAP face renders today) plus ``etree.tostring``;
- a VirtualMachineConfigInfo of about 160 elements (hardware with ten devices, extraConfig,
  files, tools, flags): ``render`` against the same tree built with ``wire.sub`` (how today's fill
  functions write a value) plus ``etree.tostring``;
- parsing a RetrievePropertiesEx call (govc's) and a CloneVM_Task call: ``vim25.xml.parse_call``
  (the arguments typed by the model) against ``wire.parse_request`` (the call element found, its
  arguments left as a tree for the handler to read), and for the first, against that plus what
  the face then reads of it itself (``traversal.parse_filter_spec``, the options).

Each pair is checked to say the same before it is timed. Prints microseconds per call, the ratios
and PASS/FAIL for the target (TaskInfo rendering at least 2x faster).

Run: ``python bench/vim25.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from codec import best_microseconds  # bench/codec.py: bench/ is on sys.path when this script runs
from vismock.codec.values import XsDateTime
from vismock.mockserver.faces.soap import traversal, wire
from vismock.mockserver.vim25 import model, xml
from vismock.mockserver.vim25.values import Data, MoRef, Typed

TARGET_TASK_INFO = 2.0


# -- the values ------------------------------------------------------------------------------------------

# What the mock's state holds today for a finished power-on (Backend.tasks.read(...).info).
TASK_DICT = {
    "key": "task-ok",
    "Task": "task-ok",
    "name": "PowerOnVM_Task",
    "descriptionId": "VirtualMachine.powerOn",
    "VirtualMachine": "vm-10",
    "entityName": "web-10",
    "state": "success",
    "cancelled": False,
    "cancelable": False,
    "progress": 100,
    "TaskReasonUser": {"userName": "bmc"},
    "queueTime": XsDateTime("2026-01-01T00:00:00Z"),
    "startTime": XsDateTime("2026-01-01T00:00:05Z"),
    "completeTime": XsDateTime("2026-01-01T00:00:10Z"),
    "eventChainId": 10,
}


def task_info() -> Data:
    """The same task as a vim25 value (what the redesigned state holds)."""
    return Data(
        "TaskInfo",
        key="task-ok",
        task=MoRef("Task", "task-ok"),
        name="PowerOnVM_Task",
        descriptionId="VirtualMachine.powerOn",
        entity=MoRef("VirtualMachine", "vm-10"),
        entityName="web-10",
        state="success",
        cancelled=False,
        cancelable=False,
        progress=100,
        reason=Data("TaskReasonUser", userName="bmc"),
        queueTime=datetime(2026, 1, 1, tzinfo=UTC),
        startTime=datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC),
        completeTime=datetime(2026, 1, 1, 0, 0, 10, tzinfo=UTC),
        eventChainId=10,
    )


def _device(type_name: str, key: int, label: str, **fields: Any) -> Data:
    info = Data("Description", label=label, summary=f"{label} summary")
    return Data(type_name, key=key, deviceInfo=info, **fields)


def config_info() -> Data:
    """A VirtualMachineConfigInfo as vCenter answers for a small Linux VM (about 160 elements)."""
    disk_backing = Data(
        "VirtualDiskFlatVer2BackingInfo",
        fileName="[datastore1] web-10/web-10.vmdk",
        datastore=MoRef("Datastore", "datastore-11"),
        diskMode="persistent",
        thinProvisioned=True,
        uuid="6000C29a-1b2c-3d4e-5f60-718293a4b5c6",
        contentId="a1b2c3d4e5f60718293a4b5c6d7e8f90",
    )
    nic_backing = Data(
        "VirtualEthernetCardNetworkBackingInfo",
        deviceName="VM Network",
        network=MoRef("Network", "network-12"),
    )
    devices = (
        _device("VirtualIDEController", 200, "IDE 0", busNumber=0),
        _device("VirtualIDEController", 201, "IDE 1", busNumber=1, device=(3002,)),
        _device("VirtualPS2Controller", 300, "PS2 controller 0", busNumber=0, device=(600, 700)),
        _device(
            "VirtualPCIController", 100, "PCI controller 0", busNumber=0, device=(500, 12000, 1000, 4000)
        ),
        _device("VirtualKeyboard", 600, "Keyboard", controllerKey=300, unitNumber=0),
        _device("VirtualPointingDevice", 700, "Pointing device", controllerKey=300, unitNumber=1),
        _device("VirtualMachineVideoCard", 500, "Video card", videoRamSizeInKB=4096, numDisplays=1),
        _device("ParaVirtualSCSIController", 1000, "SCSI controller 0", busNumber=0, sharedBus="noSharing"),
        _device(
            "VirtualDisk",
            2000,
            "Hard disk 1",
            backing=disk_backing,
            controllerKey=1000,
            unitNumber=0,
            capacityInKB=16777216,
            capacityInBytes=17179869184,
        ),
        _device(
            "VirtualVmxnet3",
            4000,
            "Network adapter 1",
            backing=nic_backing,
            controllerKey=100,
            unitNumber=7,
            addressType="assigned",
            macAddress="00:50:56:8a:01:02",
        ),
    )
    hardware = Data("VirtualHardware", numCPU=2, numCoresPerSocket=1, memoryMB=4096, device=devices)
    extra = tuple(
        Data("OptionValue", key=key, value=value)
        for key, value in (
            ("guestinfo.role", "web"),
            ("svga.present", "TRUE"),
            ("tools.guest.desktop.autolock", "FALSE"),
            ("vmware.tools.internalversion", Typed("long", 12352)),
        )
    )
    return Data(
        "VirtualMachineConfigInfo",
        changeVersion="2026-01-01T00:00:10.123456Z",
        modified=datetime(2026, 1, 1, tzinfo=UTC),
        name="web-10",
        guestFullName="Red Hat Enterprise Linux 9 (64-bit)",
        version="vmx-20",
        uuid="420a1b2c-3d4e-5f60-7182-93a4b5c6d7e8",
        instanceUuid="500a1b2c-3d4e-5f60-7182-93a4b5c6d7e8",
        template=False,
        guestId="rhel9_64Guest",
        alternateGuestName="",
        files=Data(
            "VirtualMachineFileInfo",
            vmPathName="[datastore1] web-10/web-10.vmx",
            snapshotDirectory="[datastore1] web-10/",
            suspendDirectory="[datastore1] web-10/",
            logDirectory="[datastore1] web-10/",
        ),
        tools=Data(
            "ToolsConfigInfo", toolsVersion=12352, afterPowerOn=True, afterResume=True, syncTimeWithHost=False
        ),
        flags=Data(
            "VirtualMachineFlagInfo", enableLogging=True, monitorType="release", virtualMmuUsage="automatic"
        ),
        defaultPowerOps=Data(
            "VirtualMachineDefaultPowerOpInfo", powerOffType="soft", suspendType="hard", resetType="soft"
        ),
        hardware=hardware,
        cpuAllocation=Data("ResourceAllocationInfo", reservation=0, expandableReservation=False, limit=-1),
        memoryAllocation=Data("ResourceAllocationInfo", reservation=0, expandableReservation=False, limit=-1),
        extraConfig=extra,
        bootOptions=Data(
            "VirtualMachineBootOptions", bootDelay=0, enterBIOSSetup=False, efiSecureBootEnabled=True
        ),
        firmware="efi",
        vmxConfigChecksum=b"\x01\x02\x03\x04",
        keyId=Data("CryptoKeyId", keyId="k-1", providerId=Data("KeyProviderId", id="kms-1")),
    )


# -- today's lxml way ------------------------------------------------------------------------------------


def lxml_render(name: str, value: Data) -> bytes:
    """*value* written as today's fill functions write one: an lxml tree of ``wire.sub`` calls."""
    root = etree.Element(
        f"{{{wire.VIM25}}}{name}", nsmap={None: wire.VIM25, "xsi": wire.XSI, "xsd": wire.XSD}
    )
    _fill(root, value)
    return etree.tostring(root)


def _fill(element: etree._Element, value: Data) -> None:
    # Only the fields set, as a hand-written fill function writes them (no walk over the others).
    for name, found in value.fields().items():
        declared = model().field(value.type, name)
        assert declared is not None
        for item in found if declared.array else (found,):
            _sub(element, name, declared.type, item)


def _sub(parent: etree._Element, name: str, declared: str, item: Any) -> None:
    if isinstance(item, MoRef):
        wire.sub_moref(parent, name, item)
    elif isinstance(item, Data):
        child = wire.sub(parent, name)
        if item.type != declared:
            child.set(wire.XSI_TYPE, item.type)
        _fill(child, item)
    elif isinstance(item, Typed):
        wire.sub(parent, name, str(item.value)).set(wire.XSI_TYPE, f"xsd:{item.type}")
    else:
        text = wire.bool_text(item) if isinstance(item, bool) else _text(item)
        child = wire.sub(parent, name, text)
        if declared == "anyType":
            child.set(wire.XSI_TYPE, "xsd:string")


def _text(item: Any) -> str:
    if isinstance(item, datetime):
        return wire.format_datetime(item)
    if isinstance(item, bytes):
        return xml.render("x", item, "base64Binary")[3:-4]
    return str(item)


def fill_task_info() -> bytes:
    element = etree.Element(
        f"{{{wire.VIM25}}}returnval", nsmap={None: wire.VIM25, "xsi": wire.XSI, "xsd": wire.XSD}
    )
    wire.fill_task_info(element, TASK_DICT)
    return etree.tostring(element)


# -- the calls -------------------------------------------------------------------------------------------


def _call(method: str, this_type: str, this: str, args: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f'<soapenv:Body><{method} xmlns="urn:vim25"><_this type="{this_type}">{this}</_this>{args}</{method}>'
        "</soapenv:Body></soapenv:Envelope>"
    ).encode()


RETRIEVE = _call(
    "RetrievePropertiesEx",
    "PropertyCollector",
    "propertyCollector",
    "<specSet><propSet><type>VirtualMachine</type><pathSet>name</pathSet><pathSet>runtime.powerState</pathSet>"
    "<pathSet>summary.config.template</pathSet></propSet><objectSet>"
    '<obj type="ContainerView">session[52a1]b2c3</obj><skip>true</skip>'
    '<selectSet xsi:type="TraversalSpec"><name>traverseEntities</name><type>ContainerView</type>'
    "<path>view</path><skip>false</skip></selectSet></objectSet></specSet><options><maxObjects>100</maxObjects></options>",
)
CLONE = _call(
    "CloneVM_Task",
    "VirtualMachine",
    "vm-10",
    '<folder type="Folder">group-v3</folder><name>web-clone</name><spec><location>'
    '<datastore type="Datastore">datastore-11</datastore><pool type="ResourcePool">resgroup-8</pool>'
    '<deviceChange><operation>edit</operation><device xsi:type="VirtualDisk"><key>2000</key>'
    "<controllerKey>1000</controllerKey><unitNumber>0</unitNumber><capacityInKB>33554432</capacityInKB></device>"
    "</deviceChange></location><template>false</template>"
    "<config><numCPUs>4</numCPUs><memoryMB>8192</memoryMB>"
    '<extraConfig><key>guestinfo.role</key><value xsi:type="xsd:string">web</value></extraConfig></config>'
    "<powerOn>true</powerOn></spec>",
)


def read_retrieve() -> Any:
    """What today's face does with that call before it answers: the parse, then its own reading of
    the FilterSpecs (traversal.parse_filter_spec) and of the options."""
    request = wire.parse_request(RETRIEVE)
    specs = [traversal.parse_filter_spec(spec) for spec in request.args("specSet")]
    options = request.arg("options")
    return specs, None if options is None else wire.child_int(options, "maxObjects")


# -- the run ---------------------------------------------------------------------------------------------


def _shape(element: etree._Element) -> tuple[Any, ...]:
    return (
        etree.QName(element).localname,
        sorted(element.attrib.items()),
        (element.text or "").strip(),
        [_shape(child) for child in element],
    )


def _parsed(text: str) -> etree._Element:
    return etree.fromstring(f'<w xmlns="urn:vim25" xmlns:xsi="{wire.XSI}" xmlns:xsd="{wire.XSD}">{text}</w>')[
        0
    ]


def _count(value: Data) -> int:
    return len(_parsed(xml.render("c", value, value.type)).xpath("//*"))


def check_same() -> None:
    """Both sides of each pair say the same (else the timing compares different work)."""
    assert _shape(_parsed(xml.render("returnval", task_info(), "TaskInfo"))) == _shape(
        etree.fromstring(fill_task_info())
    )
    config = config_info()
    assert _shape(_parsed(xml.render("returnval", config, "VirtualMachineConfigInfo"))) == _shape(
        etree.fromstring(lxml_render("returnval", config))
    )
    for body in (RETRIEVE, CLONE):
        ours, theirs = xml.parse_call(body), wire.parse_request(body)
        assert (ours.method, ours.this) == (theirs.method, theirs.this) and ours.args


def report(repeat: int) -> bool:
    check_same()
    info, config = task_info(), config_info()
    as_text = info.replace(
        queueTime=XsDateTime("2026-01-01T00:00:00Z"),
        startTime=XsDateTime("2026-01-01T00:00:05Z"),
        completeTime=XsDateTime("2026-01-01T00:00:10Z"),
    )
    pairs = [
        (
            "finished TaskInfo",
            lambda: xml.render("returnval", info, "TaskInfo"),
            fill_task_info,
        ),
        (
            "the same, its times as XsDateTime text",
            lambda: xml.render("returnval", as_text, "TaskInfo"),
            fill_task_info,
        ),
        (
            f"VirtualMachineConfigInfo ({_count(config)} elements)",
            lambda: xml.render("returnval", config, "VirtualMachineConfigInfo"),
            lambda: lxml_render("returnval", config),
        ),
        (
            "parse RetrievePropertiesEx call",
            lambda: xml.parse_call(RETRIEVE),
            lambda: wire.parse_request(RETRIEVE),
        ),
        (
            "  the same, the face's own reading of it included",
            lambda: xml.parse_call(RETRIEVE),
            read_retrieve,
        ),
        ("parse CloneVM_Task call", lambda: xml.parse_call(CLONE), lambda: wire.parse_request(CLONE)),
    ]
    print(f"best of {repeat} runs, microseconds per call: vim25 model | today's lxml wire | speed-up")
    ratios = {}
    for name, ours, theirs in pairs:
        ours_us, theirs_us = best_microseconds(ours, repeat), best_microseconds(theirs, repeat)
        ratios[name] = theirs_us / ours_us
        print(f"  {name:<48} {ours_us:8.1f} | {theirs_us:8.1f} | {ratios[name]:5.2f}x")
    build_us = best_microseconds(task_info, repeat)
    print(f"  building the TaskInfo value (Data, nested reason included): {build_us:.1f} us")
    ok = ratios["finished TaskInfo"] >= TARGET_TASK_INFO
    target = f"TaskInfo rendering at least {TARGET_TASK_INFO:g}x faster than fill_task_info + tostring"
    print(f"{'PASS' if ok else 'FAIL'}  {target}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (the best counts)")
    args = parser.parse_args(argv)
    return 0 if report(args.repeat) else 1


if __name__ == "__main__":
    sys.exit(main())
