"""Real TCP listeners for the webhook tests, each in a thread, recording what happens in order.

* ``Silent``: accepts connections, reads what is sent, never answers; notes when the client
  lets go (and how many connections it held at once);
* ``Trickle``: answers ``200 OK`` one byte at a time, slowly enough that the whole answer
  would take far longer than any deadline;
* ``Counting``: counts the connections it accepts and answers 204 (the one at a private
  address, which must stay at 0);
* ``closed_port``: a port on 127.0.0.1 where nothing listens (a receiver that is down).

``Timeline`` is the one ordered record of events several listeners share, so that a test can
say "the good receiver had its delivery before the silent one was let go" without any clock.
"""

from __future__ import annotations

import abc
import contextlib
import socket
import threading
import time


class Timeline:
    def __init__(self) -> None:
        self.events: list[str] = []
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)

    def add(self, event: str) -> None:
        with self.changed:
            self.events.append(event)
            self.changed.notify_all()

    def wait_for(self, event: str, timeout: float = 30) -> bool:
        """Block until ``event`` has happened (a safety net, not a measurement)."""
        with self.changed:
            return self.changed.wait_for(lambda: event in self.events, timeout)

    def index(self, event: str) -> int:
        with self._lock:
            return self.events.index(event)

    def __contains__(self, event: str) -> bool:
        with self._lock:
            return event in self.events


class _Listener(abc.ABC):
    """A listening socket on ``host`` and a thread accepting connections on it."""

    def __init__(self, name: str, timeline: Timeline | None, host: str, port: int) -> None:
        self.name = name
        self.timeline = timeline or Timeline()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(16)
        self.host, self.port = self.sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}/hook"
        self.accepted = 0
        self.open_now = 0
        self.most_open = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            with self._lock:
                self.accepted += 1
                number = self.accepted
                self.open_now += 1
                self.most_open = max(self.most_open, self.open_now)
            self.timeline.add(f"{self.name} accepted {number}")
            thread = threading.Thread(target=self._serve, args=(conn, number), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket, number: int) -> None:
        try:
            self.serve(conn, number)
        finally:
            with self._lock:
                self.open_now -= 1
            conn.close()

    @abc.abstractmethod
    def serve(self, conn: socket.socket, number: int) -> None:
        """Talk to one accepted connection (each kind of listener its own way)."""

    def close(self) -> None:
        self._stop.set()
        self._accepting.join(5)
        self.sock.close()
        for thread in self._threads:
            thread.join(5)


class Silent(_Listener):
    """Accepts, reads, never answers; records ``<name> let go <n>`` when the client closes.

    The read blocks (no polling), so the client's close is seen as soon as it arrives: before
    the client, which records its outcome in the database first, can open the next connection.
    """

    def __init__(self, timeline: Timeline | None = None, name: str = "silent") -> None:
        self._conns: list[socket.socket] = []
        super().__init__(name, timeline, "127.0.0.1", 0)

    def serve(self, conn: socket.socket, number: int) -> None:
        self._conns.append(conn)
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                if not self._stop.is_set():
                    self.timeline.add(f"{self.name} let go {number}")
                return

    def close(self) -> None:
        self._stop.set()
        for conn in self._conns:
            with contextlib.suppress(OSError):  # the client may have closed it already
                conn.shutdown(socket.SHUT_RDWR)
        super().close()


class Trickle(_Listener):
    """Answers a valid ``200 OK`` one byte every ``pause`` seconds (60 bytes, so ~15 s)."""

    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Padding: " + b"." * 20 + b"\r\n\r\n"

    def __init__(self, timeline: Timeline | None = None, pause: float = 0.25) -> None:
        self.pause = pause
        super().__init__("trickle", timeline, "127.0.0.1", 0)

    def serve(self, conn: socket.socket, number: int) -> None:
        conn.recv(65536)
        for byte in self.ANSWER:
            if self._stop.is_set():
                return
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                self.timeline.add(f"trickle cut off {number}")
                return
            time.sleep(self.pause)
        self.timeline.add(f"trickle finished {number}")


class Counting(_Listener):
    """Counts connections and answers 204: a receiver that must never be reached."""

    def __init__(self, host: str = "127.0.0.2", port: int = 0, name: str = "private") -> None:
        super().__init__(name, None, host, port)

    def serve(self, conn: socket.socket, number: int) -> None:
        conn.settimeout(2)
        # what counts is that the connection was made (``accepted``); the exchange may fail
        with contextlib.suppress(OSError):
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Answering:
    """An HTTP receiver that answers ``status`` (with ``headers``) to every POST and records
    ``<name> received`` on the timeline and each request in ``received``."""

    def __init__(
        self,
        timeline: Timeline | None = None,
        name: str = "good",
        status: int = 204,
        headers: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.timeline = timeline or Timeline()
        self.name, self.status, self.headers = name, status, headers or {}
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append({"headers": dict(self.headers), "body": body})
                receiver.timeline.add(f"{receiver.name} received")
                self.send_response(receiver.status)
                for key, value in receiver.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                """Quiet: the tests read the timeline, not http.server's log."""

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://{host}:{self.port}/hook"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def certificate_authority(tmp_path, name: str):
    """A throw-away CA (its PEM file) and a server certificate and key for ``name``, signed
    by it: ``(ca_file, cert_file, key_file)``."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)

    def build(subject, issuer, key, signer, *, ca: bool, san: str | None = None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = build("Kansa test CA", "Kansa test CA", ca_key, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build(name, "Kansa test CA", key, ca_key, ca=False, san=name)
    files = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return tuple(str(f) for f in files)


class Tls(Answering):
    """``Answering`` over TLS with the given certificate; records the SNI name it was asked."""

    def __init__(self, cert_file: str, key_file: str, **kwargs) -> None:
        import ssl

        super().__init__(**kwargs)
        self.server_names: list[str | None] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
