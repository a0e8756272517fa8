"""Fixtures that run `loupe up` for the end-to-end tests.

The binary comes from $LOUPE_BINARY (default <repo>/.build/debug/loupe). Every server
listens on 127.0.0.1 with port 0 and a fresh data directory; the fixtures always stop it
(SIGTERM, then SIGKILL after a timeout) and, unless a test killed it on purpose, assert
that it exited with code 0 on SIGTERM.

Run (from the repository root):
    python3 -m venv .venv-test && .venv-test/bin/pip install -r tests/integration/requirements.txt
    .venv-test/bin/pytest tests/integration -q

Environment: LOUPE_BINARY, LOUPE_STARTUP_TIMEOUT / LOUPE_SHUTDOWN_TIMEOUT / LOUPE_REQUEST_TIMEOUT
(seconds), LOUPE_CRASH_SEED (repeats the kill timings of test_crash.py).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loupe_testlib import LOUPE_BINARY, LoupeError, LoupeServer  # noqa: E402


def _check_binary() -> None:
    if not LOUPE_BINARY.exists():
        pytest.fail(f"loupe binary not found at {LOUPE_BINARY}; build it (swift build) or set LOUPE_BINARY", pytrace=False)
    try:
        result = subprocess.run([str(LOUPE_BINARY), "version"], capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`{LOUPE_BINARY} version` did not finish within 30s", pytrace=False)
    if result.returncode != 0:
        pytest.fail(f"`{LOUPE_BINARY} version` failed ({result.returncode}): {result.stderr.decode(errors='replace')}",
                    pytrace=False)


class LoupeFactory:
    """Starts servers on demand and stops all of them at teardown."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.servers: list[LoupeServer] = []
        self.count = 0

    def new(self, *, data_dir: Path | None = None, retention: str = "0", config: str | None = None,
            log_level: str = "debug", extra_args: tuple[str, ...] = (), start: bool = True) -> LoupeServer:
        """A server on its own data directory (or `data_dir`), optionally with a YAML config text."""
        self.count += 1
        root = self.base / f"loupe{self.count}"
        root.mkdir(parents=True, exist_ok=True)
        config_file = None
        if config is not None:
            config_file = root / "loupe.yaml"
            config_file.write_text(config)
        server = LoupeServer(
            data_dir=data_dir or (root / "data"), log_dir=root / "logs", retention=retention,
            config_file=config_file, log_level=log_level, extra_args=extra_args)
        self.servers.append(server)
        if start:
            server.start()
        return server

    def close(self) -> None:
        failures = []
        for server in self.servers:
            if server.proc is None:
                continue
            if server.proc.poll() is None:
                try:
                    server.terminate(expect_clean=True)
                except LoupeError as error:
                    failures.append(str(error))
            elif not server.stop_requested:
                failures.append(f"loupe exited by itself (code {server.proc.returncode}) during the test\n"
                                f"{server.stderr_tail()}")
        if failures:
            pytest.fail("loupe did not stop cleanly (SIGTERM -> exit code 0) or died during the test:\n"
                        + "\n\n".join(failures), pytrace=False)


@pytest.fixture(scope="session")
def loupe_binary() -> Path:
    _check_binary()
    return LOUPE_BINARY


@pytest.fixture
def loupe_factory(loupe_binary, tmp_path):
    factory = LoupeFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def loupe(loupe_factory) -> LoupeServer:
    """A running `loupe up` with retention 0 (keep everything) and default limits."""
    return loupe_factory.new()


@pytest.fixture(scope="module")
def module_loupe_factory(loupe_binary, tmp_path_factory):
    factory = LoupeFactory(tmp_path_factory.mktemp("loupe-module"))
    try:
        yield factory
    finally:
        factory.close()
