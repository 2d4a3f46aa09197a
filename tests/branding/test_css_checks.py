"""`foyer themes check` reads a theme's CSS: syntax, the custom properties Foyer's pages
use, colors that are not colors, WCAG contrast; theme.toml problems come all at once."""

from __future__ import annotations

from app.branding.checks import check_folders
from app.branding.themes import BUILTIN_THEMES_DIR

from .conftest import write_theme

MANIFEST = 'label = "Acme"\nstyles = ["css/theme.css"]\n'


def problems_of(root) -> list[str]:
    return [str(p) for p in check_folders([BUILTIN_THEMES_DIR, root])]


def test_the_shipped_themes_pass():
    assert [str(p) for p in check_folders([BUILTIN_THEMES_DIR])] == []


def test_an_invalid_primary_color_is_reported_with_its_line(tmp_path):
    css = ":root {\n  --foyer-primary: #12g;\n}\n"
    write_theme(tmp_path, "acme", MANIFEST, {"static/css/theme.css": css})
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / 'acme' / 'static' / 'css' / 'theme.css'}:2: ")
    assert "--foyer-primary: '#12g' is not a CSS color" in problem


def test_a_missing_closing_brace_is_reported_at_its_block(tmp_path):
    css = ".note {\n  color: red;\n\n:root {\n  --foyer-primary: #0f766e;\n}\n"
    write_theme(tmp_path, "acme", MANIFEST, {"static/css/theme.css": css})
    [problem] = problems_of(tmp_path)
    assert problem.startswith(f"{tmp_path / 'acme' / 'static' / 'css' / 'theme.css'}:1: ")
    assert "this block is never closed" in problem


def test_an_unknown_property_gets_a_suggestion(tmp_path):
    css = ":root { --foyer-primry: #0f766e; }\n"
    write_theme(tmp_path, "acme", MANIFEST, {"static/css/theme.css": css})
    [problem] = problems_of(tmp_path)
    assert "--foyer-primry is not a property Foyer's pages use" in problem
    assert "(did you mean '--foyer-primary'?)" in problem


def test_white_on_yellow_set_in_css_fails_contrast(tmp_path):
    css = ":root {\n  --foyer-primary: #fde047;\n}\n"
    write_theme(tmp_path, "acme", MANIFEST, {"static/css/theme.css": css})
    [problem] = problems_of(tmp_path)
    assert ":2: theme 'acme': contrast of button text on the primary color is 1.3:1" in problem
    assert "set --foyer-on-primary: #000000" in problem
    fixed = css.replace("}", "  --foyer-on-primary: #000000;\n}")
    (tmp_path / "acme" / "static" / "css" / "theme.css").write_text(fixed)
    assert problems_of(tmp_path) == []


def test_a_color_set_in_theme_toml_gets_readable_text(tmp_path):
    write_theme(tmp_path, "acme", '[colors]\nprimary = "#fde047"\n')
    assert problems_of(tmp_path) == []


def test_low_contrast_secondary_text(tmp_path):
    css = ":root { --foyer-muted: #cccccc; }\n"
    write_theme(tmp_path, "acme", MANIFEST, {"static/css/theme.css": css})
    found = problems_of(tmp_path)
    assert any("contrast of secondary text on the card is 1.6:1" in p for p in found), found


def test_theme_toml_problems_come_at_once_and_parents_get_a_suggestion(tmp_path):
    write_theme(
        tmp_path,
        "acme",
        'label = 3\nlogo = "nope.svg"\n[colors]\nprimary = "red"\nprimery = "#000000"\n',
    )
    write_theme(tmp_path, "child", 'parent = "harbour"\n')
    found = problems_of(tmp_path)
    acme = [p for p in found if "'acme'" in p]
    assert len(acme) == 4, acme
    assert any("label must be a string" in p for p in acme)
    assert any("logo names a missing file" in p for p in acme)
    assert any("colors.primary: 'red' is not a #rgb or #rrggbb color" in p for p in acme)
    assert any("unknown color 'primery' (did you mean 'primary'?)" in p for p in acme)
    assert any("unknown parent theme 'harbour' (did you mean 'harbor'?)" in p for p in found)


def test_an_unterminated_last_string_of_a_wording_file_is_reported(tmp_path):
    po = 'msgid "Continue"\nmsgstr "Next step\n'
    write_theme(
        tmp_path,
        "acme",
        'label = "Acme"\n',
        {"translations/en/LC_MESSAGES/messages.po": po},
    )
    [problem] = problems_of(tmp_path)
    assert problem.startswith(
        f"{tmp_path / 'acme' / 'translations' / 'en' / 'LC_MESSAGES' / 'messages.po'}:2: "
    )
    assert "no closing quote" in problem
