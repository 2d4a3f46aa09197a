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
import socket
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


def demo_settings(instance_path: str, rp_port: int = 5001) -> dict[str, t.Any]:
    """Settings for plain-http localhost (``create_app`` overrides)."""
    return {
        "instance_path": os.path.abspath(instance_path),
        "secure_cookies": False,
        "demo": True,
        "dev_mailbox": True,  # emails are read at /_mailbox/ (no mail server needed)
        "demo_app_url": f"http://localhost:{rp_port}",
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
@click.option(
    "--reset",
    is_flag=True,
    help="Apply the demo's seed file again, reverting what was changed since (otherwise "
    "changes applied on top of the demo tenant are kept).",
)
def demo_command(
    host: str, port: int, rp_port: int, instance_path: str, seed_only: bool, reset: bool
) -> None:
    """Seed the demo tenant and serve Foyer with a demo application (Ctrl-C stops both).

    The seed file is applied on the first start; later starts keep what you applied on top
    of the demo tenant and say what differs (``--reset`` applies the file again).
    """
    if port == rp_port:
        raise click.BadParameter("--port and --rp-port must differ", param_hint="--rp-port")
    if not seed_only:
        busy_ports(host, port, rp_port)
    settings = demo_settings(instance_path, rp_port)
    app = create_app(settings)
    for finding in startup_findings(app.extensions["foyer.settings"]):
        click.echo(f"warning: {finding.message}", err=True)  # the demo starts all the same
    with app.app_context():
        demo = _seed(app, port, rp_port, reset)
    app.extensions["foyer.db"].dispose()  # gunicorn's workers open their own connections
    if seed_only:
        click.echo(demo.changes)
        _print_kept(demo)
        _print_accounts(demo)
        return
    _print_kept(demo)
    run_servers(demo, {**os.environ, **settings_env(settings)}, host, port, rp_port)


def busy_ports(host: str, port: int, rp_port: int) -> None:
    """Stop before seeding when a port is taken, saying how to choose others: a server
    that cannot bind only says so in gunicorn's log lines."""
    taken = []
    for number in (port, rp_port):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, number))
            except OSError:
                taken.append(number)
    if taken:
        ports = " and ".join(str(number) for number in taken)
        raise click.ClickException(
            f"port {ports} already in use on {host}: stop what uses it, or choose other "
            "ports, e.g. `foyer demo --port 5010 --rp-port 5011` (scripts/demo passes "
            "them on)"
        )


def _seed(app: Flask, port: int, rp_port: int, reset: bool) -> Demo:
    try:
        return seed(app, port, rp_port, reset=reset)
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
        "FOYER_DEMO_RP_PARTNER_CLIENT_ID": demo.partner_client_id,
        "FOYER_DEMO_RP_PARTNER_CLIENT_SECRET": demo.partner_client_secret,
        "FOYER_DEMO_RP_SECRET_KEY": secrets.token_urlsafe(32),
        "FOYER_DEMO_RP_ORGANIZATIONS": json.dumps(demo.organizations),
    }
    processes = [
        _gunicorn("app.wsgi:app", host, port, env, workers=2),
        _gunicorn("app.demo.rp:create_app_from_env()", host, rp_port, rp_env, workers=1),
    ]
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    # Ctrl-C stops the demo even when it was started with SIGINT ignored (a background job
    # of a non-interactive shell inherits that, and Python then leaves SIGINT ignored)
    previous_int = signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
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
        signal.signal(signal.SIGINT, previous_int)
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


def _print_kept(demo: Demo) -> None:
    if demo.kept:
        click.echo(
            "The demo tenant differs from app/demo/demo.yaml (changes applied since it was "
            "seeded); they are kept. `foyer demo --reset` applies the file again and reverts "
            "them:",
            err=True,
        )
        click.echo(demo.kept, err=True)


def banner_lines(demo: Demo) -> list[str]:
    """What ``foyer demo`` prints once both servers answer."""
    rows = [
        ("Foyer", demo.foyer_url, "<- its landing page says what is where"),
        ("Demo application", demo.rp_url, "<- open this and press Sign in"),
        ("Mailbox", f"{demo.foyer_url}/_mailbox/", "<- the emails Foyer sent, links working"),
    ]
    width = max(len(label) for label, _, _ in rows)
    url_width = max(len(url) for _, url, _ in rows)
    lines = [""]
    lines += [f"  {label:<{width}}  {url:<{url_width}}  {note}" for label, url, note in rows]
    lines += ["", *account_lines(demo), ""]
    lines.append("  Sign-up: Hooli Community (a button of the demo application) is open to all.")
    lines.append('  Consent: "Sign in to Partner Analytics" is a third-party application.')
    lines += ["", "  Press Ctrl-C to stop both.", ""]
    return lines


def _print_banner(demo: Demo) -> None:
    for line in banner_lines(demo):
        click.echo(line)


def account_lines(demo: Demo) -> list[str]:
    """The demo accounts as a table whose columns line up."""
    rows = [
        (
            account.email,
            "; ".join(account.organizations),
            f"{'shared pool' if account.shared else 'own connection'} {account.connection}",
        )
        for account in demo.accounts
    ]
    header = ("email", "signs in to", "connection")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(2)]
    lines = [f"  Demo accounts (password for every one: {DEMO_PASSWORD})"]
    for email, organizations, connection in (header, *rows):
        lines.append(f"    {email:<{widths[0]}}  {organizations:<{widths[1]}}  {connection}")
    return lines


def _print_accounts(demo: Demo) -> None:
    for line in account_lines(demo):
        click.echo(line)
