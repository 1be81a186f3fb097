"""Fixtures for the browser tests: a throwaway JupyterLab server and a headless Debian Chromium.

Nothing here touches the repository except ``artifacts/browser/`` (git-ignored): the server
serves a temporary COPY of ``notebooks/``, with its own config, runtime, workspace and settings
directories, and ``LAB_ANSWERS`` points at a temporary file.

Without Chromium or Playwright the tests are skipped with the reason, unless the environment
variable ``CI`` is set: then they fail, so CI cannot pass by skipping them.
Install both with ``bash tests/browser/install.sh`` (never ``playwright install``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = ROOT / "notebooks"
ARTIFACTS = ROOT / "artifacts" / "browser"
CHROMIUM = Path(os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
SERVER_START_TIMEOUT = 120  # seconds

# JupyterLab user settings written into the temporary settings directory.
LAB_SETTINGS = {
    # No "Would you like to receive official Jupyter news?" toast, no update check, no toasts at all.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": True},
    # Every cell attached to the DOM, so the test sees every prompt and output (default:
    # "contentVisibility"; "full" would detach cells outside the viewport).
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}
# Page config from <config dir>/labconfig/page_config.json: no "Build recommended" dialog.
PAGE_CONFIG = {"buildCheck": False, "buildAvailable": False}


def missing_tools() -> str | None:
    """Why the browser tests cannot run here, or None when Chromium and Playwright are present."""
    problems = []
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        problems.append(f"no Chromium at {CHROMIUM}")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("the Python package 'playwright' is not installed")
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        problems.append("the Python package 'jupyterlab' is not installed")
    if not problems:
        return None
    return "; ".join(problems) + " (install them with: bash tests/browser/install.sh)"


def require_tools() -> None:
    """Skip (locally) or fail (when $CI is set) if the browser tests cannot run."""
    why = missing_tools()
    if why is None:
        return
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"browser test cannot run and CI is set, so this is a failure: {why}", pytrace=False)
    pytest.skip(f"browser test skipped: {why}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    url: str           # http://127.0.0.1:PORT
    token: str
    root_dir: Path     # the temporary copy of notebooks/
    log_path: Path
    process: subprocess.Popen

    def api(self, method: str, path: str, timeout: float = 10):
        """Call the server's REST API; returns the decoded JSON (or None for an empty answer)."""
        request = urllib.request.Request(self.url + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def lab_url(self, notebook: str) -> str:
        # `reset` starts from an empty workspace: no tab of an earlier test is restored.
        return f"{self.url}/lab/tree/{notebook}?reset&token={self.token}"

    def shutdown_kernels(self) -> None:
        """Stop every session and kernel (each notebook's kernel holds MNIST and torch in memory)."""
        try:
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{session['id']}")
            for kernel in self.api("GET", "/api/kernels"):
                self.api("DELETE", f"/api/kernels/{kernel['id']}")
        except (OSError, urllib.error.URLError, ValueError):
            pass

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and everything it started (kernels), whatever state it is in."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)  # its own process group: server and kernels
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=15)


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory) -> LabServer:
    """A JupyterLab server on a free loopback port, serving a temporary copy of notebooks/."""
    require_tools()
    base = tmp_path_factory.mktemp("jupyterlab")
    root_dir = base / "notebooks"
    root_dir.mkdir()
    for nb in sorted(NOTEBOOKS_DIR.glob("*.ipynb")):
        shutil.copy2(nb, root_dir / nb.name)
    dirs = {name: base / name for name in ("config", "runtime", "workspaces", "settings", "data")}
    for d in dirs.values():
        d.mkdir()
    (dirs["config"] / "labconfig").mkdir()
    (dirs["config"] / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
    for rel, value in LAB_SETTINGS.items():
        target = dirs["settings"] / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))

    token = os.urandom(24).hex()
    port = free_port()
    env = dict(os.environ)
    env.update({
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "IPYTHONDIR": str(base / "ipython"),
        "MPLCONFIGDIR": str(base / "matplotlib"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "LAB_ANSWERS": str(base / "answers.json"),    # not notebooks/answers.json
        "LAB_CACHE_DIR": str(base / "cache"),          # not notebooks/cache: every run trains for real
        "JUPYTER_DATA_DIR": str(dirs["data"]),  # no user-level kernelspec can replace python3
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    env.pop("JUPYTER_PATH", None)
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--allow-root",
        "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.news_url=None",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the test reads the notebook model
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--ServerApp.open_browser=False",
        "--ServerApp.terminals_enabled=False",
    ]
    log_path = base / "jupyterlab.log"
    log = open(log_path, "wb")
    process = subprocess.Popen(command, cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}", token, root_dir, log_path, process)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {process.returncode}:\n{server.log_tail()}")
            try:
                server.api("GET", "/api/status", timeout=2)
                with urllib.request.urlopen(f"{server.url}/lab?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s:\n"
                                   f"{server.log_tail()}")
            time.sleep(0.5)
        yield server
    finally:
        _stop(process)
        log.close()
        try:  # kept for CI: why the server or a kernel failed
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            shutil.copy2(log_path, ARTIFACTS / "jupyterlab.log")
        except OSError:
            pass


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    require_tools()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, lab_server):
    """A fresh browser context and page; every kernel is shut down afterwards."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.console_errors = []  # type: ignore[attr-defined]  (printed when a test fails)
    pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.console_errors.append(f"page error: {e}"))
    try:
        yield pg
    finally:
        context.close()
        lab_server.shutdown_kernels()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
