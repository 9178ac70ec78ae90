"""The Python package as a user gets it: builds the wheel with maturin, installs it into a fresh
virtual environment whose PATH holds no Rust toolchain, and runs the installed `healthchat`,
`python -m healthchat` and `healthchat.load` against the local Hub serving the golden fixtures
(`testhub --golden`, the integration tests' setup: lmsys gated, large files redirected,
listings paginated). Checks the golden bytes and that each Dataset's rows equal the JSONL records.

    python tests/wheel.py [--release]

Run with a Python that has maturin (bash .ci/run uses target/ci-venv), after
`cargo build --locked -p testhub`. The wheel is built in the dev profile unless --release (the
packaging is the same; a release build costs minutes more), reusing target/. Prints one line per
check and closes with "N passed, N failed"; exits 1 when any check failed.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
# The golden Hub's token for the gated lmsys/lmsys-chat-1m (GRANTED_TOKEN in
# crates/testhub/src/golden.rs, which `testhub --golden` serves with).
TOKEN = "hf_granted_0123456789"
VERSION = "2.1.0"
REFERENCE_FILES = [
    f"HealthChat-11K_v{VERSION}.jsonl",
    f"HealthChat-11K_v{VERSION}_full_review.csv",
    f"HealthChat-11K_v{VERSION}_sycophancy_review.csv",
]

# Run by the fresh environment's Python: healthchat.load, each Dataset's rows compared with the
# JSONL records of its source (timestamps as their ISO text, which is what the JSONL holds), keys
# in order. argv: output dir, sources (comma-separated), quiet ("quiet" or "").
LOAD_AND_COMPARE = (ROOT / "tests" / "it" / "support" / "rows.py").read_text() + r"""
import json, pathlib, sys
import healthchat

output_dir, sources, quiet = sys.argv[1], tuple(sys.argv[2].split(",")), sys.argv[3] == "quiet"
loaded = healthchat.load(version="2.1.0", sources=sources, output_dir=output_dir, quiet=quiet, jobs=2)
assert sorted(loaded) == sorted(sources), f"load returned {sorted(loaded)} for {sources}"

subset = "" if len(sources) == 2 else f"_{sources[0]}"
directory = pathlib.Path(output_dir) / f"HealthChat-11K_v2.1.0{subset}_artifacts"
jsonl = directory / f"HealthChat-11K_v2.1.0{subset}.jsonl"
records = [json.loads(line) for line in jsonl.open(encoding="utf-8")]
for source, dataset in loaded.items():
    assert type(dataset).__module__.startswith("datasets"), type(dataset)
    expected = [r for r in records if r["dataset_source"] == source]
    rows = [plain(row) for row in dataset]
    assert expected and len(rows) == len(expected), f"{source}: {len(rows)} rows, {len(expected)} records"
    for row, record in zip(rows, expected):
        assert list(row) == list(record), f"{source}: columns {list(row)} != keys {list(record)}"
        assert row == record, f"{source}: row {row.get('conversation_id')} differs from its JSONL record"
    print(source, len(rows))
"""

# Wrong keyword options are refused before anything runs; a failed run raises GenerateError
# with the binary's message and exit status. argv: output dir.
LOAD_REFUSES = r"""
import sys
import healthchat

output_dir = sys.argv[1]
for options, error in [
    ({"bogus": 1}, TypeError),
    ({"quiet": "yes"}, TypeError),
    ({"jobs": "4"}, TypeError),
    ({"jobs": True}, TypeError),
    ({"json": True}, TypeError),
    ({"sources": ("lmsys", "sharegpt")}, ValueError),
    ({"sources": ()}, ValueError),
    ({"reference_only": True}, ValueError),
]:
    try:
        healthchat.load(version="2.1.0", output_dir=output_dir, **options)
    except error as e:
        print(f"{options}: {type(e).__name__}: {e}")
    else:
        sys.exit(f"{options} was accepted")

for options, status, says in [
    ({"version": "9.9.9"}, 1, "annotation version 9.9.9 does not exist"),
    ({"version": "2.1.0", "jobs": 0}, 2, "--jobs"),
    # No token in this environment: lmsys is gated.
    ({"version": "2.1.0", "sources": ("lmsys",)}, 1, "gated dataset"),
]:
    try:
        healthchat.load(output_dir=output_dir, quiet=True, **options)
    except healthchat.GenerateError as e:
        assert e.exit_status == status, f"{options}: exit status {e.exit_status}, not {status}: {e}"
        assert says in e.message, f"{options}: {e.message!r} does not say {says!r}"
        print(f"{options}: exit status {e.exit_status}: {e.message.splitlines()[0]}")
    else:
        sys.exit(f"{options} succeeded")
"""

# healthchat.generate without tqdm: no progress asked for, the status lines passed through.
# argv: output dir.
GENERATE_WITHOUT_TQDM = r"""
import importlib.util, sys
import healthchat

assert importlib.util.find_spec("tqdm") is None, "tqdm is installed"
summary = healthchat.generate(version="2.1.0", sources=("wildchat",), output_dir=sys.argv[1])
print(summary["manifest"]["sources"][0]["found"], "found")
"""

WITHOUT_DATASETS = r"""
import healthchat
try:
    healthchat.load(version="2.1.0")
except ImportError as e:
    assert "healthchat[datasets]" in str(e), str(e)
    print(e)
else:
    raise SystemExit("load ran without datasets installed")
"""


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def run(self, name, check):
        try:
            detail = check()
        except Exception as error:  # a failed check is reported, then the others run
            self.failed += 1
            message = error.args[0] if isinstance(error, AssertionError) and error.args else (
                "".join(traceback.format_exception_only(error)).strip())
            print(f"FAIL  {name}\n{indent(message)}", flush=True)
        else:
            self.passed += 1
            print(f"ok    {name}" + (f"\n{indent(detail)}" if detail else ""), flush=True)


def indent(text):
    return "\n".join("      " + line for line in str(text).strip().splitlines())


def run(command, **kwargs):
    """Runs `command`; its stdout on success, an AssertionError with its output otherwise."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    shown = " ".join("<script>" if "\n" in str(part) else str(part) for part in command)
    assert result.returncode == 0, f"{shown} exited with {result.returncode}\n{result.stdout}{result.stderr}"
    return result.stdout


def without_rust(path):
    """PATH less every directory holding cargo, rustc or rustup."""
    tools = ("cargo", "rustc", "rustup")
    return os.pathsep.join(
        directory for directory in path.split(os.pathsep)
        if directory and not any(shutil.which(tool, path=directory) for tool in tools))


def start_hub():
    """testhub over the fixtures with the golden setup; the process and its endpoint."""
    binary = TARGET / "debug" / ("testhub" + (".exe" if os.name == "nt" else ""))
    assert binary.is_file(), f"{binary} is missing: run `cargo build --locked -p testhub` first"
    process = subprocess.Popen(
        [binary, "--golden", "--root", FIXTURES / "hub"],
        stdout=subprocess.PIPE, text=True)
    endpoint = process.stdout.readline().strip()
    assert endpoint.startswith("http://127.0.0.1:"), f"testhub printed {endpoint!r}"
    return process, endpoint


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", action="store_true", help="build the wheel in the release profile")
    args = parser.parse_args()

    checks = Checks()
    work = Path(tempfile.mkdtemp(prefix="healthchat-wheel-"))
    hub = None
    try:
        hub, endpoint = start_hub()
        wheels = work / "wheels"
        maturin = shutil.which("maturin", path=os.path.dirname(sys.executable)) or "maturin"
        build = [maturin, "build", "--locked", "--out", wheels] + (["--release"] if args.release else [])
        print(f"building the wheel: {' '.join(map(str, build))}", flush=True)
        subprocess.run(build, cwd=ROOT, check=True)
        [wheel] = wheels.glob("healthchat-*.whl")
        cargo_version = tomllib.loads((ROOT / "Cargo.toml").read_text())["package"]["version"]

        venv = work / "venv"
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        scripts = venv / ("Scripts" if os.name == "nt" else "bin")
        python = scripts / ("python.exe" if os.name == "nt" else "python")
        # The user's environment: the venv's scripts first, no Rust toolchain, no Hugging Face
        # or Cargo settings of the caller; the local Hub and a fresh HF_HOME.
        env = {name: value for name, value in os.environ.items()
               if not name.upper().startswith(("HF_", "HUGGING", "CARGO", "RUST", "SSL_CERT_"))
               and not name.upper().endswith("_PROXY") and name != "VIRTUAL_ENV"}
        env.update(PATH=os.pathsep.join([str(scripts), without_rust(os.environ.get("PATH", ""))]),
                   VIRTUAL_ENV=str(venv), HF_ENDPOINT=endpoint, HF_HOME=str(work / "hf-home"))
        with_token = dict(env, HF_TOKEN=TOKEN)
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]

        def no_rust():
            assert not any(shutil.which(tool, path=env["PATH"]) for tool in ("cargo", "rustc", "rustup"))
            return f"PATH={env['PATH']}"

        def installs():
            run(pip + ["--no-index", wheel], env=env)
            found = shutil.which("healthchat", path=env["PATH"])
            assert found and Path(found).parent == scripts, f"healthchat on PATH is {found}"
            return f"{wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB) -> {found}"

        # Built from this checkout: Cargo.toml's version and the commit (build.rs).
        expected_version = f"healthchat {cargo_version}"
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True)
        if (ROOT / ".git").exists() and commit.returncode == 0:
            expected_version += f" ({commit.stdout.strip()})"

        def version_is_cargos():
            printed = run(["healthchat", "--version"], env=env).strip()
            assert printed == expected_version, f"{printed!r}, not {expected_version!r} (Cargo.toml, git)"
            metadata = run([python, "-c", "import healthchat; print(healthchat.__version__)"], env=env).strip()
            assert metadata == cargo_version, f"package metadata says {metadata}"
            return printed

        def generate_golden():
            out = work / "cli"
            out.mkdir()
            stdout = run(["healthchat", "generate", "--version", VERSION, "--quiet"], cwd=out, env=with_token)
            directory = out / stdout.strip()
            for name in REFERENCE_FILES:
                expected = (FIXTURES / "expected" / f"v{VERSION}" / name).read_bytes()
                actual = (directory / name).read_bytes()
                assert actual == expected, f"{name} differs from the reference's bytes"
            run(["healthchat", "verify", directory], env=env)
            return f"{directory.name}: {', '.join(REFERENCE_FILES)} byte-identical to the reference; verify passes"

        def python_m():
            printed = run([python, "-m", "healthchat", "--version"], env=env).strip()
            assert printed == expected_version, printed
            status = subprocess.run([python, "-m", "healthchat", "generate", "--jobs", "0"],
                                    env=env, capture_output=True).returncode
            assert status == 2, f"an invalid flag gave exit status {status}, not 2"
            return f"python -m healthchat --version: {printed}; an invalid flag: exit status 2"

        def without_datasets():
            return run([python, "-c", WITHOUT_DATASETS], env=env)

        def generate_without_tqdm():
            result = subprocess.run([python, "-c", GENERATE_WITHOUT_TQDM, work / "no-tqdm"],
                                    env=env, capture_output=True, text=True)
            assert result.returncode == 0, result.stdout + result.stderr
            assert "Looking for 68 conversations in allenai/WildChat-1M" in result.stderr, result.stderr
            assert '{"progress"' not in result.stderr and "healthchat:" not in result.stderr, result.stderr
            return result.stdout + "status lines passed through; no bar, no JSON progress asked for"

        def installs_extra():
            # datasets pinned as .ci/run pins it, so pip's cache serves it.
            run(pip + [f"{wheel}[datasets]", "datasets==5.2.0"], env=env)
            return run([python, "-c", "import datasets; print('datasets', datasets.__version__)"], env=env)

        def load_both():
            out = work / "load"
            result = subprocess.run([python, "-c", LOAD_AND_COMPARE, out, "lmsys,wildchat", "quiet"],
                                    env=with_token, capture_output=True, text=True)
            assert result.returncode == 0, result.stdout + result.stderr
            # quiet=True: no bar, no progress, no status line (datasets may show its own bars).
            for said in ["healthchat:", '{"progress"', "Looking for"]:
                assert said not in result.stderr, result.stderr
            printed = result.stdout
            directory = out / f"HealthChat-11K_v{VERSION}_artifacts"
            for name in REFERENCE_FILES:
                expected = (FIXTURES / "expected" / f"v{VERSION}" / name).read_bytes()
                assert (directory / name).read_bytes() == expected, f"{name} differs from the reference's bytes"
            return printed + "reference files byte-identical"

        def load_wildchat_without_token():
            result = subprocess.run([python, "-c", LOAD_AND_COMPARE, work / "load-wildchat", "wildchat", ""],
                                    env=env, capture_output=True, text=True)
            assert result.returncode == 0, result.stdout + result.stderr
            # Not quiet: the binary's status lines and summary came through on stderr, and its
            # progress as tqdm's bar (tqdm came with the extra), not as its JSON lines.
            for line in ["Looking for 68 conversations in allenai/WildChat-1M",
                         f"HealthChat-11K v{VERSION} written to"]:
                assert line in result.stderr, f"{line!r} not on stderr:\n{result.stderr}"
            bar = [part for part in result.stderr.replace("\r", "\n").splitlines()
                   if part.startswith("healthchat: 100%|")]
            assert bar and bar[-1].endswith("66/68 conversations found]"), result.stderr
            assert '{"progress"' not in result.stderr, result.stderr
            return result.stdout + f"status lines and summary passed through on stderr; the bar: {bar[-1]}"

        def load_refuses():
            return run([python, "-c", LOAD_REFUSES, work / "refused"], env=env)

        for name, check in [
            ("no Rust toolchain on the environment's PATH", no_rust),
            ("the wheel installs and puts healthchat on PATH", installs),
            ("healthchat --version is Cargo.toml's and the commit, the package's Cargo.toml's", version_is_cargos),
            ("installed healthchat generate writes the golden bytes", generate_golden),
            ("python -m healthchat runs the binary and passes its exit status on", python_m),
            ("healthchat.load without datasets raises ImportError naming the extra", without_datasets),
            ("healthchat.generate without tqdm passes the status lines on, no bar", generate_without_tqdm),
            ("pip install healthchat[datasets] brings datasets", installs_extra),
            ("healthchat.load: both sources, rows equal the JSONL records", load_both),
            ("healthchat.load: WildChat alone, without a token, tqdm's bar", load_wildchat_without_token),
            ("healthchat.load refuses wrong options and raises GenerateError", load_refuses),
        ]:
            checks.run(name, check)
    except Exception:
        traceback.print_exc()
        checks.failed += 1
    finally:
        if hub is not None:
            hub.kill()
            hub.wait()
        shutil.rmtree(work, ignore_errors=True)
    print(f"wheel: {checks.passed} passed, {checks.failed} failed")
    sys.exit(1 if checks.failed else 0)


if __name__ == "__main__":
    main()
