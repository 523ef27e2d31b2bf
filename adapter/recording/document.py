"""The recording as a file: the scenario file format (``tasks:`` and ``inventory:``) in YAML, with
comments saying where it comes from and what was changed or left out.

Tasks are written through the task file model (``spec_to_dict``); the text is loaded back with
the scenario file's own parser before it is written (a recording ``vismock serve --tasks`` would
refuse is never written as if it were good), and written atomically: a temporary file in the
same folder, renamed over the target. Nothing else goes in: no password, no session key.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from vismock.adapter.recording.timeline import RecordedTask
from vismock.mockserver.state.models import TaskSpec
from vismock.mockserver.state.taskfile import Scenario, parse_yaml, spec_to_dict

ANY_USER = "*"
# Keys whose values are written on one line ({state: running, at: 1.5, progress: 40}).
FLOW_KEYS = frozenset({"timeline", "entity", "reason", "datastores", "networks", "vms"})
FLOW_LIST_KEYS = frozenset({"disks", "nics"})  # lists of sizes and names, on one line


@dataclass(frozen=True, slots=True)
class Recording:
    """What goes in the file."""

    header: Sequence[str]  # comment lines at the top
    tasks: Sequence[RecordedTask]
    inventory: Mapping[str, Any] | None = None
    inventory_notes: Sequence[str] = ()


# -- user names


def parse_user_replacement(text: str) -> tuple[str, str]:
    """``OLD=NEW`` (OLD ``*``: every user name not replaced otherwise); ValueError when malformed."""
    old, separator, new = text.partition("=")
    if not separator or not old:
        raise ValueError(f"--replace-user {text!r}: expected OLD=NEW (OLD may be * for every user)")
    return old, new


def replace_users(spec: TaskSpec, replacements: Mapping[str, str]) -> TaskSpec:
    """*spec* with its TaskReasonUser user name replaced as *replacements* say."""
    if spec.reason.kind != "user" or not replacements:
        return spec
    name = spec.reason.user_name or ""
    new = replacements.get(name, replacements.get(ANY_USER, name))
    return replace(spec, reason=replace(spec.reason, user_name=new or None))


# -- the text


class _Flow(dict[str, Any]):
    """A mapping written on one line."""


class _Dumper(yaml.SafeDumper):
    pass


class _FlowList(list[Any]):
    """A list written on one line (a VM's disk sizes, its NICs' networks)."""


_Dumper.add_representer(
    _Flow, lambda dumper, data: dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)
)
_Dumper.add_representer(
    _FlowList, lambda dumper, data: dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=True)
)


def _seconds(dumper: yaml.SafeDumper, value: float) -> yaml.ScalarNode:
    """Offsets as plain decimals (0.000049, not 4.9e-05): the recorder rounds them to microseconds."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return dumper.represent_scalar(
        "tag:yaml.org,2002:float" if "." in text else "tag:yaml.org,2002:int", text
    )


_Dumper.add_representer(float, _seconds)


def render(recording: Recording) -> str:
    """The file's text: comments, ``tasks:``, then ``inventory:`` when there is one."""
    lines = [_comment(line) for line in recording.header]
    if not recording.tasks:
        lines.append("tasks: []")
    else:
        lines.append("tasks:")
    for task in recording.tasks:
        lines.extend("  " + _comment(note) for note in task.notes)
        lines.extend(_indented(_dump([_flowing(spec_to_dict(task.spec))])))
    if recording.inventory is not None:
        lines.extend(_comment(note) for note in recording.inventory_notes)
        lines.append("inventory:")
        lines.extend(_indented(_dump(_flowing(dict(recording.inventory)))))
    return "\n".join(lines) + "\n"


def check(text: str, source: str) -> Scenario:
    """The recording loaded as ``vismock serve --tasks`` loads it (TaskFileError if it would refuse it)."""
    return parse_yaml(text, source)


def _comment(text: str) -> str:
    return "# " + " ".join(text.split())  # one line: a newline in a name must not end the comment


def _dump(data: Any) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100_000)


def _indented(text: str) -> list[str]:
    return ["  " + line for line in text.splitlines()]


def _flowing(value: Any, key: str | None = None) -> Any:
    """*value* with the mappings inside FLOW_KEYS lists (and FLOW_KEYS mappings), and the
    FLOW_LIST_KEYS lists, on one line."""
    if isinstance(value, Mapping):
        items = {name: _flowing(item, name) for name, item in value.items()}
        return _Flow(items) if key in FLOW_KEYS and _is_flat(items) else items
    if isinstance(value, list):
        if key in FLOW_LIST_KEYS:
            return _FlowList(value)
        return [_flow_item(_flowing(item, None), key) for item in value]
    return value


def _flow_item(item: Any, key: str | None) -> Any:
    return _Flow(item) if key in FLOW_KEYS and isinstance(item, dict) and _is_flat(item) else item


def _is_flat(mapping: Mapping[str, Any]) -> bool:
    return all(not isinstance(value, Mapping | list) for value in mapping.values())


# -- the file


def check_writable(path: Path) -> None:
    """ValueError unless a recording can be written at *path* (checked before a long recording)."""
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise ValueError(f"{path}: a recording is YAML; name it .yaml or .yml")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"{path}: not writable")


def write_atomically(path: Path, text: str) -> None:
    """*text* at *path*, all or nothing: a temporary file beside it, renamed over it. Ctrl-C
    cannot cut the write short (it is ignored until the file is in place)."""
    with _uninterrupted():
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, 0o666 & ~_umask())  # as a file created the ordinary way
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _uninterrupted() -> Iterator[None]:
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: signals go to the main thread anyway
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
