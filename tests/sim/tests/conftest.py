"""Make the simulator package (tests/sim/hyperv_sim) importable for every test in this directory."""

import pathlib
import sys

SIM_DIR = str(pathlib.Path(__file__).resolve().parent.parent)
if SIM_DIR not in sys.path:
    sys.path.insert(0, SIM_DIR)
