"""Guests of the simulated Hyper-V host, for ``make demo`` and the safe_change integration tests.

A guest is an inventory host reached with the test-only connection plugin ``sim_guest``
(tests/sim/plugins/connection): its commands run on the controller, but only while its VM
runs on the simulated host, and its "disk" is the VM's disk directory on that host
(``SimHost.disk_path``), so a restored checkpoint really takes back what a change wrote.

``GuestWeb`` is the guests' web server: ``http://127.0.0.1:PORT/<vm>/<path>`` serves the
file ``<path>`` from the VM's disk while the guest is reachable (503 otherwise), so a
verification URL answers 200 or 404 depending on what the change did to the guest's files.
"""

from __future__ import annotations

import hashlib
import http.server
import pathlib
import sys
import threading
import urllib.parse

SIM_DIR = pathlib.Path(__file__).resolve().parents[1]
REPO = SIM_DIR.parents[1]
CONNECTION_PLUGINS = SIM_DIR / "plugins" / "connection"
CALLBACK_PLUGINS = SIM_DIR / "plugins" / "callback"
if str(SIM_DIR) not in sys.path:
    sys.path.insert(0, str(SIM_DIR))
if str(CONNECTION_PLUGINS) not in sys.path:
    sys.path.insert(0, str(CONNECTION_PLUGINS))


def disk_digest(path) -> dict[str, str]:
    """Every file under ``path`` with its SHA-256, for a byte-for-byte comparison."""
    path = pathlib.Path(path)
    return {str(item.relative_to(path)): hashlib.sha256(item.read_bytes()).hexdigest()
            for item in sorted(path.rglob("*")) if item.is_file()}


def write_files(disk, files: dict[str, str | bytes]) -> None:
    """Put ``files`` ({relative path: text or bytes}) on a guest's disk."""
    for relative, content in files.items():
        target = pathlib.Path(disk) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)


def guest_vars(state_path, vm_name, hyperv_host, disk_path, **extra) -> dict:
    """Inventory variables of a guest VM ``vm_name`` that runs on the simulated host ``hyperv_host``."""
    variables = {
        "ansible_connection": "sim_guest",
        "ansible_sim_state": str(state_path),
        "hyperv_host": hyperv_host,
        "hyperv_vm_name": vm_name,
        "guest_disk_path": str(disk_path),
        "ansible_python_interpreter": sys.executable,
    }
    variables.update(extra)
    return variables


def ansible_environment(results_file=None) -> dict[str, str]:
    """Environment for ansible-playbook: the sim_guest connection and the sim_results callback."""
    environment = {
        "ANSIBLE_CONNECTION_PLUGINS": str(CONNECTION_PLUGINS),
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_PLUGINS),
        "ANSIBLE_CALLBACKS_ENABLED": "sim_results",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_DEPRECATION_WARNINGS": "False",
        "ANSIBLE_FORKS": "10",
    }
    if results_file is not None:
        environment["SIM_RESULTS_FILE"] = str(results_file)
    return environment


class GuestWeb:
    """A web server for the guests: ``/<vm>/<path>`` -> ``<disk of vm>/<path>``.

    ``resolve(vm)`` returns the state file of the simulated host that runs ``vm`` (or None).
    """

    def __init__(self, resolve):
        self._resolve = resolve
        handler = self._handler()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="guest-web", daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, vm, path) -> str:
        return "http://127.0.0.1:%d/%s/%s" % (self.port, vm, path.lstrip("/"))

    def __enter__(self) -> GuestWeb:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self):
        resolve = self._resolve

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format, *args):  # quiet
                pass

            def do_GET(self):
                from sim_guest import guest_status  # the connection plugin's view of the guest

                parts = urllib.parse.urlsplit(self.path).path.lstrip("/").split("/", 1)
                vm = urllib.parse.unquote(parts[0])
                state_path = resolve(vm)
                if state_path is None:
                    return self._answer(404, "no such guest: %s\n" % vm)
                reachable, reason, disk = guest_status(state_path, vm)
                if not reachable:
                    return self._answer(503, "guest %s is down: %s\n" % (vm, reason))
                relative = urllib.parse.unquote(parts[1] if len(parts) > 1 else "")
                target = (disk / relative).resolve()
                if disk.resolve() not in target.parents or not target.is_file():
                    return self._answer(404, "not found: /%s/%s\n" % (vm, relative))
                return self._answer(200, target.read_bytes())

            def _answer(self, status, body):
                data = body.encode() if isinstance(body, str) else body
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
