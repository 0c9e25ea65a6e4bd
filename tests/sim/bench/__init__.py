"""``make bench``: what the collection costs on the wire and on the controller (docs/performance.md)."""
