"""``python -m xtrace.distributed.launch -n N [--devices-per-process K] script.py args...``:
run a script as N local processes of one job (xtrace/_src/launcher.py)."""
import sys

from xtrace._src.launcher import main

if __name__ == "__main__":
    sys.exit(main())
