"""WinRM certificate authentication over HTTPS: a client certificate the host maps to a local user, as shops that
avoid NTLM without a domain use it (``ansible_winrm_transport: certificate``, ``ansible_psrp_auth: certificate``).

The simulated host started with ``transport="certificate"`` asks TLS clients for a certificate, trusts only the CA
made for it, and logs on the user whose UPN a certificate of that CA with the Client Authentication EKU carries
(hyperv_sim.wsman_auth.CertificateAuthenticator); nothing else is accepted.
"""

from __future__ import annotations

import pytest
from hyperv_sim.wsman_auth import create_client_certificate

from test_transports import assert_ok

pytestmark = pytest.mark.integration

CERTIFICATE_VARIABLES = {"winrm": ("ansible_winrm_cert_pem", "ansible_winrm_cert_key_pem"),
                         "psrp": ("ansible_psrp_certificate_pem", "ansible_psrp_certificate_key_pem")}


def start_certificate_lab(start_lab, connection):
    return start_lab(vms=("web01", "db01"), connection=connection, transport="certificate", tls=True)


@pytest.mark.transports
@pytest.mark.parametrize("connection", ["winrm", "psrp"])
def test_every_module_with_a_client_certificate(start_lab, connection):
    lab = start_certificate_lab(start_lab, connection)
    lab.host.set_host(merge_seconds=0)
    assert_ok(lab.target("hyperv_checkpoint", "every_module.yml"))
    assert lab.host.checkpoints("web01") == [] and lab.host.consistency_problems() == []
    assert {entry["operation"] for entry in lab.host.requests()} >= {"create_checkpoint", "restore_checkpoint",
                                                                     "remove_checkpoints"}


# (certificate's user, issued by the host's client CA?, Client Authentication EKU?) -> what the failure says
REFUSALS = {
    "another user": ("someone-else@localhost", True, True),
    "not for client authentication": (None, True, False),
    "an untrusted CA": (None, False, True),
}


@pytest.mark.parametrize("connection", ["winrm", "psrp"])
def test_a_certificate_the_host_does_not_map_is_refused(start_lab, connection, tmp_path):
    """Another user's certificate and one without the Client Authentication EKU, both from the CA the host trusts, are
    refused by the mapping (401); the user's own name on a certificate of another CA, by TLS. Each is host_unreachable
    naming the host; nothing runs."""
    lab = start_certificate_lab(start_lab, connection)
    certificate, key = CERTIFICATE_VARIABLES[connection]
    for case, (user, trusted, client_auth) in REFUSALS.items():
        cert_path, key_path, dummy = create_client_certificate(
            str(tmp_path), case.replace(" ", "-"), user or lab.sim.user,
            ca=lab.sim.client_issuer if trusted else None, client_auth=client_auth)
        lab.host_vars = {certificate: cert_path, key: key_path}
        run = lab.target("hyperv_checkpoint", "info.yml", {"hyperv_test_vm2": "db01"})
        assert run.rc != 0 and "UNREACHABLE" not in run.stdout and "host_unreachable" in run.stdout, (case, run)
        assert "the Hyper-V host hv01 did not answer" in run.stdout, (case, run)
    assert lab.host.requests() == []  # nothing reached the runner
