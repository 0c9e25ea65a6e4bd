"""Command line of the simulated Hyper-V host: ``hyperv-sim serve ...``.

One host, two listeners, as a Windows host with WinRM and OpenSSH has: the WS-Management endpoint
(WinRS for ``winrm``, PowerShell remoting for ``psrp``) and an OpenSSH endpoint with PowerShell as the
default shell (``ssh``). Prints one line, ``hyperv-sim listening on 127.0.0.1:PORT ssh
127.0.0.1:SSH_PORT``, once both accept connections (harness.running_simulator waits for it), and exits 0
on SIGTERM/SIGINT. With ``--wait-for-port``, a line ``hyperv-sim waiting for 127.0.0.1:PORT`` may come
before it.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import signal
import sys
import time
from typing import Callable, TypeVar

from hyperv_sim.ssh_server import SSHEndpoint
from hyperv_sim.traffic import traffic_path
from hyperv_sim.wsman import TRANSPORTS, WSManServer

BIND_ADDRESS = "127.0.0.1"
# How often a host waiting for its port tries it again: the gap between the old host letting it go and
# this one taking it, which a client's retry must outlast.
BIND_POLL_SECONDS = 0.05
T = TypeVar("T")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hyperv-sim", description="Simulated Hyper-V host reachable over WinRM, PSRP "
                                     "and SSH.")
    commands = parser.add_subparsers(dest="subcommand", required=True)
    # Listed for --help only: main() hands "admin ..." to hyperv_sim.admin before this parser sees it.
    commands.add_parser("admin", add_help=False,
                        help="set up or inspect a simulated host's state file without a server "
                             "(hyperv-sim admin --help lists its commands)")
    serve = commands.add_parser("serve", help="serve the WS-Management endpoint on 127.0.0.1")
    serve.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
    serve.add_argument("--state", required=True, help="state file of the simulated host (created if missing)")
    serve.add_argument("--vm", action="append", default=[], metavar="NAME",
                       help="VM to create in a new state file (repeatable)")
    serve.add_argument("--user", default=os.environ.get("HYPERV_SIM_USER"),
                       help="account clients log on with (default: $HYPERV_SIM_USER)")
    serve.add_argument("--password", default=os.environ.get("HYPERV_SIM_PASSWORD"),
                       help="its password (default: $HYPERV_SIM_PASSWORD)")
    serve.add_argument("--transport", choices=TRANSPORTS, default="ntlm",
                       help="WinRM authentication (default: ntlm, with message encryption over http; kerberos needs "
                            "--keytab, and KRB5_CONFIG naming the realm)")
    serve.add_argument("--client-ca", metavar="PATH",
                       help="with --transport certificate (and --tls): the CA whose client certificates the host's "
                            "certificate mapping trusts; the mapped user is --user, as the certificates' UPN")
    serve.add_argument("--keytab", metavar="PATH",
                       help="with --transport kerberos: the keytab holding the key of the host's service principal "
                            "HTTP/<name>")
    serve.add_argument("--tls", action="store_true", help="serve https with a generated self-signed certificate")
    serve.add_argument("--tls-cert-out", metavar="PATH",
                       help="with --tls: write the certificate (PEM) there, for clients that validate it")
    serve.add_argument("--host-name", help="computer name the simulated host reports")
    serve.add_argument("--node", help="serve the state file as this node of a simulated failover cluster: several "
                                      "processes serve one state file (the cluster's shared storage), each with its "
                                      "own --node; a clustered VM runs on one of them ('hyperv-sim admin live-migrate')")
    serve.add_argument("--ssh-port", type=int, default=0, help="TCP port of the OpenSSH endpoint; 0 picks a free one")
    serve.add_argument("--ssh-authorized-keys", metavar="PATH",
                       help="authorized_keys file of the user, for SSH public-key authentication")
    serve.add_argument("--ssh-known-hosts-out", metavar="PATH",
                       help="write a known_hosts line for the SSH host key there, for clients that validate it")
    serve.add_argument("--free-gb", type=float,
                       help="free space of the host's volumes in GB (default 500; change it later with "
                            "'hyperv-sim admin --state FILE set-free-gb N')")
    serve.add_argument("--verbose", action="store_true", help="log every WS-Management request to stderr")
    serve.add_argument("--wait-for-port", type=float, default=0, metavar="SECONDS",
                       help="when --port (the WS-Management port) is still taken, as by a host restarted in its old "
                            "place, print 'hyperv-sim waiting for 127.0.0.1:PORT' and try again for up to SECONDS "
                            "(default 0: fail at once)")
    return parser


def bound_when_free(bind: Callable[[], T], port: int, wait_seconds: float) -> T:
    """``bind()``, tried again while ``port`` is taken, for up to ``wait_seconds``.

    A host restarted in place is started before the old process has gone: it announces that it waits (its
    imports and set-up are done by then), and takes the port the moment the old one lets it go, so that
    the restart is as short as the kernel makes it, not as long as a Python start on a loaded machine.
    """
    give_up_at = time.monotonic() + wait_seconds
    announced = False
    while True:
        try:
            return bind()
        except OSError as error:
            if error.errno != errno.EADDRINUSE or not port or time.monotonic() >= give_up_at:
                raise
        if not announced:
            print("hyperv-sim waiting for %s:%d" % (BIND_ADDRESS, port), flush=True)
            announced = True
        time.sleep(BIND_POLL_SECONDS)


def serve(args: argparse.Namespace) -> int:
    # Block the stop signals from the start, in every thread (threads inherit the mask), and
    # wait for them synchronously: a stop during start-up is then handled once the server
    # runs, and no signal handler interrupts the server at an awkward point.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)

    # Imported here so the WinRM layer can be imported and tested without the command host.
    from hyperv_sim.commands import CommandHost

    host_options = {"host_name": args.host_name} if args.host_name else {}
    if args.node:
        host_options["node"] = args.node
    command_host = CommandHost(args.state, initial_vms=list(args.vm), **host_options)
    if args.free_gb is not None:
        from hyperv_sim.admin import SimHost

        SimHost(args.state).set_free_space(args.free_gb)
    server = bound_when_free(lambda: WSManServer(
        command_host, user=args.user, password=args.password, transport=args.transport, tls=args.tls,
        host=BIND_ADDRESS, port=args.port, traffic_path=traffic_path(args.state), keytab=args.keytab,
        client_ca=args.client_ca), args.port,
        args.wait_for_port)
    # The host key stays with the state file: a restarted host keeps its identity, as a real one does.
    ssh = SSHEndpoint(command_host, user=args.user, password=args.password, host_key_path=args.state + ".ssh_host_key",
                      authorized_keys=args.ssh_authorized_keys, host=BIND_ADDRESS, port=args.ssh_port,
                      traffic_path=traffic_path(args.state))
    server.start()
    try:
        ssh.start()
        if args.tls_cert_out and server.certificate_path:
            shutil.copyfile(server.certificate_path, args.tls_cert_out)
        if args.ssh_known_hosts_out:
            with open(args.ssh_known_hosts_out, "w", encoding="ascii") as handle:
                handle.write(ssh.known_hosts_line())
        print("hyperv-sim listening on %s:%d ssh %s:%d" % (BIND_ADDRESS, server.port, BIND_ADDRESS, ssh.port),
              flush=True)
        signal.sigwait(stop_signals)
    finally:
        ssh.stop()
        server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["admin"]:
        # Set up or inspect a simulated host's state file without a server.
        from hyperv_sim import admin

        return admin.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.user or not args.password:
        parser.error("no credentials: give --user and --password, or set HYPERV_SIM_USER and HYPERV_SIM_PASSWORD "
                     "(the simulator has no built-in password)")
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
    if args.verbose:
        # Only the simulator's own loggers: pyspnego's debug output would dump the NTLM tokens.
        logging.getLogger("hyperv_sim").setLevel(logging.DEBUG)
    return serve(args)
