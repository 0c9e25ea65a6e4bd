"""Make the simulator package (tests/sim/hyperv_sim) importable for every test in this directory, and start
WS-Management endpoints around a fake command host (test_wsman.py, test_wsman_psrp.py)."""

import pathlib
import sys

import pytest

SIM_DIR = str(pathlib.Path(__file__).resolve().parent.parent)
if SIM_DIR not in sys.path:
    sys.path.insert(0, SIM_DIR)

from fake_hosts import PASSWORD, USER, FakeCommandHost  # noqa: E402  (after the path is set)


@pytest.fixture
def command_host():
    return FakeCommandHost()


@pytest.fixture
def make_server(command_host):
    """Start in-process servers (stopped after the test) around the test's fake command host."""
    from hyperv_sim.wsman import WSManServer

    servers = []

    def start(transport="ntlm", tls=False, traffic_path=None):
        server = WSManServer(command_host, USER, PASSWORD, transport=transport, tls=tls,
                             traffic_path=traffic_path).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
