"""Local stand-ins for AWS, for tests and tools: DynamoDB Local and moto's server.

Both run as child processes on a free loopback port and are always stopped when the
``with`` block ends, including on KeyboardInterrupt::

    from tools.emulators import aws_env, dynamodb_local, moto_server

    with dynamodb_local() as ddb:
        client = boto3.client("dynamodb", endpoint_url=ddb.endpoint, region_name="us-east-1")

    with moto_server() as moto:
        os.environ.update(aws_env(moto.endpoint))
        (workdir / "emulator_provider.tf").write_text(provider_override_tf(moto.endpoint))

Only the standard library is used here (boto3 is not needed to start anything), so the
module can be imported by any interpreter. Where things are found:

- DynamoDB Local: ``$DYNAMODB_LOCAL_DIR`` (set by ``$ECS_STATE_CACHE/env.sh``), else the
  newest ``$ECS_STATE_CACHE/dynamodb-local/<version>/``; it holds ``DynamoDBLocal.jar`` and
  ``DynamoDBLocal_lib/`` (jars and the sqlite4java native library). Java 17 or newer
  from ``$JAVA_HOME/bin/java`` or PATH.
- moto: ``moto_server`` from ``$ECS_STATE_VENV/bin``, next to the running interpreter, or
  on PATH; failing those, ``python -m moto.server`` when moto is importable.

``tools/bootstrap.sh dynamodb-local`` and ``tools/bootstrap.sh venv`` install them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_REGION",
    "EMULATED_SERVICES",
    "Emulator",
    "EmulatorUnavailable",
    "aws_env",
    "cache_dir",
    "dynamodb_local",
    "find_dynamodb_local",
    "find_java",
    "moto_command",
    "moto_server",
    "pin_task_states",
    "provider_override_tf",
]

DEFAULT_REGION = "us-east-1"
DUMMY_ACCESS_KEY_ID = "testing"
DUMMY_SECRET_ACCESS_KEY = "testing"

# Services the module and its tests touch. Each entry: the terraform-provider-aws
# `endpoints` argument, and the service id used by the SDKs' AWS_ENDPOINT_URL_<ID>.
# sts, iam and ec2 are here although nothing is created in them: the provider calls
# them while configuring itself, and any left pointing at AWS waits on time-outs.
EMULATED_SERVICES: tuple[tuple[str, str], ...] = (
    ("dynamodb", "DYNAMODB"),
    ("iam", "IAM"),
    ("lambda", "LAMBDA"),
    ("events", "EVENTBRIDGE"),
    ("sqs", "SQS"),
    ("logs", "CLOUDWATCH_LOGS"),
    ("sts", "STS"),
    ("kms", "KMS"),
    ("ec2", "EC2"),
    ("cloudwatch", "CLOUDWATCH"),
    ("sns", "SNS"),
)
# Extra SDK-only service ids: DynamoDB Streams and the older name of EventBridge.
_EXTRA_SDK_SERVICE_IDS = ("DYNAMODB_STREAMS", "CLOUDWATCH_EVENTS")

_READY_TIMEOUT_S = 90.0
_STOP_TIMEOUT_S = 10.0
_START_ATTEMPTS = 3


class EmulatorUnavailable(RuntimeError):
    """An emulator cannot be started: something it needs is missing or it did not come up."""


@dataclass
class Emulator:
    """A running emulator. ``endpoint`` is what SDKs and the provider are pointed at."""

    name: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    command: Sequence[str] = field(default_factory=tuple)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self, region: str = DEFAULT_REGION) -> dict[str, str]:
        """Environment variables that send every AWS SDK and the provider here."""
        return aws_env(self.endpoint, region=region)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def reset(self) -> None:
        """Forget every resource (moto only: POST /moto-api/reset)."""
        if self.name != "moto":
            raise NotImplementedError(f"{self.name} has no reset; start a fresh one instead")
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass


def cache_dir() -> Path:
    """The tool cache root: $ECS_STATE_CACHE, else ~/.cache/ecs-state."""
    configured = os.environ.get("ECS_STATE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "ecs-state"


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name))


def find_dynamodb_local() -> Path:
    """The directory holding DynamoDBLocal.jar and DynamoDBLocal_lib/."""
    configured = os.environ.get("DYNAMODB_LOCAL_DIR")
    if configured:
        candidates = [Path(configured)]
    else:
        root = cache_dir() / "dynamodb-local"
        candidates = sorted(
            (p for p in root.glob("*") if p.is_dir()), key=_version_key, reverse=True
        )
    for directory in candidates:
        if (directory / "DynamoDBLocal.jar").is_file() and (
            directory / "DynamoDBLocal_lib"
        ).is_dir():
            return directory
    where = (
        f"DYNAMODB_LOCAL_DIR={configured}"
        if configured
        else f"{cache_dir() / 'dynamodb-local'}/<version>"
    )
    raise EmulatorUnavailable(
        f"DynamoDB Local is missing: no DynamoDBLocal.jar with DynamoDBLocal_lib/ in {where}. "
        "Run `tools/bootstrap.sh dynamodb-local` and source $ECS_STATE_CACHE/env.sh."
    )


def find_java() -> str:
    """A java executable: $JAVA_HOME/bin/java, else java on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("java")
    if found:
        return found
    raise EmulatorUnavailable(
        "java is missing: DynamoDB Local needs Java 17 or newer on PATH or in $JAVA_HOME "
        "(Debian: apt-get install openjdk-17-jre-headless)."
    )


def moto_command(host: str, port: int) -> list[str]:
    """The command line that starts moto's server on host:port."""
    candidates: list[Path] = []
    venv = os.environ.get("ECS_STATE_VENV")
    if venv:
        candidates.append(Path(venv) / "bin" / "moto_server")
    candidates.append(Path(sys.executable).parent / "moto_server")
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return [str(candidate), "-H", host, "-p", str(port)]
    on_path = shutil.which("moto_server")
    if on_path:
        return [on_path, "-H", host, "-p", str(port)]
    if importlib.util.find_spec("moto") is not None:
        return [sys.executable, "-m", "moto.server", "-H", host, "-p", str(port)]
    raise EmulatorUnavailable(
        "moto's server is missing: no moto_server in $ECS_STATE_VENV/bin, beside "
        f"{sys.executable} or on PATH, and moto is not importable. Run "
        "`tools/bootstrap.sh venv` (it installs moto[server]) and source $ECS_STATE_CACHE/env.sh."
    )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _answers_http(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP status means the server is up (DynamoDB Local answers 400)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    # The child leads its own process group (start_new_session), so this also reaches
    # anything it started, and a Ctrl-C on the terminal does not hit it before we do.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=_STOP_TIMEOUT_S)


def _start_once(
    name: str,
    command: list[str],
    host: str,
    port: int,
    log_path: Path,
    ready_path: str,
    ready_timeout: float,
    cwd: Path | None,
) -> tuple[Emulator, bool]:
    """Start one process; return it and whether it answers HTTP (False: it exited)."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,
        )
    emulator = Emulator(name, host, port, process, log_path, tuple(command))
    deadline = time.monotonic() + ready_timeout
    try:
        while process.poll() is None:
            if _answers_http(emulator.endpoint + ready_path):
                return emulator, True
            if time.monotonic() > deadline:
                _stop(process)
                raise EmulatorUnavailable(
                    f"{name} did not answer on {emulator.endpoint} within {ready_timeout:.0f} s."
                    f"\ncommand: {' '.join(command)}\nlast lines of {log_path}:\n"
                    f"{emulator.log_tail()}"
                )
            time.sleep(0.2)
    except BaseException:
        _stop(process)
        raise
    return emulator, False


@contextlib.contextmanager
def _run(
    name: str,
    build_command: Callable[[str, int], list[str]],
    *,
    host: str,
    port: int | None,
    ready_path: str,
    ready_timeout: float,
    cwd: Path | None = None,
) -> Iterator[Emulator]:
    log_dir = Path(tempfile.mkdtemp(prefix=f"ecs-state-{name}-"))
    log_path = log_dir / f"{name}.log"
    for attempt in range(1, _START_ATTEMPTS + 1):
        chosen_port = port or _free_port(host)
        command = build_command(host, chosen_port)
        emulator, ready = _start_once(
            name, command, host, chosen_port, log_path, ready_path, ready_timeout, cwd or log_dir
        )
        if ready:
            break
        # It exited by itself. The usual cause is a port taken between our probe and
        # its bind, so try another free port unless the caller fixed one.
        if port is not None or attempt == _START_ATTEMPTS:
            raise EmulatorUnavailable(
                f"{name} exited with code {emulator.process.returncode} before answering on "
                f"{emulator.endpoint}.\ncommand: {' '.join(command)}\n"
                f"last lines of {log_path}:\n{emulator.log_tail()}"
            )
    try:
        yield emulator
    finally:
        _stop(emulator.process)
        # Kept only when start-up failed: the error message points at the log.
        shutil.rmtree(log_dir, ignore_errors=True)


@contextlib.contextmanager
def dynamodb_local(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    ready_timeout: float = _READY_TIMEOUT_S,
    extra_args: Sequence[str] = (),
) -> Iterator[Emulator]:
    """Run DynamoDB Local in memory on a free loopback port for the ``with`` block."""
    directory = find_dynamodb_local()
    java = find_java()

    def command(bind_host: str, bind_port: int) -> list[str]:
        return [
            java,
            f"-Djava.library.path={directory / 'DynamoDBLocal_lib'}",
            "-jar",
            str(directory / "DynamoDBLocal.jar"),
            "-inMemory",
            "-disableTelemetry",
            "-port",
            str(bind_port),
            *extra_args,
        ]

    # DynamoDB Local binds every interface whatever we ask; only loopback is used here.
    # It writes dynamodb-local-metadata.json into its working directory, which _run
    # sets to the run's own temporary directory.
    with _run(
        "dynamodb-local",
        command,
        host=host,
        port=port,
        ready_path="/",
        ready_timeout=ready_timeout,
    ) as emulator:
        yield emulator


@contextlib.contextmanager
def moto_server(
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    ready_timeout: float = _READY_TIMEOUT_S,
) -> Iterator[Emulator]:
    """Run moto's server (every mocked service on one endpoint) for the ``with`` block."""
    moto_command(host, 0)  # fail early, with the message naming what is missing

    with _run(
        "moto",
        moto_command,
        host=host,
        port=port,
        ready_path="/moto-api/",
        ready_timeout=ready_timeout,
    ) as emulator:
        yield emulator


def aws_env(endpoint: str, *, region: str = DEFAULT_REGION) -> dict[str, str]:
    """Environment variables that point every AWS SDK and the provider at ``endpoint``.

    Merge them over os.environ for a child process. They set dummy credentials, the
    region, the global AWS_ENDPOINT_URL and one AWS_ENDPOINT_URL_<SERVICE> per emulated
    service, turn the EC2 instance-metadata look-up off and keep the caller's
    ~/.aws files out of the way. Remove AWS_PROFILE from the caller's environment too.
    """
    env = {
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_MAX_ATTEMPTS": "2",
        "AWS_RETRY_MODE": "standard",
    }
    for _, service_id in EMULATED_SERVICES:
        env[f"AWS_ENDPOINT_URL_{service_id}"] = endpoint
    for service_id in _EXTRA_SDK_SERVICE_IDS:
        env[f"AWS_ENDPOINT_URL_{service_id}"] = endpoint
    return env


def provider_override_tf(
    endpoint: str,
    *,
    region: str = DEFAULT_REGION,
    endpoints: Mapping[str, str] | None = None,
    request_account_id: bool = False,
    inline_endpoints: bool = True,
) -> str:
    """HCL text of a ``provider "aws"`` block that talks only to ``endpoint``.

    Write it as ``emulator_provider.tf`` into a root module that has no aws provider
    block of its own, or as ``emulator_override.tf`` to replace one (Terraform and
    OpenTofu refuse an override file whose block has no original to override).

    The credential, region and metadata look-ups are skipped. ``request_account_id``
    controls ``skip_requesting_account_id``: moto answers sts:GetCallerIdentity with
    account 123456789012, so True works too and lets ARNs built from the account id be
    known at plan time (see tools/README.md for the measured cost). ``endpoints``
    overrides single services, for example ``{"dynamodb": ddb.endpoint}``.

    ``inline_endpoints=False`` leaves the ``endpoints`` block out: the process running
    tofu must then carry ``aws_env(endpoint)``, which the provider reads as well. It is
    about twice as fast (measured: plan 5 s instead of 11 s), because any ``endpoints``
    block, even with one entry, makes every start of this 900 MB provider slow.
    """
    targets = {argument: endpoint for argument, _ in EMULATED_SERVICES}
    targets.update(endpoints or {})
    width = max(len(argument) for argument in targets)
    endpoint_lines = "\n".join(
        f'    {argument.ljust(width)} = "{url}"' for argument, url in sorted(targets.items())
    )
    skip_account = "false" if request_account_id else "true"
    endpoints_block = f"\n  endpoints {{\n{endpoint_lines}\n  }}\n" if inline_endpoints else ""
    return f"""# Generated by tools/emulators.py: every AWS call goes to a local emulator.
provider "aws" {{
  region     = "{region}"
  access_key = "{DUMMY_ACCESS_KEY_ID}"
  secret_key = "{DUMMY_SECRET_ACCESS_KEY}"

  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = {skip_account}
{endpoints_block}}}
"""


# moto's DescribeTasks moves a task one status on every read unless its state manager says
# otherwise; this many manual steps are never reached.
MOTO_TASK_STATES_PINNED = 10**9


def pin_task_states(endpoint: str) -> None:
    """Keep every moto task in the state it was put in, however often it is described."""
    body = json.dumps(
        {
            "model_name": "ecs::task",
            "transition": {"progression": "manual", "times": MOTO_TASK_STATES_PINNED},
        }
    ).encode()
    request = urllib.request.Request(
        f"{endpoint}/moto-api/state-manager/set-transition", data=body, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10):
        pass
