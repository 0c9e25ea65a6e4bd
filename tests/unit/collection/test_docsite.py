# -*- coding: utf-8 -*-
"""make docs: the documentation site builds (Sphinx with -W, so a broken reference or markup fails it) and has a page
for every module, the inventory plugin, the role and every guide."""

from __future__ import annotations

import importlib.util
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[3]
BUILD = REPO / "tools" / "docsite" / "build.py"


def load_build_script():
    spec = importlib.util.spec_from_file_location("docsite_build", BUILD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_guide_under_docs_is_in_the_site():
    """build.py fails on a guide it does not list; this says so before a build does."""
    build = load_build_script()
    listed = {source for section in build.GUIDES.values() for dummy, source in section}
    guides = {"docs/%s" % path.name for path in (REPO / "docs").glob("*.md") if path.name != "README.md"}
    assert guides <= listed
    assert all((REPO / source).is_file() for source in listed)


def test_site_builds_with_a_page_for_every_plugin_role_and_guide(tmp_path):
    build = load_build_script()
    # About 10 s on an idle machine; the timeout is for a machine busy with the integration tests.
    completed = subprocess.run([sys.executable, str(BUILD), str(tmp_path)], capture_output=True, text=True,
                               timeout=600, check=False)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    html = tmp_path / "html"
    modules = [path.stem for path in (REPO / "plugins" / "modules").glob("*.py")]
    pages = (["index.html", "hyperv_vms_inventory.html", "safe_change_role.html"]
             + ["%s_module.html" % name for name in modules]
             + ["docsite/%s.html" % name for section in build.GUIDES.values() for name, dummy in section])
    assert [page for page in pages if not (html / page).is_file()] == []
    index = (html / "index.html").read_text()
    assert all(page.replace("docsite/", "") in index for page in pages if page != "index.html")
