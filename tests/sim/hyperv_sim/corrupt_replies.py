"""Replies a broken host could send: the runner's answer after the operation ran, corrupted.

A real host answers with something other than the runner's JSON document when a profile or
a module writes to stdout, when the output is cut off, when PowerShell itself fails before
the runner runs (an error record as CLIXML on stderr), when the process dies without output,
or when a newer or modified script reports an error code the collection does not know.
``SimHost.corrupt_reply(operation, kind)`` makes the next answer to ``operation`` one of these
(``KINDS``); the operation itself still runs, as it would have on the host.
"""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

NOT_JSON_TEXT = "Loading personal and system profiles took 2412ms.\r\nWelcome to HV01, Contoso Datacenter\r\n"
CLIXML_MESSAGE = "Get-VM : You do not have the required permission to complete this task. Contact the administrator."
UNKNOWN_CODE = "quota_exceeded"
UNKNOWN_CODE_MESSAGE = "The storage quota of the checkpoint volume is exhausted."
SHAPELESS_RESULT = {"vm_list": []}


def clixml_error(message: str) -> bytes:
    """stderr as powershell.exe writes an error record when it runs with redirected streams."""
    return ('#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
            '<S S="Error">%s_x000D__x000A_</S></Objs>' % escape(message)).encode("utf-8")


def _document(document: dict, exit_code: int) -> tuple[bytes, bytes, int]:
    return (json.dumps(document, separators=(",", ":")) + "\r\n").encode("ascii"), b"", exit_code


# kind -> (the runner's stdout, its exit code) -> (stdout, stderr, exit code) sent instead
KINDS = {
    # stdout that is not JSON at all, exit code 0
    "not_json": lambda stdout, rc: (NOT_JSON_TEXT.encode("ascii"), b"", 0),
    # the runner's document cut off in the middle
    "truncated_json": lambda stdout, rc: (stdout[:max(1, len(stdout.rstrip()) // 2)], b"", rc),
    # PowerShell failed before the runner answered: an error record on stderr, exit code 1
    "clixml_error": lambda stdout, rc: (b"", clixml_error(CLIXML_MESSAGE), 1),
    # stderr CLIXML that is not even well-formed XML (Ansible's winrm plugin chokes on it)
    "broken_clixml": lambda stdout, rc: (b"", b'#< CLIXML\r\n<Objs Version="1.1.0.1"><S S="Error">cut</Objs>', 1),
    # the process died: non-zero exit code, nothing on stdout or stderr
    "empty_exit": lambda stdout, rc: (b"", b"", 1),
    # a well-formed error with a code the collection does not know
    "unknown_code": lambda stdout, rc: _document(
        {"ok": False, "error": {"code": UNKNOWN_CODE, "message": UNKNOWN_CODE_MESSAGE}}, 1),
    # a well-formed success whose result lacks what the protocol promises
    "shapeless_result": lambda stdout, rc: _document({"ok": True, "result": SHAPELESS_RESULT}, 0),
}


def corrupt(stdout: bytes, exit_code: int, kind: str) -> tuple[bytes, bytes, int]:
    """(stdout, stderr, exit code) that the broken host of ``kind`` sends instead of the runner's answer."""
    return KINDS[kind](stdout, exit_code)
