"""Install every wheel of a folder (``tox -e wheels``), not editable, with the extras the
test suites need, in one pip call so that the plugins' ``genrebench`` requirement resolves
to the core's wheel beside them, never to an index.  The wheels are first reinstalled
without dependencies, so that a rebuilt wheel of an unchanged version replaces the old one.

Usage: ``python tools/install_wheels.py DIST [pip options...]``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: Extras by distribution (wheel file names spell ``-`` as ``_``); others get ``[test]``.
EXTRAS = {"genrebench": "test,dask", "genrebench_yan2023": "wav2vec2,test"}


def main(argv: list[str]) -> int:
    folder, options = Path(argv[0]), argv[1:]
    files = sorted(folder.glob("*.whl"))
    if not files:
        print(f"install_wheels: no wheel in {folder}", file=sys.stderr)
        return 1
    extras = [f"{p}[{EXTRAS.get(p.name.split('-')[0], 'test')}]" for p in files]
    pip = [sys.executable, "-m", "pip", "install", *options]
    for command in ([*pip, "--no-deps", "--force-reinstall", *map(str, files)], [*pip, *extras]):
        print("install_wheels:", " ".join(command), flush=True)
        if subprocess.run(command, check=False).returncode:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
