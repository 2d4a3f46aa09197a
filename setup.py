"""Packaging steps pyproject.toml cannot declare: the package list, and compiled catalogs.

``migrations/``, ``themes/`` and ``translations/`` stay at the top of the repository and are
installed as ``app.migrations``, ``app.themes`` and ``app.translations`` (the mapping is
``[tool.setuptools.package-dir]``). A wheel carries the compiled ``.mo`` catalogs, which are
build output (``scripts/translations compile`` writes them for a checkout).
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import find_namespace_packages
from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ["app.migrations", "app.migrations.versions", "app.themes", "app.translations"]


class BuildWithCatalogs(build_py):
    """``build_py`` that also compiles ``translations/*/LC_MESSAGES/messages.po``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:  # a checkout reads translations/ itself
            return
        for po in sorted(Path("translations").glob("*/LC_MESSAGES/messages.po")):
            with po.open("rb") as fh:
                catalog = read_po(fh, abort_invalid=True)
            mo = Path(self.build_lib, "app", po.with_suffix(".mo"))
            mo.parent.mkdir(parents=True, exist_ok=True)
            with mo.open("wb") as fh:
                write_mo(fh, catalog)


setup(
    packages=find_namespace_packages(include=["app", "app.*"]) + SHIPPED,
    cmdclass={"build_py": BuildWithCatalogs},
)
