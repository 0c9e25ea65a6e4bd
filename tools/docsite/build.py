# -*- coding: utf-8 -*-
"""Build the collection's documentation site with antsibull-docs, as docs.ansible.com renders collections.

    python tools/docsite/build.py [OUTPUT]          (make docs; OUTPUT defaults to build/docs)

The site is OUTPUT/html (index.html at its root): every module, the inventory plugin, the role's argument spec, and
the guides as the collection's extra docs.

The guides stay Markdown in the repository (GitHub and Automation Hub render Markdown; antsibull-docs takes only RST
from docs/docsite/rst). So this script converts them at build time, with pandoc (pypandoc-binary, pinned in
requirements-test.txt), into a staged copy of the collection (OUTPUT/collections/...: symlinks to the checkout, plus a
generated docs/docsite), and antsibull-docs reads that copy. GUIDES lists the Markdown files and their sections; a
guide under docs/ that GUIDES does not list fails the build, so none is left out silently.

The build needs no network. sphinx-init's conf.py fetches intersphinx inventories (Python, Jinja, the Ansible
docs); the pages antsibull-docs writes link to a few labels of the Ansible docs, so conf.py gets, instead, an inventory
of those labels written here (ANSIBLE_LABELS): the links go to docs.ansible.com, and nothing is fetched. When a new
antsibull-docs links to another label, Sphinx fails the build (-W, nitpicky) and names it: add it there.
"""

from __future__ import annotations

import json
import os
import pathlib
import posixpath
import shutil
import subprocess
import sys
import zlib

import pypandoc
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
COLLECTION = "hyperv.checkpoint"
LABEL_PREFIX = "ansible_collections.%s.docsite." % COLLECTION

# Section title -> (document name in the site, Markdown source relative to the repository).
GUIDES = {
    "Guides": [
        ("host_setup", "docs/host-setup.md"),
        ("clusters", "docs/clusters.md"),
        ("safe_change", "roles/safe_change/README.md"),
        ("playbooks", "playbooks/README.md"),
        ("molecule", "docs/molecule.md"),
        ("awx", "docs/awx.md"),
        ("artifacts", "docs/artifacts.md"),
    ],
    "How it works": [
        ("host_protocol", "docs/host-protocol.md"),
        ("host_fidelity", "docs/host-fidelity.md"),
        ("reliability", "docs/reliability.md"),
        ("performance", "docs/performance.md"),
    ],
}
# The labels of docs.ansible.com's Ansible docs that antsibull-docs' pages link to: (domain:role, name) -> page,
# title. Sphinx resolves them through the inventory written from this, offline.
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/devel/"
ANSIBLE_LABELS = {
    ("std:label", "action_plugins"): ("plugins/action.html#action-plugins", "Action plugins"),
    ("std:label", "common_return_values"): ("reference_appendices/common_return_values.html#common-return-values",
                                            "Return Values"),
    ("std:label", "ansible_configuration_settings"): ("reference_appendices/config.html#ansible-configuration-settings",
                                                      "Ansible Configuration Settings"),
}
ANSIBLE_LABELS.update({("std:envvar", name): ("reference_appendices/config.html#envvar-" + name, "-")
                       for name in ("ANSIBLE_CACHE_PLUGIN", "ANSIBLE_CACHE_PLUGIN_CONNECTION",
                                    "ANSIBLE_CACHE_PLUGIN_PREFIX", "ANSIBLE_CACHE_PLUGIN_TIMEOUT")})
# Top-level entries of the checkout that the staged collection leaves out (docs/ is generated there).
NOT_STAGED = {"docs", "build", ".git", ".venv", ".ansible", "tests", "bench"}


def guide_sources() -> dict[str, str]:
    """Markdown source -> document name, checked against the guides under docs/."""
    sources = {source: name for section in GUIDES.values() for name, source in section}
    # docs/README.md lists the guides on GitHub; the site's index does that there.
    on_disk = {"docs/%s" % path.name for path in (REPO / "docs").glob("*.md") if path.name != "README.md"}
    unlisted = on_disk - set(sources)
    missing = [source for source in sources if not (REPO / source).is_file()]
    if unlisted or missing:
        raise SystemExit("tools/docsite/build.py GUIDES: not listed %s, missing %s" % (sorted(unlisted), missing))
    return sources


def repository_url() -> str:
    return yaml.safe_load((REPO / "galaxy.yml").read_text())["repository"].rstrip("/")


def label(name: str, anchor: str | None = None) -> str:
    return LABEL_PREFIX + name + ("." + anchor if anchor else "")


def plain_text(inlines: list) -> str:
    """The text of pandoc inlines, markup dropped (a :ref: title cannot hold markup)."""
    parts = []
    for inline in inlines:
        kind, content = inline["t"], inline.get("c")
        if kind == "Str":
            parts.append(content)
        elif kind in ("Space", "SoftBreak", "LineBreak"):
            parts.append(" ")
        elif kind in ("Code", "Math", "RawInline"):
            parts.append(content[-1])
        elif kind in ("Emph", "Strong", "Strikeout", "Underline", "SmallCaps", "Superscript", "Subscript"):
            parts.append(plain_text(content))
        elif kind in ("Link", "Span", "Quoted", "Cite"):
            parts.append(plain_text(content[-2] if kind == "Link" else content[-1]))
    return "".join(parts)


def rst_ref(text: str, target: str) -> dict:
    # A title may not contain < or ` in a :ref: role; guides' link texts have neither.
    return {"t": "RawInline", "c": ["rst", ":ref:`%s <%s>`" % (text.replace("`", "'"), target)]}


def rewrite(node, name: str, source: str, sources: dict[str, str], blob_url: str):
    """Prefix header ids with the guide's label; links to guides become :ref:s, to other files GitHub links."""
    if isinstance(node, list):
        return [rewrite(item, name, source, sources, blob_url) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: rewrite(value, name, source, sources, blob_url) for key, value in node.items()}
    if node.get("t") == "Header":
        level, (identifier, classes, attributes), inlines = node["c"]
        identifier = label(name) if level == 1 else label(name, identifier)
        node["c"] = [level, [identifier, classes, attributes], inlines]
    elif node.get("t") == "Link":
        attr, inlines, (url, title) = node["c"]
        if "://" in url or url.startswith("mailto:"):
            return node
        path, dummy, anchor = url.partition("#")
        target = posixpath.normpath(posixpath.join(posixpath.dirname(source), path)) if path else source
        if target in sources:
            return rst_ref(plain_text(inlines), label(sources[target], anchor or None))
        node["c"] = [attr, inlines, [blob_url + target + ("#" + anchor if anchor else ""), title]]
    return node


def markdown_to_rst(name: str, source: str, sources: dict[str, str], blob_url: str) -> str:
    ast = json.loads(pypandoc.convert_file(str(REPO / source), "json", format="gfm"))
    ast["blocks"] = rewrite(ast["blocks"], name, source, sources, blob_url)
    # The H1's label opens the document, as antsibull-docs expects of an extra doc.
    return pypandoc.convert_text(json.dumps(ast), "rst", format="json", extra_args=["--wrap=preserve"])


def stage_collection(output: pathlib.Path) -> pathlib.Path:
    """A copy of the collection for antsibull-docs: symlinks to the checkout, and docs/docsite generated."""
    sources = guide_sources()
    collections = output / "collections"
    staged = collections / "ansible_collections" / "hyperv" / "checkpoint"
    shutil.rmtree(collections, ignore_errors=True)
    staged.mkdir(parents=True)
    for entry in REPO.iterdir():
        if entry.name not in NOT_STAGED and not entry.name.startswith(".venv"):
            (staged / entry.name).symlink_to(entry)
    rst = staged / "docs" / "docsite" / "rst"
    rst.mkdir(parents=True)
    blob_url = repository_url() + "/blob/main/"
    for source, name in sources.items():
        (rst / (name + ".rst")).write_text(markdown_to_rst(name, source, sources, blob_url))
    index = {"sections": [{"title": title, "toctree": [name for name, dummy in guides]}
                          for title, guides in GUIDES.items()]}
    (rst.parent / "extra-docs.yml").write_text(yaml.safe_dump(index, sort_keys=False))
    return collections


def write_inventory(path: pathlib.Path) -> None:
    """A Sphinx objects.inv (version 2) holding ANSIBLE_LABELS."""
    lines = "".join("%s %s -1 %s %s\n" % (name, role, uri, title)
                    for (role, name), (uri, title) in sorted(ANSIBLE_LABELS.items()))
    header = "# Sphinx inventory version 2\n# Project: Ansible\n# Version: devel\n" \
             "# The remainder of this file is compressed using zlib.\n"
    path.write_bytes(header.encode() + zlib.compress(lines.encode()))


def run(command: list[str], env: dict[str, str], cwd: pathlib.Path | None = None) -> None:
    print("+ " + " ".join(command), flush=True)
    subprocess.run(command, env=env, cwd=cwd, check=True)


def main(output: pathlib.Path) -> None:
    output = output.resolve()
    collections = stage_collection(output)
    bin_dir = pathlib.Path(sys.executable).parent
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), PATH="%s:%s" % (bin_dir, os.environ["PATH"]))
    source = output / "src"
    shutil.rmtree(source, ignore_errors=True)
    # antsibull-docs refuses a destination that others can write to.
    source.mkdir(mode=0o700, parents=True)
    run([str(bin_dir / "antsibull-docs"), "sphinx-init", "--use-current", "--squash-hierarchy", "--fail-on-error",
         "--dest-dir", str(source), "--project", COLLECTION, "--title", "hyperv.checkpoint collection",
         "--copyright", "contributors to the hyperv.checkpoint collection", COLLECTION], env)
    conf = source / "conf.py"
    text = conf.read_text()
    if "intersphinx_mapping = {" not in text:
        raise SystemExit("sphinx-init's conf.py has no intersphinx_mapping to empty: check the antsibull-docs pin")
    inventory = source / "ansible_devel.inv"
    write_inventory(inventory)
    conf.write_text(text + "\n# Offline build (tools/docsite/build.py): no inventory is fetched.\n"
                    "intersphinx_mapping = %r\n" % {"ansible_devel": (ANSIBLE_DOCS, str(inventory))})
    (source / "rst").chmod(0o700)
    run([str(bin_dir / "antsibull-docs"), "--config-file", "antsibull-docs.cfg", "collection", "--cleanup",
         "everything", "--use-current", "--squash-hierarchy", "--fail-on-error", "--dest-dir", "rst", COLLECTION],
        env, cwd=source)
    shutil.rmtree(output / "html", ignore_errors=True)
    run([str(bin_dir / "sphinx-build"), "-M", "html", str(source / "rst"), str(output), "-c", str(source), "-W",
         "--keep-going", "-q"], env)
    print("Built %s" % (output / "html" / "index.html"))


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "build" / "docs"))
