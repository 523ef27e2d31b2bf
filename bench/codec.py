"""How fast is the codec next to xmlschema and next to the libxml2 floor?

On the seed's response document, measured side by side in one run:
``xmlschema.to_dict``, our fully validating ``decode``, the floor "lxml parse +
lxml.etree.XMLSchema validate + a tree walk", ``xmlschema.encode`` and our
``encode``. Prints microseconds per document, the ratios, and PASS/FAIL for
the targets (decode within 1.25x the floor, encode at least 25x faster than
xmlschema); then ``vismock validate`` beside ``xmllint`` over a batch of files
(bench/validate_batch.py).

Run: ``python bench/codec.py [--files 5000] [--repeat 5]``. Each figure is the best
of the repeats of CPU time (``time.process_time``): the work is one thread, and on
a machine shared with other jobs CPU time is disturbed far less than wall time.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import xmlschema
from lxml import etree
from validate_batch import report_batch  # bench/ is on sys.path when this script runs

import vismock.codec as codec

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "tests" / "data" / "seed" / "response.xml"
RESPONSE_ROOT = "vmware-infrastructure-response"


def best_microseconds(
    calls: dict[str, Callable[[], Any]], repeat: int, budget: float = 0.2
) -> dict[str, float]:
    """Best CPU time per call of each workload, in microseconds. The workloads take turns within
    each of the *repeat* rounds (about *budget* seconds each), so that whatever else the machine
    runs at a given moment weighs on all of them alike."""
    numbers = {}
    for name, call in calls.items():
        call()
        start = time.process_time()
        call()
        numbers[name] = max(1, int(budget / max(time.process_time() - start, 1e-7)))
    best = dict.fromkeys(calls, float("inf"))
    for _ in range(repeat):
        for name, call in calls.items():
            start = time.process_time()
            for _ in range(numbers[name]):
                call()
            best[name] = min(best[name], (time.process_time() - start) / numbers[name])
    return {name: seconds * 1e6 for name, seconds in best.items()}


def walk(element: etree._Element) -> Any:
    """The floor's tree walk: element tags to texts, no schema knowledge, no conversion."""
    if len(element) == 0:
        return element.text
    return {child.tag: walk(child) for child in element}


def decode_workloads(xml: bytes) -> dict[str, Callable[[], Any]]:
    shipped = codec.default_codec()
    xsd = shipped.schema()
    libxml2 = etree.XMLSchema(etree.parse(str(next(iter(shipped.operations.values())).schema)))
    parser = etree.XMLParser(resolve_entities=False, no_network=True)

    def floor() -> Any:
        tree = etree.fromstring(xml, parser).getroottree()
        if not libxml2.validate(tree):
            raise AssertionError("the seed is valid")
        return walk(tree.getroot())

    return {
        "xmlschema.to_dict": lambda: xsd.to_dict(
            etree.fromstring(xml).getroottree(), use_location_hints=False
        ),
        "vismock decode": lambda: codec.decode(xml),
        "floor (lxml parse + XMLSchema + walk)": floor,
    }


def encode_workloads(xml: bytes) -> dict[str, Callable[[], Any]]:
    xsd: xmlschema.XMLSchema10 = codec.default_codec().schema()
    data = codec.decode(xml)
    return {
        "xmlschema.encode": lambda: ElementTree.tostring(xsd.encode(data, path=RESPONSE_ROOT)),
        "vismock encode": lambda: codec.encode(data),
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report_speed(repeat: int) -> bool:
    xml = SEED.read_bytes()
    times = best_microseconds({**decode_workloads(xml), **encode_workloads(xml)}, repeat)
    print(f"seed response document, {len(xml)} bytes; best of {repeat} runs, CPU microseconds per document")
    for name, micros in times.items():
        print(f"  {name:<40} {micros:10.1f} us")
    decode_speedup = times["xmlschema.to_dict"] / times["vismock decode"]
    floor_ratio = times["vismock decode"] / times["floor (lxml parse + XMLSchema + walk)"]
    encode_speedup = times["xmlschema.encode"] / times["vismock encode"]
    targets = [
        (
            f"decode is {decode_speedup:.1f}x faster than xmlschema.to_dict (target >= 10x)",
            decode_speedup >= 10,
        ),
        (f"decode is {floor_ratio:.2f}x the libxml2 floor (target <= 1.25x)", floor_ratio <= 1.25),
        (
            f"encode is {encode_speedup:.1f}x faster than xmlschema.encode (target >= 25x)",
            encode_speedup >= 25,
        ),
    ]
    for text, ok in targets:
        print(f"  {verdict(ok)}  {text}")
    return all(ok for _, ok in targets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000, help="documents in the batch line (default 5000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per workload (default 5)")
    args = parser.parse_args(argv)
    passed = report_speed(args.repeat)
    report_batch(args.files)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
