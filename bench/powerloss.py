"""Long power-loss campaign: the short one of ``make test`` with as many cuts as asked (>= 200).

Needs FUSE (/dev/fuse, fusermount3; Debian package fuse3). Prints cuts, photos receipted and losses.

    make bench                                  # or: .venv/bin/python -m bench.powerloss --cuts 200
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from tests.powerloss.campaign import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cuts", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="clinphoto-powerloss-"))
    outcome = run(tmp, cuts=args.cuts, seed=args.seed)  # on a failure the folder (server.log) is kept
    shutil.rmtree(tmp)
    print(f"power-loss campaign: {outcome.cuts} cuts ({outcome.interrupted} during work), "
          f"{outcome.photos_receipted} photos receipted, {outcome.losses} lost, "
          f"{time.monotonic() - started:.0f} s")
    if outcome.losses:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
