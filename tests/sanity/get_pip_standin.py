"""Stand-in for the get-pip script ansible-test downloads from a host this network cannot reach.

ansible-test runs it to bootstrap pip in its sanity venvs; ensurepip does the same from the
standard library. Installed by `make sanity` as ~/.ansible/test/cache/get_pip_24_2.py.
"""

import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install", "--upgrade"] + args)
