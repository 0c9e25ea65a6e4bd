"""Authentication, MS-WSMV message encryption and TLS for the simulated WinRM endpoint.

Three transports, as a Windows host offers them to pywinrm (and so to Ansible's ``winrm``
connection) and pypsrp (``psrp``):

* ``basic``: every request carries ``Authorization: Basic ...``.
* ``ntlm``: a pyspnego NTLM acceptor. NTLM authenticates the TCP connection, not a request,
  so the state lives in one :class:`NTLMConnectionAuth` per connection. After the handshake
  the client either sends plain SOAP (https) or MS-WSMV ``multipart/encrypted`` bodies
  sealed with the NTLM session keys (http, the Windows default).
* ``kerberos``: a GSSAPI acceptor (pyspnego on python-gssapi, MIT Kerberos) with the host's keytab,
  as a domain-joined host whose domain has turned NTLM off: ``Negotiate`` carrying a Kerberos
  token (raw, as pywinrm's pykerberos sends it, or SPNEGO-wrapped, as pypsrp sends it) is
  accepted, an NTLM token is not. Like NTLM it authenticates the connection; the acceptor's
  answer (the AP-REP) goes back on the 200 for the client's mutual authentication, and the
  same ``multipart/encrypted`` bodies are sealed with GSS wrap tokens (``wrap_winrm``).
* ``certificate`` (https only): the client's TLS certificate, issued by the CA the host trusts
  for client certificates, with the Client Authentication EKU and a user principal name
  (``otherName`` UPN in its subjectAltName) that a certificate mapping of the host names, and
  the request header ``Authorization: http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual``
  (what pywinrm and pypsrp send). The TLS layer checks the chain; :class:`CertificateAuthenticator`
  the mapping. No message encryption: TLS protects the traffic.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hmac
import ipaddress
import os
import re
import ssl
import struct
import threading
from dataclasses import dataclass, field

import spnego
import spnego.exceptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
ENCRYPTED_CONTENT_TYPE = 'multipart/encrypted;protocol="%s";boundary="Encrypted Boundary"' % ENCRYPTED_PROTOCOL
_BOUNDARY = b"--Encrypted Boundary"
_OCTET_STREAM_HEADER = b"\tContent-Type: application/octet-stream\r\n"
_END_BOUNDARY = _BOUNDARY + b"--\r\n"
_NTLM_SIGNATURE = b"NTLMSSP\x00"
_NTLM_NEGOTIATE, _NTLM_AUTHENTICATE = 1, 3

# pyspnego's NTLM acceptor reads its credential store from the *process-wide* environment
# variable NTLM_USER_FILE, both when a context is created and when it checks the
# Authenticate message. Several servers may live in one process (tests), each with its
# own user file, so every acceptor call runs under this lock with the variable pointing
# at the calling server's file.
_NTLM_ENV_LOCK = threading.Lock()
# Likewise MIT Kerberos finds the acceptor's keys through the process-wide KRB5_KTNAME when a context
# accepts its first token.
_KERBEROS_ENV_LOCK = threading.Lock()


class EncryptionError(Exception):
    """An encrypted body that cannot be parsed or unsealed (Windows answers HTTP 400)."""


@dataclass
class AuthOutcome:
    """What the HTTP layer does with a request after the authentication check.

    ``accepted`` requests are processed; the others are answered with ``status`` and
    ``headers`` and an empty body. ``context`` is the established NTLM or Kerberos context of
    the connection (None for basic), used for message encryption. An accepted request's
    ``headers`` go on its response (Kerberos' mutual authentication token).
    """

    accepted: bool
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    context: spnego.ContextProxy | None = None


@contextlib.contextmanager
def _environment_variable(lock: threading.Lock, name: str, value: str):
    """Hold the process-wide environment variable ``name`` at ``value`` (restored afterwards) under ``lock``."""
    with lock:
        previous = os.environ.get(name)
        os.environ[name] = value
        try:
            yield
        finally:
            if previous is None:
                del os.environ[name]
            else:
                os.environ[name] = previous


# WS-Management's name for TLS client certificate authentication, sent as the Authorization header (DSP0226).
CERTIFICATE_AUTHORIZATION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"
# The subjectAltName otherName a Windows client certificate carries its user principal name in (szOID_NT_PRINCIPAL_NAME).
UPN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.311.20.2.3")


class CertificateAuthenticator:
    """Client certificate authentication, as WinRM's certificate mapping (``WSMan:\\localhost\\ClientCertificate``)
    does it: the certificate's UPN must be the mapped user's, and it must be meant for client authentication. Its
    chain is checked by TLS against ``client_ca`` (the mapping's issuer) before any request arrives."""

    challenge_headers: list[tuple[str, str]] = []

    def __init__(self, user: str, client_ca: str):
        if not os.path.isfile(client_ca):
            raise ValueError("the client CA file %s does not exist" % client_ca)
        self.user = user
        self.client_ca = client_ca

    def new_connection(self, peer_certificate: bytes | None = None) -> CertificateConnectionAuth:
        return CertificateConnectionAuth(self, peer_certificate)

    def refusal(self, peer_certificate: bytes | None) -> str | None:
        """Why the certificate does not log on the mapped user (None when it does)."""
        if not peer_certificate:
            return "no client certificate"
        certificate = x509.load_der_x509_certificate(peer_certificate)
        try:
            usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            usages = []
        if x509.ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
            return "the certificate is not meant for client authentication"
        try:
            names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return "the certificate names no user principal"
        upns = [_decode_utf8_string(name.value) for name in names.get_values_for_type(x509.OtherName)
                if name.type_id == UPN_OID]
        if not any(upn.lower() == self.user.lower() for upn in upns):
            return "no certificate mapping for %s" % (", ".join(upns) or "a certificate without a UPN")
        return None


def _decode_utf8_string(der: bytes) -> str:
    """The text of a DER UTF8String (tag 12), as a UPN otherName holds it."""
    if len(der) < 2 or der[0] != 12:
        return ""
    length, offset = der[1], 2
    if length & 0x80:
        size = length & 0x7F
        length, offset = int.from_bytes(der[2:2 + size], "big"), 2 + size
    return der[offset:offset + length].decode("utf-8", "replace")


class CertificateConnectionAuth:
    """The certificate is the TLS connection's, so one check per connection; every request must still say that it
    uses it (the Authorization header), as Windows requires."""

    def __init__(self, authenticator: CertificateAuthenticator, peer_certificate: bytes | None):
        self.refusal = authenticator.refusal(peer_certificate)

    def check(self, authorization: str | None) -> AuthOutcome:
        if self.refusal is None and (authorization or "").strip() == CERTIFICATE_AUTHORIZATION:
            return AuthOutcome(accepted=True)
        return AuthOutcome(accepted=False, status=401)


def create_client_certificate(directory: str, name: str, upn: str, ca: tuple | None = None,
                              client_auth: bool = True) -> tuple[str, str, tuple]:
    """A client certificate for ``upn`` (files ``<name>.pem`` and ``<name>.key`` in ``directory``), issued by ``ca``
    (``(certificate, key)`` from an earlier call) or by a new CA written to ``<name>-ca.pem``. Returns the
    certificate's and key's paths and the CA."""
    now = datetime.datetime.now(datetime.timezone.utc)
    if ca is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hyperv-sim client CA %s" % name)])
        ca_certificate = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
        with open(os.path.join(directory, "%s-ca.pem" % name), "wb") as handle:
            handle.write(ca_certificate.public_bytes(serialization.Encoding.PEM))
        ca = (ca_certificate, ca_key)
    ca_certificate, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    utf8 = upn.encode("utf-8")
    upn_der = bytes([12, len(utf8)]) + utf8  # a short UTF8String: the UPNs here are under 128 bytes
    usages = [x509.ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else [x509.ExtendedKeyUsageOID.SERVER_AUTH]
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, upn.split("@")[0])]))
        .issuer_name(ca_certificate.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.OtherName(UPN_OID, upn_der)]), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = _write_pem(certificate, key, os.path.join(directory, "%s.pem" % name),
                                     os.path.join(directory, "%s.key" % name))
    return cert_path, key_path, ca


def _write_pem(certificate, key, cert_path: str, key_path: str) -> tuple[str, str]:
    """Write a certificate and its private key (readable by the owner only) as PEM; returns both paths."""
    with open(cert_path, "wb") as handle:
        handle.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    return cert_path, key_path


class BasicAuthenticator:
    """HTTP Basic: every request must carry the configured user and password."""

    challenge_headers = [("WWW-Authenticate", 'Basic realm="WSMAN"')]

    def __init__(self, user: str, password: str):
        self._user = user
        self._password = password

    def new_connection(self, peer_certificate: bytes | None = None) -> BasicConnectionAuth:
        return BasicConnectionAuth(self)

    def credentials_match(self, user: str, password: str) -> bool:
        # Windows user names are case-insensitive, passwords are not.
        user_ok = hmac.compare_digest(user.lower().encode(), self._user.lower().encode())
        password_ok = hmac.compare_digest(password.encode(), self._password.encode())
        return user_ok and password_ok


class BasicConnectionAuth:
    """Basic has no connection state; each request is checked on its own."""

    def __init__(self, authenticator: BasicAuthenticator):
        self._authenticator = authenticator

    def check(self, authorization: str | None) -> AuthOutcome:
        scheme, _, value = (authorization or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
            except ValueError:
                user, password = "", ""
            if self._authenticator.credentials_match(user, password):
                return AuthOutcome(accepted=True)
        return AuthOutcome(accepted=False, status=401, headers=list(BasicAuthenticator.challenge_headers))


class NTLMAuthenticator:
    """NTLM through pyspnego's acceptor, with the configured user in a private NTLM_USER_FILE.

    Channel binding tokens (sent by clients over https) are not checked: pyspnego's acceptor
    can only require them, while Windows by default (CbtHardeningLevel Relaxed) also accepts
    clients that send none (``ansible_winrm_send_cbt: false``).
    """

    challenge_headers = [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "NTLM")]

    def __init__(self, user: str, password: str, user_file: str):
        if any(character in user + password for character in ":\r\n"):
            # pyspnego silently skips credential lines that do not split into exactly 3 fields
            raise ValueError("for NTLM, the user name and password must not contain ':' or line breaks")
        self._user_file = user_file
        # A DOMAIN\user name arrives as domain and user; a bare name (or user@domain) with no domain.
        domain, _, name = user.rpartition("\\")
        with open(user_file, "w", encoding="utf-8") as handle:
            handle.write("%s:%s:%s\n" % (domain, name, password))
        os.chmod(user_file, 0o600)

    def new_connection(self, peer_certificate: bytes | None = None) -> NTLMConnectionAuth:
        return NTLMConnectionAuth(self)

    def acceptor_environment(self):
        """Hold the process-wide NTLM_USER_FILE pointing at this server's user file."""
        return _environment_variable(_NTLM_ENV_LOCK, "NTLM_USER_FILE", self._user_file)

    def new_context(self) -> spnego.ContextProxy:
        with self.acceptor_environment():
            return spnego.server(protocol="ntlm", service="http", options=spnego.NegotiateOptions.use_ntlm)


class NTLMConnectionAuth:
    """NTLM state of one TCP connection: Negotiate -> 401 Challenge -> Authenticate -> established.

    Requests without an Authorization header are accepted once the connection is
    established (that is how requests-ntlm and Windows behave); a new Negotiate message
    restarts the handshake on the same connection.
    """

    def __init__(self, authenticator: NTLMAuthenticator):
        self._authenticator = authenticator
        self._pending: spnego.ContextProxy | None = None
        self._established: spnego.ContextProxy | None = None

    def check(self, authorization: str | None) -> AuthOutcome:
        if not authorization:
            if self._established is not None:
                return AuthOutcome(accepted=True, context=self._established)
            return self._reject()

        scheme, _, value = authorization.partition(" ")
        if scheme.lower() not in ("negotiate", "ntlm"):
            return self._reject()
        try:
            token = base64.b64decode(value.strip(), validate=True)
        except ValueError:
            return self._reject()
        if not token.startswith(_NTLM_SIGNATURE) or len(token) < 12:
            return self._reject()
        message_type = struct.unpack("<I", token[8:12])[0]

        if message_type == _NTLM_NEGOTIATE:
            self._established = None
            self._pending = self._authenticator.new_context()
            try:
                with self._authenticator.acceptor_environment():
                    challenge = self._pending.step(token)
            except (spnego.exceptions.SpnegoError, ValueError, struct.error):
                return self._reject()
            return AuthOutcome(accepted=False, status=401,
                               headers=[("WWW-Authenticate", "%s %s" % (scheme, base64.b64encode(challenge).decode()))])

        if message_type == _NTLM_AUTHENTICATE and self._pending is not None:
            context, self._pending = self._pending, None
            try:
                with self._authenticator.acceptor_environment():
                    context.step(token)
            except (spnego.exceptions.SpnegoError, ValueError, struct.error):
                return self._reject()
            self._established = context
            return AuthOutcome(accepted=True, context=context)

        return self._reject()

    def _reject(self) -> AuthOutcome:
        self._pending = None
        self._established = None
        return AuthOutcome(accepted=False, status=401, headers=list(NTLMAuthenticator.challenge_headers))


class KerberosAuthenticator:
    """Kerberos through pyspnego's GSSAPI acceptor, with the keys of the host's service principal in ``keytab``.

    The acceptor takes any service principal whose key the keytab holds: a ticket for another service
    (``HTTP/other-host``) cannot be decrypted and is refused, as is an expired ticket (MIT's check, within
    the realm's clock skew). ``KRB5_CONFIG`` of the process names the realm.
    """

    challenge_headers = [("WWW-Authenticate", "Negotiate"), ("WWW-Authenticate", "Kerberos")]

    def __init__(self, keytab: str):
        if not os.path.isfile(keytab):
            raise ValueError("the keytab %s does not exist" % keytab)
        self._keytab = keytab

    def new_connection(self, peer_certificate: bytes | None = None) -> KerberosConnectionAuth:
        return KerberosConnectionAuth(self)

    def acceptor_environment(self):
        return _environment_variable(_KERBEROS_ENV_LOCK, "KRB5_KTNAME", "FILE:%s" % self._keytab)

    def new_context(self) -> spnego.ContextProxy:
        # pyspnego's Negotiate acceptor takes SPNEGO and raw Kerberos tokens, Kerberos through GSSAPI (MIT); a
        # context that ends up on NTLM is refused in check() (no NTLM user file exists for it anyway).
        return spnego.server(protocol="negotiate", service="HTTP")


class KerberosConnectionAuth:
    """Kerberos state of one TCP connection: one token (the AP-REQ) authenticates it; the acceptor's answer (the
    AP-REP) goes back on the response for the client's mutual authentication.

    Requests without an Authorization header are accepted once the connection is established (clients send the
    header on the first request only); a new token on the same connection starts again.
    """

    def __init__(self, authenticator: KerberosAuthenticator):
        self._authenticator = authenticator
        self._pending: spnego.ContextProxy | None = None
        self._established: spnego.ContextProxy | None = None
        self.refusal: str | None = None  # why the last token was refused (logged)

    def check(self, authorization: str | None) -> AuthOutcome:
        if not authorization:
            if self._established is not None:
                return AuthOutcome(accepted=True, context=self._established)
            return self._reject("no Kerberos token")
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() not in ("negotiate", "kerberos"):
            return self._reject("authentication scheme %s is not offered" % scheme)
        try:
            token = base64.b64decode(value.strip(), validate=True)
        except ValueError:
            return self._reject("the token is not base64")
        if not token or token.startswith(_NTLM_SIGNATURE):
            return self._reject("NTLM is not accepted by this host, only Kerberos")

        self._established = None
        context = self._pending or self._authenticator.new_context()
        self._pending = None
        try:
            with self._authenticator.acceptor_environment():
                answer = context.step(token)
        except Exception as error:  # pyspnego raises SpnegoError, and others for tokens it cannot parse
            return self._reject("the Kerberos token was refused: %s" % error)
        headers = [("WWW-Authenticate", "%s %s" % (scheme, base64.b64encode(answer).decode()))] if answer else []
        if not context.complete:
            self._pending = context
            return AuthOutcome(accepted=False, status=401, headers=headers)
        if context.negotiated_protocol != "kerberos":
            return self._reject("the client negotiated %s, not Kerberos" % context.negotiated_protocol)
        self._established = context
        return AuthOutcome(accepted=True, headers=headers, context=context)

    def _reject(self, reason: str) -> AuthOutcome:
        self.refusal = reason
        self._pending = None
        self._established = None
        return AuthOutcome(accepted=False, status=401, headers=list(KerberosAuthenticator.challenge_headers))


def is_encrypted(content_type: str | None) -> bool:
    return bool(content_type) and content_type.lower().startswith("multipart/encrypted")


def unwrap_request(context: spnego.ContextProxy, content_type: str, body: bytes) -> bytes:
    """Return the SOAP text of an MS-WSMV encrypted request body (the format pywinrm's
    winrm/encryption.py builds): a header part naming the original length and an
    ``application/octet-stream`` part holding ``<uint32 signature length><signature><sealed data>``.
    """
    if ENCRYPTED_PROTOCOL.lower() not in content_type.lower():
        raise EncryptionError("unsupported encryption protocol in Content-Type %r" % content_type)
    split_at = body.find(_OCTET_STREAM_HEADER)
    if split_at < 0:
        raise EncryptionError("encrypted body has no application/octet-stream part")
    length_match = re.search(rb"Length=(\d+)", body[:split_at])
    if not length_match:
        raise EncryptionError("encrypted body has no OriginalContent Length")
    payload = body[split_at + len(_OCTET_STREAM_HEADER):]
    if payload.endswith(_END_BOUNDARY):
        payload = payload[:-len(_END_BOUNDARY)]
    if len(payload) < 4:
        raise EncryptionError("encrypted payload is truncated")
    signature_length = struct.unpack("<I", payload[:4])[0]
    signature = payload[4:4 + signature_length]
    sealed = payload[4 + signature_length:]
    try:
        message = context.unwrap_winrm(signature, sealed)
    except spnego.exceptions.SpnegoError as error:
        raise EncryptionError("cannot unseal the message: %s" % error) from error
    if len(message) != int(length_match.group(1)):
        raise EncryptionError("unsealed length %d does not match OriginalContent Length %s"
                              % (len(message), length_match.group(1).decode()))
    return message


def wrap_response(context: spnego.ContextProxy, message: bytes) -> bytes:
    """Seal a SOAP response into the multipart body pywinrm's ``_decrypt_response`` parses."""
    wrapped = context.wrap_winrm(message)
    return (
        _BOUNDARY + b"\r\n"
        b"\tContent-Type: " + ENCRYPTED_PROTOCOL.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length=" + str(len(message)).encode() + b"\r\n"
        + _BOUNDARY + b"\r\n"
        + _OCTET_STREAM_HEADER
        + struct.pack("<I", len(wrapped.header)) + wrapped.header + wrapped.data
        + _END_BOUNDARY
    )


def create_self_signed_tls(directory: str, client_ca: str | None = None) -> ssl.SSLContext:
    """A server TLS context with a throw-away certificate for 127.0.0.1/localhost, written to ``directory``;
    ``client_ca``: ask clients for a certificate and accept those it issued (certificate authentication)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = _write_pem(certificate, key, os.path.join(directory, "cert.pem"),
                                     os.path.join(directory, "key.pem"))

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    if client_ca:
        # Optional at the TLS level, as on Windows: a connection without a certificate gets a 401 from the mapping.
        context.verify_mode = ssl.CERT_OPTIONAL
        context.load_verify_locations(cafile=client_ca)
    return context
