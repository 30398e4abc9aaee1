"""The docs stay true to the code: every schema element and CLI command is documented."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_every_schema_element_is_in_the_schema_reference() -> None:
    schema = (ROOT / "ldif" / "schema" / "idm.ldif").read_text(encoding="utf-8")
    doc = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    defined = re.findall(r"NAME '(idm\w+)'", schema)
    assert len(defined) > 20
    missing = [name for name in defined if f"`{name}`" not in doc]
    assert missing == []


def test_every_cli_command_is_in_the_readme() -> None:
    from idm_cli.main import cli

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for group_name, group in cli.commands.items():
        lines = [line for line in readme.splitlines() if f"idm {group_name}" in line]
        assert lines, group_name
        for sub in getattr(group, "commands", {}):
            word = re.compile(rf"(?<![\w-]){re.escape(sub)}(?![\w-])")
            assert any(word.search(line) for line in lines), f"idm {group_name} {sub}"


def test_permissions_doc_is_generated_from_the_table() -> None:
    from idm.rules import doc

    committed = (ROOT / "docs" / "permissions.md").read_text(encoding="utf-8")
    assert committed == doc.render(), "run: python -m idm.rules.doc > docs/permissions.md"


def test_every_ui_string_has_an_english_translation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F",
                    str(ROOT / "webui" / "babel.cfg"), "-k", "_l", "-o", str(pot), str(ROOT)],
                   check=True, capture_output=True, cwd=ROOT)
    wanted = set(re.findall(r'^msgid "(.+)"$', pot.read_text(encoding="utf-8"), re.M))
    po = (ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8")
    translated = dict(re.findall(r'^msgid "(.+)"\nmsgstr "(.+)"$', po, re.M))
    assert wanted and wanted <= set(translated), sorted(wanted - set(translated))
    from babel.messages.mofile import read_mo

    with open(ROOT / "webui" / "translations" / "en" / "LC_MESSAGES" / "messages.mo", "rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    assert compiled == translated, "run: .venv/bin/pybabel compile -d webui/translations"
