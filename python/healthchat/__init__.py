"""HealthChat-11K from Python: builds the dataset with the installed ``healthchat`` binary and
hands it over as ``datasets.Dataset`` objects.

    import healthchat
    subsets = healthchat.load(version="2.1.0", sources=("wildchat",), quiet=True)
    subsets["wildchat"]  # Dataset({features: [...], num_rows: ...})

:func:`generate` runs ``healthchat generate`` and returns its ``--json`` summary;
:func:`load` runs it and reads the Parquet files. The command-line tool itself is on PATH as
``healthchat`` (``python -m healthchat`` runs it too).
"""

from __future__ import annotations

import codecs
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable
from importlib.metadata import PackageNotFoundError, version as _distribution_version
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from healthchat._find_healthchat import find_healthchat_bin

if TYPE_CHECKING:
    import datasets

__all__ = ["GenerateError", "SOURCES", "find_healthchat_bin", "generate", "load"]

try:
    __version__ = _distribution_version("healthchat")
except PackageNotFoundError:  # imported from a source checkout, not installed
    __version__ = "unknown"

#: The source datasets, as ``--sources`` names them.
SOURCES: tuple[str, ...] = ("lmsys", "wildchat")

# The options of `healthchat generate` other than those `generate` takes as parameters, as
# keyword name → (flag, kind). A bool is a switch; a str, int or path takes a value.
_OPTIONS: dict[str, tuple[str, type]] = {
    "jobs": ("--jobs", int),
    "annotations": ("--annotations", os.PathLike),
    "annotations_revision": ("--annotations-revision", str),
    "lmsys_revision": ("--lmsys-revision", str),
    "wildchat_revision": ("--wildchat-revision", str),
    "source_dir": ("--source-dir", os.PathLike),
    "reference_only": ("--reference-only", bool),
    "strict": ("--strict", bool),
    "quiet": ("--quiet", bool),
}


class GenerateError(RuntimeError):
    """``healthchat generate`` failed: :attr:`message` is what it said was wrong and what to do
    next (its closing ``error:`` message), :attr:`exit_status` its exit status (see README, "Exit status":
    1 a failed run, 2 an invalid option, 3 ``strict=True`` with missing conversations, 130/143
    interrupted)."""

    def __init__(self, message: str, exit_status: int, command: list[str]) -> None:
        super().__init__(f"healthchat generate failed (exit status {exit_status}): {message}")
        self.message = message
        self.exit_status = exit_status
        self.command = command


def generate(
    version: str | None = None,
    sources: Iterable[str] = SOURCES,
    output_dir: str | os.PathLike[str] = ".",
    **generate_options: Any,
) -> dict[str, Any]:
    """Runs ``healthchat generate`` and returns its ``--json`` summary.

    Args:
        version: the annotation version (``"2.1.0"``); ``None`` for the newest on the Hub.
        sources: the sources to build, of :data:`SOURCES`; a subset is written to
            ``HealthChat-11K_v{V}_{source}_artifacts/`` (WildChat alone needs no token).
        output_dir: where the artifacts directory is written.
        **generate_options: the other flags of ``healthchat generate``, by their long name with
            ``_`` for ``-``: ``jobs=4`` (``--jobs 4``), ``annotations=`` (a local annotation
            JSONL, a path), ``annotations_revision=``,
            ``lmsys_revision=``, ``wildchat_revision=`` (str), ``source_dir=`` (a path),
            ``reference_only=``, ``strict=``, ``quiet=`` (bool; ``True`` gives the switch).

    Returns:
        The summary ``healthchat generate --json`` prints: ``directory`` (the artifacts
        directory), ``elapsed_seconds``, ``bytes_read``, ``network_bytes``, ``rows_from_cache``, ``missing``, ``repairs`` and the
        ``manifest``. ``directory`` is made absolute.

    Raises:
        TypeError: an unknown option, or an option or argument of the wrong type.
        ValueError: an unknown or empty list of sources.
        GenerateError: the run failed; carries its message and exit status.
        FileNotFoundError: the binary is not installed beside this package.

    The binary's status lines and summary go to ``sys.stderr`` as it runs. With tqdm installed
    (the ``datasets`` extra brings it) and not ``quiet=True``, its progress is a ``tqdm.auto``
    bar: a widget in a notebook, a text bar elsewhere.
    """
    arguments = ["generate", "--json"]
    if version is not None:
        if not isinstance(version, str):
            raise TypeError(f"version must be a str such as '2.1.0' or None, not {version!r}")
        arguments += ["--version", version]
    arguments += ["--sources", ",".join(_source_names(sources))]
    arguments += ["--output-dir", os.fspath(output_dir)]
    arguments += _flags(generate_options)
    bar = None if generate_options.get("quiet") is True else _tqdm()
    if bar is not None:
        arguments.append("--progress-json")
    stdout = _run(arguments, bar)
    summary: dict[str, Any] = json.loads(stdout)
    summary["directory"] = os.path.abspath(summary["directory"])
    return summary


def load(
    version: str | None = None,
    sources: Iterable[str] = SOURCES,
    output_dir: str | os.PathLike[str] = ".",
    **generate_options: Any,
) -> dict[str, datasets.Dataset]:
    """Builds HealthChat-11K with ``healthchat generate`` and returns each source's conversations
    as a ``datasets.Dataset``, read from its Parquet file.

    Args:
        version: the annotation version (``"2.1.0"``); ``None`` for the newest on the Hub.
        sources: the sources to build and return, of :data:`SOURCES` (``("wildchat",)`` needs
            no Hugging Face token).
        output_dir: where the artifacts directory is written.
        **generate_options: the other flags of ``healthchat generate``, as for :func:`generate`
            (``quiet=True``, ``jobs=4``, ``strict=True``, ...); ``reference_only=True`` is refused,
            since it writes no Parquet files.

    Returns:
        ``{"lmsys": Dataset, "wildchat": Dataset}`` for the requested sources: one row per
        conversation in JSONL order, with the source's own column types, the annotation columns
        and ``dataset_version``. ``datasets`` keeps an Arrow copy in its cache
        (``HF_DATASETS_CACHE``), as it does for every Parquet file it reads.

    Raises:
        ImportError: ``datasets`` is not installed (``pip install 'healthchat[datasets]'``).
        TypeError, ValueError, GenerateError, FileNotFoundError: as for :func:`generate`.
    """
    try:
        import datasets
    except ImportError as error:
        raise ImportError(
            "healthchat.load returns datasets.Dataset objects and needs the `datasets` package: "
            "install the extra with `pip install 'healthchat[datasets]'` (or `pip install "
            "datasets`); the files are written anyway by healthchat.generate or "
            "`healthchat generate`"
        ) from error
    if generate_options.get("reference_only") is True:
        raise ValueError(
            "reference_only=True writes no Parquet files, so there is nothing to load: use "
            "healthchat.generate(reference_only=True) for the JSONL and CSV files alone"
        )
    names = _source_names(sources)
    summary = generate(version, names, output_dir, **generate_options)
    directory = Path(summary["directory"])
    annotation_version = summary["manifest"]["annotation_version"]
    return {
        source: datasets.Dataset.from_parquet(
            str(directory / f"HealthChat-11K_v{annotation_version}_{source}.parquet"),
            split="train",
        )
        for source in names
    }


def _source_names(sources: Iterable[str]) -> list[str]:
    """The sources as a list in their given order, each once; a single str is one source."""
    if isinstance(sources, str):
        sources = [sources]
    names: list[str] = []
    for source in sources:
        if not isinstance(source, str):
            raise TypeError(f"sources must be names such as 'wildchat', not {source!r}")
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}: the sources are {', '.join(SOURCES)}")
        if source not in names:
            names.append(source)
    if not names:
        raise ValueError(f"sources is empty: name at least one of {', '.join(SOURCES)}")
    return names


def _flags(options: dict[str, Any]) -> list[str]:
    """The command-line flags of the keyword options; the CLI itself checks their values."""
    flags: list[str] = []
    for name, value in options.items():
        if name not in _OPTIONS:
            known = ", ".join(["version", "sources", "output_dir", *_OPTIONS])
            raise TypeError(f"unknown option {name}=: the options of healthchat generate are {known}")
        flag, kind = _OPTIONS[name]
        if kind is bool:
            if not isinstance(value, bool):
                raise TypeError(f"{name}= must be True or False, not {value!r}")
            if value:
                flags.append(flag)
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name}= must be an int, not {value!r}")
            flags += [flag, str(value)]
        elif kind is os.PathLike:
            if not isinstance(value, (str, os.PathLike)):
                raise TypeError(f"{name}= must be a path (str or os.PathLike), not {value!r}")
            flags += [flag, os.fspath(value)]
        else:
            if not isinstance(value, str):
                raise TypeError(f"{name}= must be a str, not {value!r}")
            flags += [flag, value]
    return flags


def _tqdm() -> Any:
    """``tqdm.auto.tqdm`` when tqdm is installed, else None."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def _run(arguments: list[str], bar: Any = None) -> str:
    """Runs the binary with `arguments`; returns its stdout. Its stderr is copied to
    ``sys.stderr`` line by line as it arrives (so a notebook shows it too), but for its JSON
    progress lines (``--progress-json``), which move a `bar` (a tqdm class) instead; its closing
    ``error:`` message becomes the :class:`GenerateError`'s."""
    command = [find_healthchat_bin(), *arguments]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    stderr_lines: list[str] = []
    relay = threading.Thread(
        target=_relay, args=(process.stderr, stderr_lines, _Progress(bar)), daemon=True
    )
    relay.start()
    try:
        stdout = process.stdout.read()
        process.wait()
    except KeyboardInterrupt:
        # In a terminal the binary got the Ctrl-C as well; in a notebook only Python did. It is
        # asked to stop as Ctrl-C asks it, and then removes its temporary directory.
        if sys.platform == "win32":
            # Windows has no SIGINT to send to one process: a console's Ctrl-C reaches it, else
            # it is ended (the next run removes the temporary directory it leaves).
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.terminate()
        elif process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait()
        raise
    finally:
        relay.join()
    if process.returncode != 0:
        # The binary prints its error last: `error: WHAT`, then lines such as `Next: ...`.
        starts = [i for i, line in enumerate(stderr_lines) if line.startswith("error: ")]
        tail = stderr_lines[starts[-1] :] if starts else stderr_lines[-5:]
        message = "\n".join(tail).removeprefix("error: ").strip() or "no message"
        raise GenerateError(message, process.returncode, command)
    return stdout.decode("utf-8")


class _Progress:
    """The binary's JSON progress lines (``{"progress": {"read", "total", "found", "wanted",
    "done"}}``) as a tqdm bar, made at the first; without a tqdm class, nothing is one."""

    def __init__(self, bar_class: Any) -> None:
        self.bar_class = bar_class
        self.bar: Any = None

    def take(self, line: str) -> bool:
        """True if `line` was progress, now shown on the bar."""
        if self.bar_class is None or not line.startswith('{"progress":'):
            return False
        try:
            progress = json.loads(line)["progress"]
            read, total = int(progress["read"]), int(progress["total"])
            found = f"{progress['found']}/{progress['wanted']} conversations found"
        except (ValueError, KeyError, TypeError):
            return False
        if self.bar is None:
            self.bar = self.bar_class(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="healthchat"
            )
        self.bar.update(read - self.bar.n)
        self.bar.set_postfix_str(found, refresh=False)
        if progress.get("done"):
            self.close()
        return True

    def write(self, text: str) -> None:
        """`text` on stderr, above the bar while there is one."""
        if self.bar is None:
            sys.stderr.write(text)
            sys.stderr.flush()
        else:
            self.bar_class.write(text, file=sys.stderr, end="")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _relay(stream: IO[bytes], lines: list[str], progress: _Progress) -> None:
    """Copies `stream` to ``sys.stderr`` line by line as it arrives, but for the progress
    lines, which `progress` shows; keeps the other lines."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    try:
        while chunk := os.read(stream.fileno(), 8192):
            pending += decoder.decode(chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                if not progress.take(line):
                    progress.write(line + "\n")
                    lines.append(line.rstrip("\r"))
        if pending:
            progress.write(pending)
            lines.append(pending)
    finally:
        progress.close()
