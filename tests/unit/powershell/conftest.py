"""The PowerShell checker lives in tools/pscheck (it is a tool that make test runs, not a test)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "tools" / "pscheck"))
