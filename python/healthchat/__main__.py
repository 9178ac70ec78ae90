"""``python -m healthchat ARGS``: runs the installed binary with ARGS, as ``healthchat ARGS``."""

from __future__ import annotations

import os
import sys

from healthchat._find_healthchat import find_healthchat_bin


def main() -> None:
    binary = os.fsdecode(find_healthchat_bin())
    if sys.platform == "win32":
        # Windows has no exec: run it as a child and pass its exit status on.
        import subprocess

        sys.exit(subprocess.run([binary, *sys.argv[1:]]).returncode)
    # The binary takes this process's place, so signals (Ctrl-C, SIGTERM) reach it directly.
    os.execv(binary, [binary, *sys.argv[1:]])


if __name__ == "__main__":
    main()
