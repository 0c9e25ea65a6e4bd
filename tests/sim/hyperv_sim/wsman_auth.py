"""Authentication, MS-WSMV message encryption and TLS for the simulated WinRM endpoint.

Two transports, as a Windows host offers them to pywinrm (and so to Ansible's ``winrm``
connection):

* ``basic``: every request carries ``Authorization: Basic ...``.
* ``ntlm``: a pyspnego NTLM acceptor. NTLM authenticates the TCP connection, not a request,
  so the state lives in one :class:`NTLMConnectionAuth` per connection. After the handshake
  the client either sends plain SOAP (https) or MS-WSMV ``multipart/encrypted`` bodies
  sealed with the NTLM session keys (http, the Windows default).
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


class EncryptionError(Exception):
    """An encrypted body that cannot be parsed or unsealed (Windows answers HTTP 400)."""


@dataclass
class AuthOutcome:
    """What the HTTP layer does with a request after the authentication check.

    ``accepted`` requests are processed; the others are answered with ``status`` and
    ``headers`` and an empty body. ``context`` is the established NTLM context of the
    connection (None for basic), used for message encryption.
    """

    accepted: bool
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    context: spnego.ContextProxy | None = None


class BasicAuthenticator:
    """HTTP Basic: every request must carry the configured user and password."""

    challenge_headers = [("WWW-Authenticate", 'Basic realm="WSMAN"')]

    def __init__(self, user: str, password: str):
        self._user = user
        self._password = password

    def new_connection(self) -> BasicConnectionAuth:
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

    def new_connection(self) -> NTLMConnectionAuth:
        return NTLMConnectionAuth(self)

    @contextlib.contextmanager
    def acceptor_environment(self):
        """Hold the process-wide NTLM_USER_FILE pointing at this server's user file."""
        with _NTLM_ENV_LOCK:
            previous = os.environ.get("NTLM_USER_FILE")
            os.environ["NTLM_USER_FILE"] = self._user_file
            try:
                yield
            finally:
                if previous is None:
                    del os.environ["NTLM_USER_FILE"]
                else:
                    os.environ["NTLM_USER_FILE"] = previous

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


def create_self_signed_tls(directory: str) -> ssl.SSLContext:
    """A server TLS context with a throw-away certificate for 127.0.0.1/localhost, written to ``directory``."""
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
    cert_path = os.path.join(directory, "cert.pem")
    key_path = os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as handle:
        handle.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(key_path, 0o600)

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context
