# -*- coding: utf-8 -*-
"""Bytes of the request each operation sends on stdin, as the controller builds it (docs/performance.md).

    .venv/bin/python tools/request_sizes.py [--repo DIR]

prints, per operation, the request document's JSON and the encoded line on stdin (base64 of gzip), which
WinRM base64-encodes once more inside its SOAP message. ``--repo`` measures another checkout (e.g. an
older commit exported with ``git archive``), with the same parameters.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import sys
import tempfile
from typing import Any

VM_ID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
# Parameters as the action plugins send them for one VM.
PARAMS: dict[str, dict[str, Any]] = {
    "get_vms": {"Names": ["web01"], "Ids": [], "All": False, "IncludeCheckpoints": True, "IncludeSizes": False,
                "ReportMissing": False},
    "create_checkpoint": {"VMId": VM_ID, "Name": "before patch", "CheckpointType": None, "MinFreeBytes": 0,
                          "CheckpointLimit": 50},
    "remove_checkpoints": {"VMId": VM_ID, "Ids": [VM_ID], "IncludeChildren": False, "MergeGraceSeconds": 10},
    "get_vm": {"Name": "web01", "Id": ""},
    "rename_checkpoint": {"VMId": VM_ID, "Id": VM_ID, "NewName": "after patch"},
}


def operation_runner(repo: pathlib.Path) -> Any:
    """The checkout's _operation_runner, imported as Ansible would (ansible_collections.hyperv.checkpoint)."""
    root = pathlib.Path(tempfile.mkdtemp(prefix="request-sizes-"))
    namespace = root / "ansible_collections" / "hyperv"
    namespace.mkdir(parents=True)
    (namespace / "checkpoint").symlink_to(repo.resolve(), target_is_directory=True)
    sys.path.insert(0, str(root))
    return importlib.import_module("ansible_collections.hyperv.checkpoint.plugins.plugin_utils._operation_runner")


def sizes(runner: Any, name: str, params: dict[str, Any]) -> tuple[int, int]:
    """(bytes of the request document's JSON, bytes of the encoded line on stdin)."""
    document = runner.request_document(name, params)
    text = json.dumps(document, ensure_ascii=True, separators=(",", ":"))
    return len(text), len(runner.encode_request(document))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=pathlib.Path, default=pathlib.Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    runner = operation_runner(args.repo)
    print("%-20s %10s %10s" % ("operation", "JSON", "stdin"))
    for name, params in PARAMS.items():
        print("%-20s %10d %10d" % ((name,) + sizes(runner, name, params)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
