"""A throw-away MIT Kerberos realm on loopback, for the tests that log on to the simulated hosts with Kerberos.

    with running_realm(tmp_dir, hosts=["hv01", "hv02"]) as realm:
        realm.kinit(cache)                         # a ticket cache of the user, as `kinit` makes one
        realm.keytab("hv01")                       # what hv01's simulator accepts tickets with
        realm.environment()                        # KRB5_CONFIG (and no system files) for any Kerberos client

Everything lives in one directory: ``krb5.conf`` (clients, through ``KRB5_CONFIG``), ``kdc.conf`` (the KDC,
through ``KRB5_KDC_PROFILE``), the database and its stash, one keytab per simulated host. Nothing system-wide is
read or written: no ``/etc/krb5.conf``, no ``/etc/hosts``, no DNS (``dns_lookup_* = false``, ``rdns = false``:
a client names the service it wants, ``HTTP/hv01.hyperv.test``, and never resolves 127.0.0.1 back to a name).
The KDC (``krb5kdc -n``) is a child process on a free 127.0.0.1 port and is always stopped when the ``with``
block ends, also when it raises. Debian's ``krb5-kdc`` and ``krb5-admin-server`` provide the programs
(``make kerberos`` installs them).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field

from hyperv_sim.harness import terminate

REALM = "HYPERV.TEST"
DOMAIN = "hyperv.test"
USER = "operator"
# A service principal that exists in the realm but is in no simulated host's keytab: a ticket for it is a ticket
# for the wrong service.
OTHER_SERVICE_HOST = "other"
KDC_PROGRAMS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit", "klist", "kvno")
# The KDC answers within a fraction of a second; the deadline only bounds a KDC that never comes up.
KDC_START_SECONDS = 30
KDC_STOP_SECONDS = 5
# Ports taken between choosing one and the KDC binding it (another test did the same): tried again this often.
START_ATTEMPTS = 5
# How far the clocks of a client and the simulated host may differ: MIT's (and Active Directory's) 5 minutes. A
# smaller one would make a logon fail whenever a loaded machine delays a request past it.
CLOCK_SKEW_SECONDS = 300


class KerberosSetupError(RuntimeError):
    """The realm could not be created or started (a missing program, a KDC that did not come up)."""


def service_host(host: str) -> str:
    """The DNS name of a simulated host in the realm: its service principal is ``HTTP/<this>``."""
    return "%s.%s" % (host.lower(), DOMAIN)


# The service classes a Windows host's WinRM listener answers to: HTTP (pywinrm, and so the winrm connection, asks
# for HTTP/<name>; Active Directory maps it to the computer's host/ SPN), WSMAN (pypsrp 0.9 through ansible-core
# 2.19's psrp asks for WSMAN/<name>, which the WinRM service registers for itself) and host (the psrp connection of
# ansible-core 2.21 asks for host/<name>, which every computer account has).
SERVICE_CLASSES = ("HTTP", "WSMAN", "host")


def service_principals(host: str) -> list[str]:
    return ["%s/%s@%s" % (service, service_host(host), REALM) for service in SERVICE_CLASSES]


def missing_programs() -> list[str]:
    return [program for program in KDC_PROGRAMS if shutil.which(program, path=_search_path()) is None]


def _search_path() -> str:
    # krb5kdc and kdb5_util live in /usr/sbin, which a non-root PATH may lack.
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])


def _program(name: str) -> str:
    path = shutil.which(name, path=_search_path())
    if path is None:
        raise KerberosSetupError("%s not found: install Debian's krb5-kdc, krb5-admin-server and krb5-user "
                                 "(make kerberos)" % name)
    return path


def _free_port() -> int:
    """A port free for TCP and UDP on 127.0.0.1 at this moment (the KDC listens on both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def krb5_conf(kdc_port: int, clock_skew: int = CLOCK_SKEW_SECONDS) -> str:
    """The clients' configuration: the realm's KDC on loopback, no DNS, no reverse lookups, TCP only."""
    return (
        "[libdefaults]\n"
        "    default_realm = %(realm)s\n"
        "    dns_lookup_kdc = false\n"
        "    dns_lookup_realm = false\n"
        "    rdns = false\n"
        "    dns_canonicalize_hostname = false\n"
        "    udp_preference_limit = 1\n"
        "    clockskew = %(skew)d\n"
        "    forwardable = true\n"
        "\n"
        "[realms]\n"
        "    %(realm)s = {\n"
        "        kdc = 127.0.0.1:%(port)d\n"
        "    }\n"
        "\n"
        "[domain_realm]\n"
        "    .%(domain)s = %(realm)s\n"
        "    %(domain)s = %(realm)s\n"
    ) % {"realm": REALM, "domain": DOMAIN, "port": kdc_port, "skew": clock_skew}


def kdc_conf(directory: str, kdc_port: int) -> str:
    """The KDC's configuration: its database, stash and ACL in ``directory``, listening on loopback only."""
    return (
        "[kdcdefaults]\n"
        "    kdc_listen = 127.0.0.1:%(port)d\n"
        "    kdc_tcp_listen = 127.0.0.1:%(port)d\n"
        "\n"
        "[realms]\n"
        "    %(realm)s = {\n"
        "        database_name = %(dir)s/principal\n"
        "        key_stash_file = %(dir)s/stash\n"
        "        acl_file = %(dir)s/kadm5.acl\n"
        "        max_life = 10h\n"
        "        max_renewable_life = 1d\n"
        "        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal\n"
        "    }\n"
    ) % {"realm": REALM, "port": kdc_port, "dir": directory}


@dataclass
class Realm:
    """A running realm: its directory, KDC port, the user's principal and password, the hosts it has services for."""

    directory: str
    kdc_port: int
    password: str
    hosts: tuple[str, ...]
    user: str = USER
    _process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def realm(self) -> str:
        return REALM

    @property
    def principal(self) -> str:
        return "%s@%s" % (self.user, REALM)

    @property
    def krb5_config(self) -> str:
        return os.path.join(self.directory, "krb5.conf")

    @property
    def kdc_profile(self) -> str:
        return os.path.join(self.directory, "kdc.conf")

    @staticmethod
    def service_host(host: str) -> str:
        return service_host(host)

    def keytab(self, host: str) -> str:
        """The keytab of simulated host ``host``: the keys of its ``HTTP/``, ``WSMAN/`` and ``host/`` principals only."""
        if host.lower() not in self.hosts:
            raise ValueError("the realm has no service for %r (it has %s)" % (host, ", ".join(self.hosts)))
        return os.path.join(self.directory, "%s.keytab" % host.lower())

    def environment(self, cache: str | None = None) -> dict[str, str]:
        """Variables for a Kerberos client of this realm (``cache``: a ticket cache file, else none is used)."""
        variables = {"KRB5_CONFIG": self.krb5_config, "KRB5_KDC_PROFILE": self.kdc_profile,
                     # The acceptors' replay cache, else in /var/tmp.
                     "KRB5RCACHEDIR": self.directory,
                     # A client with no cache of its own must not find one of the machine's user.
                     "KRB5CCNAME": "FILE:%s" % (cache or os.path.join(self.directory, "no-cache"))}
        return variables

    def kinit(self, cache: str, password: str | None = None, lifetime: str | None = None) -> subprocess.CompletedProcess:
        """``kinit`` the user into ``cache`` (``password``: another one, to see it refused; ``lifetime``: kinit -l)."""
        command = [_program("kinit"), "-c", "FILE:%s" % cache]
        if lifetime:
            command += ["-l", lifetime]
        command.append(self.principal)
        return subprocess.run(command, input=(password if password is not None else self.password) + "\n",
                              capture_output=True, text=True, env=dict(os.environ, **self.environment(cache)),
                              timeout=KDC_START_SECONDS, check=False)

    def ticket_valid(self, cache: str) -> bool:
        """Whether ``cache`` holds a ticket that has not expired (``klist -s``)."""
        return subprocess.run([_program("klist"), "-s", "-c", "FILE:%s" % cache],
                              env=dict(os.environ, **self.environment(cache)), check=False,
                              timeout=KDC_START_SECONDS).returncode == 0

    def service_ticket_refusal(self, cache: str, host: str) -> str | None:
        """Why the KDC gives no ticket for ``host``'s HTTP service to the user of ``cache`` (``kvno``'s error), or None
        when it gives one. ``cache`` is left as it is: kvno works on a copy, so no service ticket is stored."""
        probe = cache + ".probe"
        shutil.copyfile(cache, probe)
        try:
            completed = subprocess.run([_program("kvno"), "-c", "FILE:%s" % probe, "HTTP/%s" % service_host(host)],
                                       capture_output=True, text=True, env=dict(os.environ, **self.environment(probe)),
                                       timeout=KDC_START_SECONDS, check=False)
        finally:
            os.unlink(probe)
        return None if completed.returncode == 0 else (completed.stderr.strip() or "kvno exit %d" % completed.returncode)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            terminate(process, KDC_STOP_SECONDS)


def _run(command: list[str], environment: dict[str, str], stdin: str | None = None) -> None:
    completed = subprocess.run(command, input=stdin, capture_output=True, text=True, env=environment,
                               timeout=KDC_START_SECONDS, check=False)
    if completed.returncode != 0:
        raise KerberosSetupError("%s failed (rc=%s): %s%s"
                                 % (" ".join(command[:2]), completed.returncode, completed.stdout, completed.stderr))


def _create(directory: str, kdc_port: int, hosts: tuple[str, ...], clock_skew: int = CLOCK_SKEW_SECONDS) -> Realm:
    realm = Realm(directory=directory, kdc_port=kdc_port, password=secrets.token_urlsafe(18), hosts=hosts)
    with open(realm.krb5_config, "w", encoding="ascii") as handle:
        handle.write(krb5_conf(kdc_port, clock_skew))
    with open(realm.kdc_profile, "w", encoding="ascii") as handle:
        handle.write(kdc_conf(directory, kdc_port))
    with open(os.path.join(directory, "kadm5.acl"), "w", encoding="ascii") as handle:
        handle.write("")
    environment = dict(os.environ, **realm.environment())
    _run([_program("kdb5_util"), "create", "-s", "-r", REALM, "-P", secrets.token_urlsafe(18)], environment)
    kadmin = _program("kadmin.local")
    # One kadmin.local session for every principal and keytab: each start opens the database anew.
    # Pre-authentication required, as Active Directory does by default: a wrong password is refused by the KDC.
    queries = ["addprinc +requires_preauth -pw %s %s" % (realm.password, realm.principal)]
    for host in hosts + (OTHER_SERVICE_HOST,):
        queries += ["addprinc -randkey %s" % principal for principal in service_principals(host)]
    for host in hosts:
        queries += ["ktadd -norandkey -k %s %s" % (realm.keytab(host), principal) for principal in service_principals(host)]
    _run([kadmin, "-r", REALM], environment, stdin="\n".join(queries) + "\n")
    for host in hosts:
        if not os.path.exists(realm.keytab(host)):
            raise KerberosSetupError("kadmin.local wrote no keytab for %s" % host)
    return realm


def _start_kdc(realm: Realm) -> None:
    log = open(os.path.join(realm.directory, "krb5kdc.log"), "wb")
    try:
        realm._process = subprocess.Popen([_program("krb5kdc"), "-n", "-r", REALM], stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT,
                                          env=dict(os.environ, **realm.environment()))
    finally:
        log.close()
    deadline = time.monotonic() + KDC_START_SECONDS
    while True:
        if realm._process.poll() is not None:
            with open(os.path.join(realm.directory, "krb5kdc.log"), encoding="utf-8", errors="replace") as handle:
                raise KerberosSetupError("krb5kdc exited with code %s: %s" % (realm._process.returncode, handle.read()))
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", realm.kdc_port), timeout=1):
            return
        if time.monotonic() > deadline:
            raise KerberosSetupError("krb5kdc did not listen on 127.0.0.1:%d within %s s"
                                     % (realm.kdc_port, KDC_START_SECONDS))
        time.sleep(0.02)


@contextlib.contextmanager
def running_realm(directory, hosts=("hv01", "hv02"), clock_skew=CLOCK_SKEW_SECONDS):
    """Create the realm in ``directory`` (a fresh, empty directory), start its KDC, yield the :class:`Realm`, and
    always stop the KDC on exit. ``clock_skew``: seconds the KDC, its clients and the hosts tolerate, also past a
    ticket's end (a realm where a ticket expires for good within seconds has a small one)."""
    directory = os.fspath(directory)
    hosts = tuple(host.lower() for host in hosts)
    missing = missing_programs()
    if missing:
        raise KerberosSetupError("missing Kerberos programs %s: install Debian's krb5-kdc, krb5-admin-server and "
                                 "krb5-user (make kerberos)" % ", ".join(missing))
    attempt = 0
    while True:
        attempt += 1
        attempt_dir = os.path.join(directory, "realm-%d" % attempt)
        os.makedirs(attempt_dir)
        realm = _create(attempt_dir, _free_port(), hosts, clock_skew)
        try:
            _start_kdc(realm)
            break
        except KerberosSetupError:
            realm.stop()
            if attempt >= START_ATTEMPTS:
                raise
    try:
        yield realm
    finally:
        realm.stop()
