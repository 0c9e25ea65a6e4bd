"""Every Python file under plugins/plugin_utils is private to the collection, as in community.crypto and
ansible.windows: its name starts with an underscore and its docstring opens with the PRIVATE header."""

from __future__ import annotations

import ast
import pathlib

import pytest

PLUGIN_UTILS = pathlib.Path(__file__).resolve().parents[3] / "plugins" / "plugin_utils"
MODULES = sorted(path for path in PLUGIN_UTILS.glob("*.py") if path.name != "__init__.py")
HEADER = "PRIVATE to the hyperv.checkpoint collection: "


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_plugin_utils_file_is_private(path):
    assert path.name.startswith("_"), "%s: plugin_utils files are private, name it _%s" % (path.name, path.name)
    docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    assert docstring.startswith(HEADER), "%s: the docstring's first line starts with %r" % (path.name, HEADER)
