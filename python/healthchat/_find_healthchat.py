"""Where the installed ``healthchat`` binary is: the wheel puts it in the environment's scripts
directory (``bin/`` or ``Scripts\\``), as ruff's and uv's wheels do theirs."""

from __future__ import annotations

import os
import sys
import sysconfig


def find_healthchat_bin() -> str:
    """The path of the ``healthchat`` binary installed with this package.

    Looked for where pip, uv and pipx put a wheel's scripts: the interpreter's scripts directory,
    the user scheme's (``pip install --user``), and ``bin/`` beside the package root (``pip
    install --target``).

    Raises:
        FileNotFoundError: no binary is installed beside this package (as when the package
            directory is imported from a source checkout without installing it).
    """
    name = "healthchat" + (sysconfig.get_config_var("EXE") or "")
    candidates = [
        os.path.join(sysconfig.get_path("scripts"), name),
        os.path.join(sysconfig.get_path("scripts", scheme=sysconfig.get_preferred_scheme("user")), name),
        os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bin", name),
    ]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    raise FileNotFoundError(
        f"the healthchat binary is not installed beside the Python package (looked for "
        f"{', '.join(candidates)}); install the package with `pip install healthchat` "
        f"(or `pip install .` in a source checkout) into the environment of {sys.executable}"
    )
