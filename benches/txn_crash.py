"""Does this slapd survive a loader killed while it holds an RFC 5805 transaction?

On slapd 2.5.13 (Debian 12) `kill -9` of `idm load --atomic` in the middle of its batches took
the server down (a slapd thread segfaults, see the kernel log), which is why loads do not use
transactions unless asked. This kills an atomic load at a few moments and says whether slapd
still answers after each: run it on a slapd version before making transactions the default.

    .venv/bin/python benches/txn_crash.py [--kills 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as c  # noqa: E402
from load import generate  # noqa: E402

from idm.ops import embedded

IDM = str(Path(sys.executable).parent / "idm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    crashed = 0
    with tempfile.TemporaryDirectory(prefix="idm-txn-crash-") as tmp:
        data = generate(Path(tmp) / "data", 3000, 10)
        for n in range(args.kills):
            settings = c.start_idm(Path(tmp) / f"s{n}")
            try:
                env = {**os.environ, "IDM_DATA_DIR": str(settings.data_dir)}
                proc = subprocess.Popen([IDM, "load", "--atomic", str(data / "tree.csv")], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                moment = 1.5 + n * 0.7
                time.sleep(moment)
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                time.sleep(2)
                answering = embedded.status(settings).answering
                crashed += not answering
                print(f"killed at {moment:.1f}s: slapd {'answers' if answering else 'is DOWN'}", flush=True)
            finally:
                embedded.stop(settings)
    print(f"{crashed} of {args.kills} kills took slapd down")


if __name__ == "__main__":
    main()
