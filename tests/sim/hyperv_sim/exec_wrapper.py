"""Ansible's PowerShell exec wrapper, recognised so the bench can measure what a ``.ps1`` module costs on the wire.

A PowerShell module task (``ansible.windows.win_powershell``, microsoft.hyperv's modules...)
reaches a Windows host, in ansible-core 2.19, as one command: ``bootstrap_wrapper.ps1`` encoded
on the command line, and on stdin the bootstrap's JSON (``{"name": "exec_wrapper", "script":
<exec_wrapper.ps1>, ...}``), a line of four NUL characters, then the exec manifest: every
script the module needs (the module, ``Ansible.Basic`` C# and its other utils, base64) and the
actions to run (``module_wrapper.ps1`` with the module's arguments). The same wrapper also
runs the shell plugin's helpers (``powershell_mkdtemp.ps1``, ``powershell_expand_user.ps1``).

This simulator runs no PowerShell: it only checks that the payload really is that wrapper
(the command line is the installed ansible-core's own bootstrap, the stdin parses as above)
and answers as a successful run would. **The host-side work (compiling Ansible.Basic, running
the module) is not simulated**: only the transport cost is real.
"""

from __future__ import annotations

import base64
import binascii
import json
import pkgutil

MANIFEST_SEPARATOR = b"\n\0\0\0\0\n"
WRAPPER_PACKAGE = "ansible.executor.powershell"
TEMP_DIRECTORY = "C:\\Users\\ansible-sim\\AppData\\Local\\Temp"


class NotExecWrapper(Exception):
    """The command is not Ansible's exec wrapper (the reason says why)."""


def _wrapper_script(name: str) -> str | None:
    """A script of the installed ansible-core, or None when ansible-core is not importable."""
    try:
        data = pkgutil.get_data(WRAPPER_PACKAGE, name)
    except (ImportError, OSError):
        return None
    return data.decode("utf-8-sig") if data is not None else None


def _stripped(script: str) -> str:
    """What the PowerShell shell plugin's ``_encode_script`` keeps of a script: stripped, non-empty lines."""
    return "\n".join(line.strip() for line in script.splitlines() if line.strip())


def is_bootstrap_command(encoded_script: str) -> bool:
    """Whether the ``-EncodedCommand`` argument carries ansible-core's bootstrap wrapper."""
    bootstrap = _wrapper_script("bootstrap_wrapper.ps1")
    if bootstrap is None:
        return False
    try:
        script = base64.b64decode(encoded_script, validate=True).decode("utf-16-le")
    except (binascii.Error, UnicodeDecodeError):
        return False
    return _stripped(bootstrap) in script


def parse_payload(stdin: bytes) -> dict:
    """The exec manifest on stdin, after checking the bootstrap part is the exec wrapper; NotExecWrapper if not."""
    parts = stdin.split(MANIFEST_SEPARATOR)
    if len(parts) < 2:
        raise NotExecWrapper("no NUL separator after the bootstrap input")
    try:
        bootstrap = json.loads(parts[0])
        manifest = json.loads(parts[1])
    except (UnicodeDecodeError, ValueError) as error:
        raise NotExecWrapper("the bootstrap input is not JSON: %s" % error) from None
    if not isinstance(bootstrap, dict) or bootstrap.get("name") != "exec_wrapper":
        raise NotExecWrapper("the bootstrap input does not run exec_wrapper")
    if bootstrap.get("script") != _wrapper_script("exec_wrapper.ps1"):
        raise NotExecWrapper("the bootstrap input's script is not ansible-core's exec_wrapper.ps1")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("actions"), list) or not manifest["actions"]:
        raise NotExecWrapper("the exec manifest has no actions")
    return manifest


def _module_args(action: dict) -> dict:
    for variable in action.get("params", {}).get("Variables") or []:
        if variable.get("Name") == "complex_args" and isinstance(variable.get("Value"), dict):
            return {key: value for key, value in variable["Value"].items() if not key.startswith("_ansible_")}
    return {}


def answer(manifest: dict) -> tuple[bytes, str]:
    """(stdout, label) a successful run of the manifest's last action would give."""
    action = manifest["actions"][-1]
    name = action.get("name", "")
    params = action.get("params") or {}
    if name == "powershell_mkdtemp.ps1":
        path = "%s\\%s" % (params.get("Directory") or TEMP_DIRECTORY, params.get("Name") or "ansible-tmp")
        return (path + "\r\n").encode("utf-8"), "exec_wrapper:mkdtemp"
    if name == "powershell_expand_user.ps1":
        path = str(params.get("Path") or "~").replace("~", "C:\\Users\\ansible-sim", 1)
        return (path + "\r\n").encode("utf-8"), "exec_wrapper:expand_user"
    module = str(params.get("Script") or name).rsplit(".", 1)[0]
    # What win_powershell returns for a script that wrote nothing; other modules ignore the extra keys.
    result = {
        "changed": True,
        "result": {},
        "host_out": "",
        "host_err": "",
        "output": [],
        "error": [],
        "warning": [],
        "verbose": [],
        "debug": [],
        "information": [],
        "invocation": {"module_args": _module_args(action)},
    }
    return (json.dumps(result) + "\r\n").encode("utf-8"), "exec_wrapper:" + module
