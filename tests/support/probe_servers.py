"""Real local servers on 127.0.0.1 for the probe tests, friendly and hostile.

Each server runs on daemon threads, listens on an ephemeral port and is a
context manager that closes every socket on exit. Hostile behaviours: accept
and never answer, trickle bytes forever (slowloris), stream a body without
end, redirect in a loop, present a certificate that is expired, for another
host name, or from an unknown CA. Also a tiny DNS server (UDP and TCP) built
on dnspython. Certificates are made with ``cryptography`` at test time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

Handler = Callable[[socket.socket, threading.Event], None]


class TCPServer:
    """Accepts on 127.0.0.1 and runs ``handler(conn, stop)`` per connection on a thread."""

    def __init__(self, handler: Handler, *, tls: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.tls = tls
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port: int = self.listener.getsockname()[1]
        self.connections = 0
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/", *, host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def __enter__(self) -> TCPServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()
        self._thread.join(2)
        self.listener.close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.close()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn.settimeout(5)
                conn = self.tls.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._conns.append(conn)
            conn.settimeout(5)
            self.handler(conn, self.stop)
        except OSError:
            pass  # the probe hung up or the TLS handshake failed; both are expected
        finally:
            with contextlib.suppress(OSError):
                conn.close()


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# ------------------------------------------------------------ HTTP handlers


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def read_request(conn: socket.socket) -> Request:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ConnectionError("client closed before sending a request")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return Request(method, path, headers, body)


@dataclass
class Response:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False


def http_app(
    app: Callable[[Request], Response], seen: list[Request] | None = None
) -> Handler:
    """A handler that answers each request with ``app(request)`` and closes."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        request = read_request(conn)
        if seen is not None:
            seen.append(request)
        resp = app(request)
        head = [f"HTTP/1.1 {resp.status} X"]
        head += [f"{k}: {v}" for k, v in resp.headers.items()]
        if resp.chunked:
            head.append("Transfer-Encoding: chunked")
            mid = len(resp.body) // 2
            payload = b"".join(
                b"%x\r\n%s\r\n" % (len(part), part)
                for part in (resp.body[:mid], resp.body[mid:])
                if part
            ) + b"0\r\n\r\n"
        else:
            head.append(f"Content-Length: {len(resp.body)}")
            payload = b"" if request.method == "HEAD" else resp.body
        head.append("Connection: close")
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)

    return handle


def never_answer(conn: socket.socket, stop: threading.Event) -> None:
    """Accept, read whatever comes, never write a byte."""
    conn.settimeout(0.05)
    while not stop.is_set():
        try:
            if not conn.recv(65536):
                return
        except TimeoutError:
            continue


def slowloris(conn: socket.socket, stop: threading.Event) -> None:
    """Answer one byte every 50 ms, forever: headers that never end."""
    read_request(conn)
    stream = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: a\r\n" * 100_000
    for byte in stream:
        if stop.is_set():
            return
        conn.sendall(bytes((byte,)))
        time.sleep(0.05)


@dataclass
class EndlessBody:
    """Streams a body of ``size`` bytes (default 1 GiB); ``sent`` counts bytes over all requests."""

    size: int = 1 << 30
    framing: str = "close"  # "close" (no length), "chunked" or "length"
    sent: int = 0

    def __call__(self, conn: socket.socket, stop: threading.Event) -> None:
        read_request(conn)
        head = "HTTP/1.1 200 OK\r\nConnection: close\r\n"
        if self.framing == "length":
            head += f"Content-Length: {self.size}\r\n"
        elif self.framing == "chunked":
            head += "Transfer-Encoding: chunked\r\n"
        conn.sendall((head + "\r\n").encode())
        block = b"z" * 65536
        body_sent = 0
        while body_sent < self.size and not stop.is_set():
            piece = block[: self.size - body_sent]
            body_sent += len(piece)
            if self.framing == "chunked":
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            conn.sendall(piece)
            self.sent += len(piece)
        if self.framing == "chunked":
            conn.sendall(b"0\r\n\r\n")


def redirect_loop(request: Request) -> Response:
    """/a -> /b -> /a ..."""
    target = "/b" if request.path == "/a" else "/a"
    return Response(302, b"", {"Location": target})


def tcp_banner(banner: bytes, *, then: str = "close") -> Handler:
    """Send ``banner``, then "close", "hold" the connection open, or "echo" one read."""

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(banner)
        if then == "echo":
            conn.sendall(conn.recv(65536))
        elif then == "hold":
            never_answer(conn, stop)

    return handle


# --------------------------------------------------------------- TLS / PKI


@dataclass(frozen=True)
class PKI:
    """PEM files of a test CA and server certificates signed by it."""

    ca: Path
    valid_cert: Path  # localhost + 127.0.0.1, valid for 30 days
    expired_cert: Path  # localhost + 127.0.0.1, expired yesterday
    other_host_cert: Path  # only for other.example
    key: Path  # the one key all server certificates share
    valid_not_after: float  # epoch seconds
    expired_not_after: float

    def server_context(self, cert: Path) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, self.key)
        return ctx


def make_pki(directory: Path) -> PKI:
    """Generate a CA and three server certificates into ``directory``."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slo-exporter test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())

    def leaf(names: list[x509.GeneralName], start: dt.datetime, end: dt.datetime) -> bytes:
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test server")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM)

    local: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    valid_end = now + dt.timedelta(days=30)
    expired_end = now - dt.timedelta(days=1)
    files = {
        "ca.pem": ca_cert.public_bytes(serialization.Encoding.PEM),
        "valid.pem": leaf(local, now - dt.timedelta(days=1), valid_end),
        "expired.pem": leaf(local, now - dt.timedelta(days=10), expired_end),
        "other.pem": leaf([x509.DNSName("other.example")], now - dt.timedelta(days=1), valid_end),
        "key.pem": key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }
    for name, data in files.items():
        (directory / name).write_bytes(data)
    return PKI(
        ca=directory / "ca.pem",
        valid_cert=directory / "valid.pem",
        expired_cert=directory / "expired.pem",
        other_host_cert=directory / "other.pem",
        key=directory / "key.pem",
        valid_not_after=valid_end.timestamp(),
        expired_not_after=expired_end.timestamp(),
    )


# --------------------------------------------------------------------- DNS


class DNSServer:
    """Answers A/TXT/... from ``records``; NXDOMAIN for ``nxdomain``; silence for ``silent``.

    Serves UDP and TCP on the same port of 127.0.0.1.
    """

    def __init__(
        self,
        records: dict[tuple[str, str], list[str]],
        *,
        nxdomain: frozenset[str] = frozenset(),
        servfail: frozenset[str] = frozenset(),
        silent: frozenset[str] = frozenset(),
    ) -> None:
        self.records = {(_fqdn(name), rtype): values for (name, rtype), values in records.items()}
        self.nxdomain = {_fqdn(n) for n in nxdomain}
        self.servfail = {_fqdn(n) for n in servfail}
        self.silent = {_fqdn(n) for n in silent}
        self.stop = threading.Event()
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.05)
        self.tcp.settimeout(0.05)
        self.queries = 0
        self._threads = [
            threading.Thread(target=self._serve_udp, daemon=True),
            threading.Thread(target=self._serve_tcp, daemon=True),
        ]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> DNSServer:
        for t in self._threads:
            t.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop.set()
        for t in self._threads:
            t.join(2)
        self.udp.close()
        self.tcp.close()

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        self.queries += 1
        question = query.question[0]
        name = question.name.to_text()
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        if name in self.nxdomain:
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        else:
            rtype = dns.rdatatype.to_text(question.rdtype)
            values = self.records.get((name, rtype), [])
            if values:
                response.answer.append(dns.rrset.from_text(name, 300, "IN", rtype, *values))
        return response

    def _serve_udp(self) -> None:
        while not self.stop.is_set():
            try:
                wire, peer = self.udp.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            response = self.answer(dns.message.from_wire(wire))
            if response is not None:
                self.udp.sendto(response.to_wire(), peer)

    def _serve_tcp(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                query, _ = dns.query.receive_tcp(conn, time.time() + 2)
                response = self.answer(query)
                if response is not None:
                    dns.query.send_tcp(conn, response, time.time() + 2)


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


@contextlib.contextmanager
def serving(handler: Handler, *, tls: ssl.SSLContext | None = None) -> Iterator[TCPServer]:
    with TCPServer(handler, tls=tls) as server:
        yield server
