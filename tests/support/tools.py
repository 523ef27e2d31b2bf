"""The real clients some tests drive: govc and the Go toolchain with Debian's govmomi library (for
the tests' own Go program), pointed at the mock and at the reference simulator
(:mod:`tests.support.vcsim`).

The rule for each (docs/soap.md, "Tests with real clients"), as for the simulator: outside CI a
missing tool skips the test with a message saying how to build it; in CI (``CI`` set, as
``.ci/run`` does, which builds them) a missing tool fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support import ROOT
from tests.support.served import Served, served
from tests.support.vcsim import running_vcsim

ANCHORS = Path(os.environ.get("VISMOCK_ANCHORS", ROOT.parent / "shared" / "anchors"))
GOVC = Path(os.environ.get("VISMOCK_GOVC", "/tmp/govc"))
GOVMOMI_LIBRARY = Path("/usr/share/gocode/src/github.com/vmware/govmomi")
GO_SOURCES = ROOT / "tests" / "go"


def require(available: bool, what: str, how: str) -> None:
    """Skip (outside CI) or fail (in CI) unless *available*."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing in CI, where .ci/run builds it: {how}", pytrace=False)
    pytest.skip(f"{what} is missing; to run this test: {how}")


def govc_binary() -> Path:
    require(
        GOVC.is_file() and os.access(GOVC, os.X_OK),
        f"govc ({GOVC})",
        f"bash {ANCHORS}/govc/build.sh {GOVC} (or set VISMOCK_GOVC)",
    )
    return GOVC


def go_toolchain() -> str:
    go = shutil.which("go")
    require(
        go is not None and GOVMOMI_LIBRARY.is_dir(),
        "Go with Debian's govmomi library (golang-go, golang-github-vmware-govmomi-dev)",
        "apt-get install golang-go golang-github-vmware-govmomi-dev",
    )
    assert go is not None
    return go


def build_go_program(name: str, out_dir: Path) -> Path:
    """Build tests/go/src/NAME in GOPATH mode against Debian's govmomi (no download)."""
    go = go_toolchain()
    out = out_dir / name
    environment = {
        **os.environ,
        "GOPATH": f"{GO_SOURCES}:/usr/share/gocode",
        "GO111MODULE": "off",
        "GOFLAGS": "",
    }
    built = subprocess.run(
        [go, "build", "-o", str(out), name], env=environment, capture_output=True, text=True, cwd=out_dir
    )
    assert built.returncode == 0, f"go build {name} failed:\n{built.stderr}"
    return out


@dataclass
class Govc:
    """govc pointed at one server, with a session cache of its own (GOVMOMI_HOME)."""

    binary: Path
    url: str  # http://user:password@host:port/sdk
    home: Path

    def run(self, *arguments: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        environment = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.home),
            "GOVMOMI_HOME": str(self.home),
            "GOVC_URL": self.url,
            "GOVC_INSECURE": "1",
            "TZ": "UTC",
        }
        return subprocess.run(
            [str(self.binary), *arguments], env=environment, capture_output=True, text=True, timeout=timeout
        )

    def ok(self, *arguments: str, timeout: float = 60.0) -> str:
        """The output of a govc command that must succeed."""
        done = self.run(*arguments, timeout=timeout)
        assert done.returncode == 0, (
            f"govc {' '.join(arguments)}: rc={done.returncode}\n{done.stderr}{done.stdout}"
        )
        return done.stdout

    def lines(self, *arguments: str) -> list[str]:
        return self.ok(*arguments).splitlines()


# -- govc against the mock and the simulator side by side -------------------------------------------

MOCK_VMS = ["TestDev", "win1", "prod/web-01", "prod/app-02", "prod/db-01", "files-01", "batch-07"]
MOCK_VMS += ["rhel9-template", "legacy-01"]  # the built-in inventory's VMs, in order
SIM_VMS = ["DC0_H0_VM0", "DC0_H0_VM1", "DC0_C0_RP0_VM0", "DC0_C0_RP0_VM1"]  # the simulator's


@dataclass
class Target:
    """A server govc is pointed at: ``vismock serve`` or the reference simulator."""

    name: str
    url: str  # the SDK URL with credentials
    datacenter: str
    vms: list[str]  # every VM's path below the datacenter's vm folder, in inventory order
    served: Served | None = None  # vismock's server (its admin API); None for the simulator

    def govc(self, home: Path) -> Govc:
        return Govc(govc_binary(), self.url, home)

    def reset(self) -> None:
        """The mock back to its loaded state (the simulator cannot be reset: it keeps its changes)."""
        if self.served is not None:
            answer = self.served.call("POST", "/_vismock/reset", b"", "application/json")
            assert answer == {"reset": True}, answer


@contextmanager
def mock_target(*arguments: str) -> Iterator[Target]:
    with served(*arguments) as server:
        url = f"http://vismock:vismock@127.0.0.1:{server.port}/sdk"
        yield Target("vismock", url, "Datacenter", MOCK_VMS, server)


@contextmanager
def sim_target() -> Iterator[Target]:
    with running_vcsim() as url:
        yield Target("vcsim", with_credentials(url), "DC0", SIM_VMS)


def with_credentials(url: str, user: str = "user", password: str = "pass") -> str:
    """*url* with a user and password in it, as govc takes them (the simulator accepts any)."""
    return url.replace("://", f"://{user}:{password}@", 1)


def recent_tasks(govc: Govc) -> list[str]:
    """TaskManager.recentTask, as govc reads it, oldest first."""
    return re.findall(
        r"Task:(task-\d+)", govc.ok("object.collect", "-s", "TaskManager:TaskManager", "recentTask")
    )
