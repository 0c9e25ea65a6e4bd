"""ansible-test reads tests/sanity/ignore-<version>.txt of its own version only: the files of the supported
versions (make sanity-all) say the same, so an ignore added for one is not missed by the others."""

from __future__ import annotations

import pathlib

SANITY = pathlib.Path(__file__).resolve().parents[2] / "sanity"
VERSIONS = ("2.19", "2.20", "2.21")


def test_every_supported_version_ignores_the_same():
    texts = {version: (SANITY / ("ignore-%s.txt" % version)).read_text() for version in VERSIONS}
    assert len(set(texts.values())) == 1, "tests/sanity/ignore-2.19.txt, -2.20.txt and -2.21.txt differ"
