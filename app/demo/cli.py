"""``foyer demo``: seed the demo tenant, then serve Foyer and the demo application.

Foyer runs under gunicorn on ``--port`` and the demo relying party (:mod:`app.demo.rp`)
under gunicorn on ``--rp-port``: two processes, two origins, two cookies. Both are reached
as ``http://localhost``; ``--host`` only changes the address they listen on. Ctrl-C stops
both.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import typing as t
import urllib.error
import urllib.request

import click

from app import create_app
from app.configfile.problems import ConfigInvalid
from app.demo.seed import DEMO_PASSWORD
from app.demo.seed import seed
from app.hookspecs import hookimpl
from app.preflight import startup_findings
from app.servers import gunicorn_argv
from app.servers import metrics_env

if t.TYPE_CHECKING:
    from flask import Flask

    from app.demo.seed import Demo

STARTUP_TIMEOUT = 30.0


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    cli.add_command(demo_command)


def demo_settings(instance_path: str) -> dict[str, t.Any]:
    """Settings for plain-http localhost (``create_app`` overrides)."""
    return {
        "instance_path": os.path.abspath(instance_path),
        "secure_cookies": False,
        "demo": True,
        # a person reads the demo's log: plain lines, unless FOYER_LOG_FORMAT says otherwise
        "log_format": os.environ.get("FOYER_LOG_FORMAT", "text"),
    }


def settings_env(settings: dict[str, t.Any]) -> dict[str, str]:
    """The same settings as ``FOYER_*`` variables, for the gunicorn processes."""
    return {
        f"FOYER_{k.upper()}": str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in settings.items()
    }


@click.command("demo")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address both servers listen on (the URLs stay http://localhost).",
)
@click.option(
    "--port", default=5000, show_default=True, type=click.IntRange(1, 65535), help="Foyer's port."
)
@click.option(
    "--rp-port",
    default=5001,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="The demo application's port.",
)
@click.option(
    "--instance",
    "instance_path",
    default="instance",
    show_default=True,
    help="Instance folder (SQLite database and generated secrets).",
)
@click.option("--seed-only", is_flag=True, help="Seed the demo tenant, print the accounts, exit.")
def demo_command(host: str, port: int, rp_port: int, instance_path: str, seed_only: bool) -> None:
    """Seed the demo tenant and serve Foyer with a demo application (Ctrl-C stops both)."""
    if port == rp_port:
        raise click.BadParameter("--port and --rp-port must differ", param_hint="--rp-port")
    settings = demo_settings(instance_path)
    app = create_app(settings)
    for finding in startup_findings(app.extensions["foyer.settings"]):
        click.echo(f"warning: {finding.message}", err=True)  # the demo starts all the same
    with app.app_context():
        demo = _seed(app, port, rp_port)
    app.extensions["foyer.db"].dispose()  # gunicorn's workers open their own connections
    if seed_only:
        click.echo(demo.changes)
        _print_accounts(demo)
        return
    run_servers(demo, {**os.environ, **settings_env(settings)}, host, port, rp_port)


def _seed(app: Flask, port: int, rp_port: int) -> Demo:
    try:
        return seed(app, port, rp_port)
    except ConfigInvalid as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(1)


def run_servers(demo: Demo, env: dict[str, str], host: str, port: int, rp_port: int) -> None:
    """Start both gunicorn processes, print where to go, wait; stop both on Ctrl-C."""
    rp_env = {
        **env,
        "FOYER_DEMO_RP_ISSUER": demo.foyer_url,
        "FOYER_DEMO_RP_CLIENT_ID": demo.client_id,
        "FOYER_DEMO_RP_CLIENT_SECRET": demo.client_secret,
        "FOYER_DEMO_RP_SECRET_KEY": secrets.token_urlsafe(32),
        "FOYER_DEMO_RP_ORGANIZATIONS": json.dumps(demo.organizations),
    }
    processes = [
        _gunicorn("app.wsgi:app", host, port, env, workers=2),
        _gunicorn("app.demo.rp:create_app_from_env()", host, rp_port, rp_env, workers=1),
    ]
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        _wait_until_up(
            f"http://127.0.0.1:{port}/.well-known/openid-configuration",
            processes,
            host="localhost",
            port=port,
        )
        _wait_until_up(f"http://127.0.0.1:{rp_port}/", processes, host="localhost", port=rp_port)
        _print_banner(demo)
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        click.echo("a server stopped; stopping the demo", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("\nstopping the demo")
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(processes)


def _raise_keyboard_interrupt(_signum: int, _frame: t.Any) -> None:
    raise KeyboardInterrupt


def _gunicorn(
    target: str, host: str, port: int, env: dict[str, str], workers: int
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        gunicorn_argv(target, host, port, workers, ["--graceful-timeout", "5"]),
        env=metrics_env(env),
    )


def _wait_until_up(
    url: str, processes: list[subprocess.Popen[bytes]], host: str, port: int
) -> None:
    """Poll ``url`` (with the public Host header) until it answers 200."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    request = urllib.request.Request(url, headers={"Host": f"{host}:{port}"})
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in processes):
            raise click.ClickException("a server failed to start (see its output above)")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    raise click.ClickException(f"{url} did not answer within {STARTUP_TIMEOUT:.0f} s")


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _print_banner(demo: Demo) -> None:
    click.echo("")
    click.echo(f"  Foyer                {demo.foyer_url}")
    click.echo(f"  Demo application     {demo.rp_url}   <- open this and press Sign in")
    click.echo("")
    _print_accounts(demo)
    click.echo("")
    click.echo("  Press Ctrl-C to stop both.")
    click.echo("")


def _print_accounts(demo: Demo) -> None:
    click.echo(f"  Demo accounts (password for every one: {DEMO_PASSWORD})")
    width = max(len(a.email) for a in demo.accounts)
    for account in demo.accounts:
        kind = "shared pool" if account.shared else "own connection"
        click.echo(
            f"    {account.email:<{width}}  {'; '.join(account.organizations)}"
            f"  [{kind} {account.connection}]"
        )
