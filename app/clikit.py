"""What every room's ``cli.py`` uses: the app behind a command, and ``fail``.

It sits on the foundation floor so that each room can add its own commands (through the
``register_commands`` hook) without importing the ``foyer`` group that wires them.
"""

from __future__ import annotations

import difflib
import sys
import typing as t

import click

if t.TYPE_CHECKING:
    from flask import Flask
    from pluggy import PluginManager


class AppContext:
    """The app a command works on, created on first use so ``foyer --help`` needs no database.

    The ``foyer`` group passes ``create_app`` as the factory, and the plugin manager it
    added the commands with for the commands that must work without an app. Tests pass an
    existing app (``CliRunner().invoke(cli, args, obj=AppContext(app))``), whose context
    they have already pushed.
    """

    def __init__(
        self,
        app: Flask | None = None,
        factory: t.Callable[[], Flask] | None = None,
        plugins_factory: t.Callable[[], PluginManager] | None = None,
    ) -> None:
        self._app = app
        self._factory = factory
        self._plugins_factory = plugins_factory
        self._plugins: PluginManager | None = None

    @property
    def app(self) -> Flask:
        """The app, created and its context pushed on first use."""
        if self._app is None:
            if self._factory is None:
                raise RuntimeError("AppContext has neither an app nor a factory")
            self._app = self._factory()
            self._app.app_context().push()
        return self._app

    @property
    def created(self) -> Flask | None:
        """The app if a command created or was given one, else None."""
        return self._app

    @property
    def plugins(self) -> PluginManager:
        """The plugins: the app's manager once there is an app, else the one built from
        settings alone (``foyer themes list`` works while the database is unreachable)."""
        if self._app is not None or self._plugins_factory is None:
            return t.cast("PluginManager", self.app.extensions["foyer.pm"])
        if self._plugins is None:
            self._plugins = self._plugins_factory()
        return self._plugins


pass_app = click.make_pass_decorator(AppContext)
"""Pass the command the :class:`AppContext`; ``ctx.app`` creates the app when needed."""


def did_you_mean(word: str, choices: t.Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a close choice, else an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def fail(message: str) -> t.NoReturn:
    """Print an error to stderr and exit 1 (no traceback for a user's mistake)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)
