"""A wheel built from the repository is whole: installed into a fresh virtualenv, away from
the checkout, it migrates a database and serves the demo with its themes and catalogs."""

from __future__ import annotations

import html
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import typing as t
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from alembic.script import ScriptDirectory
from babel.messages.pofile import read_po

from app.migrate import MIGRATIONS

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths and signals")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def repository_copy(target: Path) -> Path:
    """The files a clone has (tracked, or new and not ignored): no .mo, no build/ leftovers."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    for name in filter(None, listed.decode().split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def run(*args: str | Path, cwd: Path, env: t.Mapping[str, str] = os.environ) -> str:
    done = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding only the wheel; the dependencies come from this one's site-packages
    (a ``.pth`` line: it does not run the ``.pth`` hooks of this one's editable install)."""
    base = tmp_path_factory.mktemp("wheel")
    source = repository_copy(base / "source")
    pip = [sys.executable, "-m", "pip"]
    run(*pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", base, ".", cwd=source)
    (wheel,) = base.glob("foyer-*.whl")
    venv = base / "venv"
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=base)
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=base)
    Path(purelib.strip(), "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run(*pip, "--python", python, "install", "--quiet", "--no-deps", wheel, cwd=base)
    return venv


def test_the_installed_wheel_migrates_and_serves_the_themed_translated_demo(venv, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOYER_")}
    env["FOYER_INSTANCE_PATH"] = str(tmp_path / "instance")
    python, foyer = venv / "bin" / "python", venv / "bin" / "foyer"
    where = run(python, "-c", "import app; print(app.__file__)", cwd=tmp_path, env=env)
    assert Path(where.strip()).is_relative_to(venv), where

    run(foyer, "db", "upgrade", cwd=tmp_path, env=env)
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert run(foyer, "db", "current", cwd=tmp_path, env=env).strip() == head

    port, rp_port = free_port(), free_port()
    demo = subprocess.Popen(
        [foyer, "demo", "--port", str(port), "--rp-port", str(rp_port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        http = requests.Session()
        wait_for(http, f"http://localhost:{port}/.well-known/openid-configuration", demo)
        home = wait_for(http, f"http://localhost:{rp_port}", demo)
        token = re.search(r'name="token" value="([^"]+)"', home.text)
        assert token, home.text
        # Acme's sign-in (the ember theme), asked for in French
        start = http.post(
            f"http://localhost:{rp_port}/login",
            data={"token": token[1], "organization": "acme"},
            allow_redirects=False,
            timeout=10,
        )
        login = http.get(start.headers["Location"] + "&ui_locales=fr", timeout=10)
        assert login.status_code == 200 and 'name="identifier"' in login.text, login.text
        assert html.escape(french("Sign in")) in login.text
        styles = re.findall(r'<link[^>]+rel="stylesheet"[^>]+href="([^"]+)"', login.text)
        assert any("ember" in href for href in styles), styles
        for href in styles:
            css = http.get(urljoin(login.url, html.unescape(href)), timeout=10)
            assert css.status_code == 200 and "text/css" in css.headers["Content-Type"], href
    finally:
        os.killpg(demo.pid, signal.SIGINT)  # Ctrl-C
        output = demo.communicate(timeout=30)[0].decode()
    assert "stopping the demo" in output, output


def wait_for(http: requests.Session, url: str, process: subprocess.Popen) -> requests.Response:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0].decode()
        try:
            response = http.get(url, timeout=5)
            if response.status_code == 200:
                return response
        except requests.RequestException:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} did not come up")


def french(message: str) -> str:
    """The French of a core message, as the repository's catalog has it."""
    with (ROOT / "translations" / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return str(read_po(fh)[message].string)
