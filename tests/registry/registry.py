"""A release archive of this module and a module registry that serves it over HTTPS.

The registry speaks the module registry protocol exactly as far as `init` uses it:
service discovery, the versions list and the download endpoint answering 204 with
X-Terraform-Get. It is a test server of its own rather than an existing registry server:
the one maintained module registry that installs from a package registry here
(boring-registry, a Go module) keeps modules only in S3, GCS or Azure storage and hands
out presigned storage addresses, so it would bring a build of three cloud SDKs into the
cold test budget and moto's S3 into the path under test; the module registries on PyPI
run as AWS Lambda functions. Every request is recorded, so a test can say which version
was downloaded and which never was.

The server listens on 127.0.0.1 and source addresses name it `127.0.0.1:<port>`: both
CLIs refuse a module registry hostname without a dot, so `localhost:<port>` cannot be
one. Its certificate covers 127.0.0.1 and localhost and is signed by a CA made for the
session; the CLIs trust it through SSL_CERT_FILE (read by Go's TLS stack on Linux), so
nothing in the machine's trust store or in the CLI configuration changes.
"""

from __future__ import annotations

import datetime
import gzip
import io
import ipaddress
import json
import ssl
import subprocess
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# The public registry also discovers through this path; `modules.v1` is the only service
# a module source address needs.
DISCOVERY_PATH = "/.well-known/terraform.json"
MODULES_BASE = "/v1/modules/"
# Where the server keeps the archives; X-Terraform-Get points here.
ARCHIVES_BASE = "/archives/"
# System bundle the test CA is added to, so anything else the CLIs reach over TLS is
# trusted as before.
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def tracked_files(root: Path) -> list[str]:
    """The files a release holds: what git tracks, nothing ignored or left untracked."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True
    ).stdout
    return sorted(name for name in listed.decode().split("\0") if name)


def pack_release(root: Path, destination: Path) -> list[str]:
    """Write the tracked files, as they are in the working tree, to a .tar.gz archive.

    At a release tag the tree is clean, so this is the tag's content; before one it is what
    the tag would hold, which is why a file the module needs but git does not track makes
    the consumer fail here. A tracked file deleted in the working tree is left out, as the
    next commit would leave it. Metadata is fixed so the same files give the same bytes.
    """
    members = [name for name in tracked_files(root) if (root / name).is_file()]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in members:
            data = (root / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if (root / name).stat().st_mode & 0o111 else 0o644
            info.mtime = 0
            archive.addfile(info, io.BytesIO(data))
    destination.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    return members


@dataclass
class Certificates:
    ca_bundle: Path
    server_cert: Path
    server_key: Path


def make_certificates(directory: Path) -> Certificates:
    """A throwaway CA and a server certificate for localhost (and 127.0.0.1) signed by it."""
    now = datetime.datetime.now(datetime.UTC)
    validity = (now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ecs-state test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    system = SYSTEM_CA_BUNDLE.read_bytes() if SYSTEM_CA_BUNDLE.is_file() else b""
    certificates = Certificates(
        ca_bundle=directory / "ca-bundle.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server-key.pem",
    )
    certificates.ca_bundle.write_bytes(system + b"\n" + ca_cert.public_bytes(pem))
    certificates.server_cert.write_bytes(server_cert.public_bytes(pem))
    certificates.server_key.write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return certificates


@dataclass
class ModuleRegistry:
    """A running registry: `host` is what a source address starts with."""

    namespace: str
    name: str
    system: str
    versions: dict[str, Path]
    port: int = 0
    requests: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def source(self) -> str:
        return f"{self.host}/{self.namespace}/{self.name}/{self.system}"

    def downloads(self) -> list[str]:
        """Versions whose download endpoint was asked for, in order."""
        prefix = f"{MODULES_BASE}{self.namespace}/{self.name}/{self.system}/"
        return [
            path[len(prefix) :].split("/")[0]
            for path in self.requests
            if path.startswith(prefix) and path.endswith("/download")
        ]

    def archives_fetched(self) -> list[str]:
        return [
            path[len(ARCHIVES_BASE) :] for path in self.requests if path.startswith(ARCHIVES_BASE)
        ]


def _handler(registry: ModuleRegistry) -> type[BaseHTTPRequestHandler]:
    module_path = f"{MODULES_BASE}{registry.namespace}/{registry.name}/{registry.system}/"
    archives = {f"{version}.tar.gz": path for version, path in registry.versions.items()}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass  # the recorded requests say what a failing test needs

        def send(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
            self.send_response(status)
            for header, value in (headers or {}).items():
                self.send_header(header, value)
            if status != 204:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def send_json(self, document: dict) -> None:
            self.send(200, json.dumps(document).encode(), {"Content-Type": "application/json"})

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            registry.requests.append(path)
            if path == DISCOVERY_PATH:
                return self.send_json({"modules.v1": MODULES_BASE})
            if path == f"{module_path}versions":
                listed = [{"version": version} for version in registry.versions]
                return self.send_json({"modules": [{"versions": listed}]})
            if path.startswith(module_path) and path.endswith("/download"):
                version = path[len(module_path) : -len("/download")]
                if version in registry.versions:
                    # Relative to the download URL, as the protocol allows: the CLI resolves
                    # it against this request, so the archive is fetched over the same TLS.
                    location = f"{ARCHIVES_BASE}{version}.tar.gz"
                    return self.send(204, headers={"X-Terraform-Get": location})
            if path.startswith(ARCHIVES_BASE) and path[len(ARCHIVES_BASE) :] in archives:
                body = archives[path[len(ARCHIVES_BASE) :]].read_bytes()
                return self.send(200, body, {"Content-Type": "application/x-gzip"})
            return self.send(404, b'{"errors":["not found"]}', {"Content-Type": "application/json"})

    return Handler


class RegistryServer:
    """Runs a ModuleRegistry on 127.0.0.1 over TLS in a thread, for a `with` block."""

    def __init__(self, registry: ModuleRegistry, certificates: Certificates):
        self.registry = registry
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certificates.server_cert, certificates.server_key)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(registry))
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        registry.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ModuleRegistry:
        self.thread.start()
        return self.registry

    def __exit__(self, *exc_info) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
