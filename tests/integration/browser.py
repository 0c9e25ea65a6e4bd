"""Headless Chromium (the Debian package, installed by ``make browser``) for the HTML report.

``render(path)`` opens a local HTML file as a browser does and returns the DOM Chromium built
(``--dump-dom``) parsed into a small tree, so a test checks what the page shows, not the
file's text; ``screenshot(path, png)`` draws it into a PNG. A missing Chromium fails the
test: it must never pass without having rendered the page.
"""

from __future__ import annotations

import html.parser
import os
import shutil
import struct
import subprocess
import tempfile

CHROMIUM = os.environ.get("CHROMIUM", "chromium")

# Without the background networking switches Chromium stalls on a closed network.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars"]

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def chromium():
    path = shutil.which(CHROMIUM)
    assert path, "%s is not installed: run `make browser` (Debian package chromium)" % CHROMIUM
    return path


def _run(arguments, timeout=120):
    with tempfile.TemporaryDirectory(prefix="hyperv-report-chromium-") as profile:
        completed = subprocess.run([chromium(), *FLAGS, "--user-data-dir=%s" % profile, *arguments],
                                   capture_output=True, text=True, timeout=timeout, check=False)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def render(path):
    """The DOM of the page after Chromium loaded it, as an Element tree."""
    return parse(_run(["--dump-dom", path.resolve().as_uri()]))


def screenshot(path, png, width=1280, height=1600):
    _run(["--screenshot=%s" % png, "--window-size=%d,%d" % (width, height), path.resolve().as_uri()])
    return png_size(png)


def png_size(png):
    """(width, height) from the PNG header; fails on anything that is not a PNG."""
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", header
    return struct.unpack(">II", header[16:24])


class Element:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    @property
    def classes(self):
        return self.attrs.get("class", "").split()

    @property
    def text(self):
        """The text content, whitespace collapsed."""
        return " ".join("".join(child if isinstance(child, str) else child.text
                                for child in self.children).split())

    def iter(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag=None, cls=None, **attrs):
        return [element for element in self.iter()
                if (tag is None or element.tag == tag) and (cls is None or cls in element.classes)
                and all(element.attrs.get(key.replace("_", "-")) == value for key, value in attrs.items())]

    def find(self, tag=None, cls=None, **attrs):
        found = self.find_all(tag, cls, **attrs)
        assert found, "no <%s class=%s %s>" % (tag, cls, attrs)
        return found[0]


class _TreeBuilder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("#document", {})

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, attrs, self.current))

    def handle_endtag(self, tag):
        element = self.current
        while element is not self.root and element.tag != tag:
            element = element.parent
        if element is not self.root:
            self.current = element.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(markup):
    builder = _TreeBuilder()
    builder.feed(markup)
    builder.close()
    return builder.root
