"""The Rasa backend's build and run: model cache key, training, and a loopback server launcher.

Rasa 3.6 needs Python 3.10 and old pins, so it lives in its own virtual environment
(``.rasa-venv``, made by ``make rasa``). This module runs in the project's environment and
drives that one through subprocesses: it finds a Python 3.10, names the trained model after a
content hash of what it was trained from, trains it when absent, and starts and stops
``rasa run --enable-api`` on loopback for tests, benchmarks and the CLI.

Usage example::

    layout = RasaLayout.for_repo(Path("."))
    model = train(layout)                       # no-op when the cached model exists
    with RasaServer(layout.rasa, model, token=secrets.token_urlsafe(16)) as server:
        classifier = RasaHttpIntentClassifier(server.url, server.token, timeout_s=2.0)
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

from nlu.errors import NLUBackendUnavailable

logger = logging.getLogger(__name__)

#: The Rasa release the backend is pinned to (also pinned in ``nlu/rasa/requirements.txt``).
RASA_VERSION = "3.6.21"

#: Environment for every Rasa subprocess: no telemetry, quieter TensorFlow.
_RASA_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONWARNINGS": "ignore",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
}

# Tried in this order. A pyenv shim named python3.10 exists but fails when 3.10 is not the
# selected version, so every candidate is run, not just looked up.
_PYTHON310_GLOBS = (
    "{pyenv_root}/versions/3.10*/bin/python3.10",
    "{home}/.pyenv/versions/3.10*/bin/python3.10",
    "/usr/bin/python3.10",
    "/usr/local/bin/python3.10",
)


@dataclass(frozen=True, slots=True)
class RasaLayout:
    """Where the Rasa backend's files are.

    Attributes:
        venv: the Rasa virtual environment (Python 3.10).
        config: the Rasa pipeline configuration.
        requirements: the exact pins installed into ``venv``.
        data_dir: the folder whose ``*.yml`` files are the NLU training data.
        models_dir: where trained models are cached, one ``<fingerprint>.tar.gz`` each.
    """

    venv: Path
    config: Path
    requirements: Path
    data_dir: Path
    models_dir: Path

    @classmethod
    def for_repo(cls, root: Path, *, data_dir: Path | None = None) -> RasaLayout:
        """The layout ``mk/rasa.mk`` uses, relative to the repository root.

        Args:
            root: the repository root.
            data_dir: another training-data folder instead of ``nlu/data``.

        Returns:
            The layout.
        """
        return cls(
            venv=root / ".rasa-venv",
            config=root / "nlu" / "rasa" / "config.yml",
            requirements=root / "nlu" / "rasa" / "requirements.txt",
            data_dir=data_dir if data_dir is not None else root / "nlu" / "data",
            models_dir=root / "var" / "rasa" / "models",
        )

    @property
    def rasa(self) -> Path:
        """The ``rasa`` executable inside the venv."""
        return self.venv / "bin" / "rasa"

    def training_files(self) -> list[Path]:
        """The training files, sorted by name.

        Raises:
            FileNotFoundError: when ``data_dir`` holds no ``*.yml`` file.
        """
        files = sorted(self.data_dir.glob("*.yml"))
        if not files:
            raise FileNotFoundError(f"no *.yml training files in {self.data_dir}")
        return files

    def fingerprint(self) -> str:
        """A content hash of everything the model depends on.

        It covers the Rasa version, the pins, the pipeline config and each training file's
        name and bytes, so any change to them names a new model and triggers training.

        Returns:
            16 hexadecimal digits.

        Raises:
            FileNotFoundError: when the config, the pins or the training data are missing.
        """
        digest = hashlib.sha256(f"rasa=={RASA_VERSION}\0".encode())
        for label, path in (("config", self.config), ("requirements", self.requirements)):
            digest.update(f"{label}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
        for path in self.training_files():
            digest.update(f"data/{path.name}\0".encode())
            digest.update(path.read_bytes())
            digest.update(b"\0")
        return digest.hexdigest()[:16]

    def model_path(self) -> Path:
        """Where the model trained from the current files is (or will be) cached."""
        return self.models_dir / f"{self.fingerprint()}.tar.gz"


def find_python310() -> Path | None:
    """Find a working Python 3.10 interpreter.

    Tries ``python3.10`` on ``PATH``, then pyenv's version folders, then the usual system
    paths, and runs each candidate to make sure it works and is 3.10.

    Returns:
        The interpreter's real path, or None when there is no working Python 3.10.
    """
    candidates: list[str] = []
    on_path = shutil.which("python3.10")
    if on_path:
        candidates.append(on_path)
    pyenv_root = os.environ.get("PYENV_ROOT", "")
    pyenv = shutil.which("pyenv")
    if pyenv:
        done = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
            [pyenv, "root"], capture_output=True, text=True, timeout=30, check=False
        )
        if done.returncode == 0:
            pyenv_root = done.stdout.strip()
    for pattern in _PYTHON310_GLOBS:
        path = pattern.format(pyenv_root=pyenv_root or "/nonexistent", home=Path.home())
        candidates.extend(sorted(str(p) for p in Path("/").glob(path.lstrip("/"))))
    for candidate in candidates:
        found = _python310_at(candidate)
        if found is not None:
            return found
    return None


def _python310_at(candidate: str) -> Path | None:
    probe = "import sys; assert sys.version_info[:2] == (3, 10); print(sys.executable)"
    try:
        done = subprocess.run(  # noqa: S603 (a found interpreter, no shell)
            [candidate, "-c", probe], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    if done.returncode != 0 or not done.stdout.strip():
        return None
    return Path(done.stdout.strip())


def _rasa_env() -> dict[str, str]:
    # The project's own PYTHONPATH/PYTHONHOME must not leak into Python 3.10.
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME"}}
    env.update(_RASA_ENV)
    return env


def train(layout: RasaLayout, *, log_path: Path | None = None) -> Path:
    """Train the NLU model into the cache unless it is already there.

    Training runs in a private staging folder (a copy of the ``*.yml`` files, so nothing
    else in ``data_dir`` is read, and Rasa's ``.rasa/`` cache stays out of the repository)
    and the finished model is moved into place atomically, so an interrupted run never
    leaves a model that looks complete.

    Args:
        layout: where the venv, config, data and cache are.
        log_path: where Rasa's training output goes; ``<models_dir>/train.log`` by default.

    Returns:
        The path of the trained model.

    Raises:
        FileNotFoundError: when the venv has no ``rasa`` or the inputs are missing.
        RuntimeError: when ``rasa train`` fails; the message holds the log's last lines.
    """
    model = layout.model_path()
    if model.is_file():
        return model
    if not layout.rasa.is_file():
        raise FileNotFoundError(f"{layout.rasa} does not exist: run `make rasa` first")
    layout.models_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_path if log_path is not None else layout.models_dir / "train.log"
    with tempfile.TemporaryDirectory(prefix=".train-", dir=layout.models_dir) as tmp:
        staging = Path(tmp).absolute()
        data = staging / "data"
        data.mkdir()
        for path in layout.training_files():
            shutil.copy2(path, data / path.name)
        command = [
            str(layout.rasa.absolute()), "train", "nlu",
            "--nlu", str(data),
            "--config", str(layout.config.resolve()),
            "--out", str(staging / "out"),
            "--fixed-model-name", model.name.removesuffix(".tar.gz"),
        ]  # fmt: skip
        with log_path.open("wb") as log:
            done = subprocess.run(  # noqa: S603 (our own venv's rasa, no shell)
                command, cwd=staging, env=_rasa_env(), stdout=log, stderr=subprocess.STDOUT,
                check=False,
            )  # fmt: skip
        built = staging / "out" / model.name
        if done.returncode != 0 or not built.is_file():
            raise RuntimeError(
                f"rasa train nlu exited with {done.returncode} (log: {log_path}):\n"
                + _tail(log_path)
            )
        built.replace(model)
    _prune(layout.models_dir, keep=model)
    return model


def _prune(models_dir: Path, *, keep: Path, count: int = 3) -> None:
    """Delete all but the ``count`` newest cached models (one model is about 25 MB)."""
    models = sorted(models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in models[count:]:
        if old != keep:
            old.unlink(missing_ok=True)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    # tqdm draws its bars with carriage returns; keep only each line's last state.
    cleaned = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    return "\n".join(cleaned[-lines:])


def _loaded_model(status: httpx.Response) -> bool:
    try:
        body = status.json()
    except ValueError:
        return False
    return isinstance(body, dict) and bool(body.get("model_file"))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def process_rss_bytes(pid: int) -> int:
    """The resident set size of a running process, read from ``/proc`` (Linux).

    Args:
        pid: the process id.

    Returns:
        Its RSS in bytes.

    Raises:
        ProcessLookupError: when the process does not exist.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except FileNotFoundError:
        raise ProcessLookupError(f"no process with pid {pid}") from None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise ProcessLookupError(f"process {pid} has no VmRSS (a zombie?)")


class RasaServer:
    """A ``rasa run --enable-api`` subprocess serving one model on loopback.

    Usage example::

        with RasaServer(layout.rasa, model, token="s3cret") as server:
            httpx.post(f"{server.url}/model/parse", params={"token": "s3cret"},
                       json={"text": "hello"})
            print(server.rss_bytes())
    """

    def __init__(
        self,
        rasa: Path,
        model: Path,
        *,
        token: str,
        host: str = "127.0.0.1",
        port: int | None = None,
        startup_timeout_s: float = 180.0,
        log_path: Path | None = None,
    ) -> None:
        """Describe the server; nothing starts until :meth:`start`.

        Args:
            rasa: the ``rasa`` executable in the Rasa venv.
            model: the trained model (``.tar.gz``).
            token: the ``--auth-token`` every request must carry.
            host: the address to listen on.
            port: the port; a free one when None.
            startup_timeout_s: how long to wait for ``/status`` to answer with the model.
            log_path: where the server's output goes; a temporary file when None.

        Raises:
            FileNotFoundError: when ``rasa`` or ``model`` does not exist.
            ValueError: when the token is empty or the timeout is not positive.
        """
        if not rasa.is_file():
            raise FileNotFoundError(f"{rasa} does not exist: run `make rasa` first")
        if not model.is_file():
            raise FileNotFoundError(f"model {model} does not exist: run `make rasa` first")
        if not token:
            raise ValueError("token must not be empty: the Rasa API would be open to anyone")
        if startup_timeout_s <= 0:
            raise ValueError(f"startup_timeout_s must be positive, got {startup_timeout_s!r}")
        self.rasa = rasa.absolute()
        self.model = model.absolute()
        self.token = token
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.startup_timeout_s = startup_timeout_s
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL, without the token."""
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """The server process id.

        Raises:
            RuntimeError: when the server is not running.
        """
        if self._process is None:
            raise RuntimeError("the Rasa server is not running")
        return self._process.pid

    def start(self) -> None:
        """Start the server and wait until it answers ``/status`` with the model loaded.

        Raises:
            RuntimeError: when it is already running.
            NLUBackendUnavailable: when it exits, or does not answer in time (it is stopped
                then); the message holds the last lines of its output.
        """
        if self._process is not None:
            raise RuntimeError(f"the Rasa server at {self.url} is already running")
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("wb")
        else:
            self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed by stop())
        command = [
            str(self.rasa), "run", "--enable-api",
            # One argument, so a token that starts with "-" (token_urlsafe makes them) is not
            # read as an option.
            f"--auth-token={self.token}",
            "-i", self.host, "-p", str(self.port),
            "--model", str(self.model.resolve()),
        ]  # fmt: skip
        started = time.monotonic()
        # cwd: a folder of its own, so no stray endpoints.yml/credentials.yml is picked up.
        self._process = subprocess.Popen(  # noqa: S603 (our own venv's rasa, no shell)
            command, cwd=self.model.resolve().parent, env=_rasa_env(),
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            self._wait_ready(started + self.startup_timeout_s)
        except BaseException:
            self.stop()
            raise
        logger.info(
            "rasa server ready at %s (pid %d) after %.1f s",
            self.url, self.pid, time.monotonic() - started,
        )  # fmt: skip

    def _wait_ready(self, deadline: float) -> None:
        assert self._process is not None
        with httpx.Client(timeout=2.0, trust_env=False) as client:
            while True:
                code = self._process.poll()
                if code is not None:
                    raise NLUBackendUnavailable(
                        f"the Rasa server exited with {code} while starting:\n{self._log_tail()}"
                    )
                try:
                    answer = client.get(f"{self.url}/status", params={"token": self.token})
                except httpx.TransportError:
                    answer = None
                if answer is not None and answer.status_code == httpx.codes.OK:
                    if _loaded_model(answer):
                        return
                    raise NLUBackendUnavailable(
                        f"the Rasa server at {self.url} started without a model "
                        f"(could not load {self.model}):\n{self._log_tail()}"
                    )
                if time.monotonic() > deadline:
                    raise NLUBackendUnavailable(
                        f"the Rasa server at {self.url} did not answer /status within "
                        f"{self.startup_timeout_s} s:\n{self._log_tail()}"
                    )
                time.sleep(0.25)

    def _log_tail(self) -> str:  # the output of startup only: no message text yet
        if self.log_path is not None:
            return _tail(self.log_path)
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        text = self._log.read().decode("utf-8", errors="replace")
        return "\n".join(line.rsplit("\r", 1)[-1] for line in text.split("\n")[-30:])

    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    def rss_bytes(self) -> int:
        """The server process's resident set size in bytes (for benchmarks)."""
        return process_rss_bytes(self.pid)

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL after ``timeout_s``. Safe to call twice."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("rasa server pid %d ignored SIGTERM; killing it", process.pid)
                process.kill()
                process.wait(timeout=timeout_s)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        """Start the server."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line for ``mk/rasa.mk``: ``find-python``, ``model-path``, ``train``, ``serve``.

    Args:
        argv: the arguments (``sys.argv[1:]`` when None).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(prog="python -m nlu.rasa_server", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("find-python", help="print a working Python 3.10")
    for name, text in (
        ("model-path", "print where the model for the current data is cached"),
        ("train", "train the model unless it is cached; print its path"),
        ("serve", "serve the cached model on loopback until interrupted"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--root", type=Path, default=Path())
        sub.add_argument("--venv", type=Path)
        sub.add_argument("--config", type=Path)
        sub.add_argument("--requirements", type=Path)
        sub.add_argument("--data-dir", type=Path)
        sub.add_argument("--models-dir", type=Path)
        if name == "serve":
            sub.add_argument("--port", type=int, default=5005)
    args = parser.parse_args(argv)

    if args.command == "find-python":
        python = find_python310()
        if python is None:
            _say(
                "no working python3.10: tried python3.10 on PATH, pyenv versions and "
                "/usr/bin, /usr/local/bin; install Python 3.10 or set RASA_PYTHON310"
            )
            return 1
        sys.stdout.write(f"{python}\n")
        return 0

    layout = RasaLayout.for_repo(args.root, data_dir=args.data_dir)
    layout = RasaLayout(
        venv=args.venv or layout.venv,
        config=args.config or layout.config,
        requirements=args.requirements or layout.requirements,
        data_dir=layout.data_dir,
        models_dir=args.models_dir or layout.models_dir,
    )
    try:
        model = layout.model_path()
    except FileNotFoundError as exc:
        _say(f"rasa: {exc}")
        return 1
    if args.command == "model-path":
        sys.stdout.write(f"{model}\n")
        return 0
    if args.command == "train":
        if model.is_file():
            _say(f"rasa: model up to date: {model}")
        else:
            started = time.monotonic()
            _say(f"rasa: training {model} from {layout.data_dir} (log: train.log) ...")
            try:
                train(layout)
            except (FileNotFoundError, RuntimeError) as exc:
                _say(f"rasa: {exc}")
                return 1
            size_mb = model.stat().st_size / 1e6
            _say(f"rasa: trained in {time.monotonic() - started:.0f} s ({size_mb:.1f} MB)")
        sys.stdout.write(f"{model}\n")
        return 0
    token = os.environ.get("RASA_AUTH_TOKEN", "")
    if not token:
        _say("set RASA_AUTH_TOKEN to the token clients will send")
        return 2
    with RasaServer(layout.rasa, model, token=token, port=args.port) as server:
        _say(f"rasa: serving {server.model.name} at {server.url} (Ctrl-C stops)")
        try:
            while server.running():
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


def _say(text: str) -> None:
    sys.stderr.write(f"{text}\n")


if __name__ == "__main__":
    raise SystemExit(main())
