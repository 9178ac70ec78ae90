#!/usr/bin/env python3
"""The healthchat benchmark: `healthchat generate` against the local Hub and from the same shards
as local files (`--source-dir`), next to the floor (a plain parallel download of the same shards
from the same server) and, when it can be installed, DuckDB doing the same selection from the
same files on local disk; each measured `--runs` times, in rounds, and reported as medians.

    python3 bench/run.py [--size-mb 1024] [--runs 5] [--https] [--rtt-ms 40]
                         [--bandwidth-mbps 100] [--latency-ms 20] [--jobs N]

It builds the release binaries, writes a synthetic corpus with the real schemas under
target/bench/ (reused by later runs with the same size and seed), serves it with `testhub`
(HTTPS with a test CA and HTTP/2 offered, a round trip on every connection, a bandwidth cap and
a per-response latency, each optional), and prints measured numbers only. The floor is curl
fetching every shard through /resolve/ and its redirect, over the same chain. Every case runs
once per round, one after the other, so that a slow moment of the machine falls on all of them.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target").resolve()
BENCH = TARGET / "bench"
TOKEN = "hf_bench_token"
# The version the timing cases generate: its selection is the one make-corpus wrote, under the
# name v1.0.0, before it wrote three versions (format 2).
VERSION = "2.1.0"
# Bump when make-corpus changes what it writes, so that older corpora are not reused.
CORPUS_FORMAT = 3
SOURCES = {
    "lmsys": ("lmsys/lmsys-chat-1m", "conversation_id"),
    "wildchat": ("allenai/WildChat-1M", "conversation_hash"),
}


def run(command, **kwargs):
    return subprocess.run(command, check=True, **kwargs)


def build():
    run(["cargo", "build", "--release", "--locked", "-p", "healthchat", "-p", "testhub"], cwd=ROOT)


def corpus(size_mb, seed):
    path = BENCH / f"corpus-{size_mb}mb-seed{seed}-format{CORPUS_FORMAT}"
    if not (path / "done").exists():
        shutil.rmtree(path, ignore_errors=True)
        run([TARGET / "release" / "make-corpus", "--fixtures", ROOT / "tests" / "fixtures" / "hub",
             "--out", path, "--size-mb", str(size_mb), "--seed", str(seed)],
            stderr=subprocess.DEVNULL)
        (path / "done").write_text("")
    return path


def shards(corpus_path):
    found = []
    for source, (repo, _) in SOURCES.items():
        for shard in sorted((corpus_path / "datasets" / repo / "data").glob("*.parquet")):
            found.append((source, repo, shard))
    return found


class Hub:
    def __init__(self, corpus_path, args):
        command = [TARGET / "release" / "testhub", "--root", corpus_path, "--redirect-from", "1000000",
                   "--gate", f"lmsys/lmsys-chat-1m={TOKEN}"]
        if args.bandwidth_mbps:
            command += ["--bandwidth-mbps", str(args.bandwidth_mbps)]
        if args.latency_ms:
            command += ["--latency-ms", str(args.latency_ms)]
        if args.rtt_ms:
            command += ["--rtt-ms", str(args.rtt_ms)]
        if args.https:
            command += ["--https", "h2"]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        self.endpoint = self.process.stdout.readline().strip()
        self.ca_file = self.process.stdout.readline().strip() if args.https else None

    def stop(self):
        self.process.terminate()
        self.process.wait()


def floor(hub, shard_list, jobs):
    """Every shard downloaded once, `jobs` at a time, by curl: the network's cost of the job."""
    command = ["curl", "--no-progress-meter", "--fail", "--location", "--parallel",
               "--parallel-max", str(jobs), "--header", f"Authorization: Bearer {TOKEN}"]
    if hub.ca_file:
        command += ["--cacert", hub.ca_file]
    for _, repo, shard in shard_list:
        command += ["--output", "/dev/null", f"{hub.endpoint}/datasets/{repo}/resolve/main/data/{shard.name}"]
    started = time.monotonic()
    run(command)
    return time.monotonic() - started


def generate(hub, jobs, source_dir=None):
    """One `healthchat generate` with every output: shards from the Hub, or from `source_dir`
    (the annotation file still comes from the Hub). Its wall time, peak RSS and records."""
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as out:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env.update(HF_ENDPOINT=hub.endpoint, HF_TOKEN=TOKEN, HF_HOME=home)
        if hub.ca_file:
            env["SSL_CERT_FILE"] = hub.ca_file
        command = ["/usr/bin/time", "-f", "%M", TARGET / "release" / "healthchat", "generate",
                   "--version", VERSION, "--output-dir", out, "--quiet"]
        if jobs:
            command += ["--jobs", str(jobs)]
        if source_dir:
            command += ["--source-dir", source_dir]
        started = time.monotonic()
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        if result.returncode != 0:
            sys.exit(f"healthchat generate failed:\n{result.stderr}")
        peak_kb = int(result.stderr.strip().splitlines()[-1])
        jsonl = Path(out) / f"HealthChat-11K_v{VERSION}_artifacts" / f"HealthChat-11K_v{VERSION}.jsonl"
        with open(jsonl, "rb") as f:
            records = sum(1 for _ in f)
        return elapsed, peak_kb * 1024, records


DUCKDB_QUERY = r"""
import json, sys, time, duckdb
corpus, annotations, out, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[5])
wanted = {"lmsys": [], "wildchat": []}
for line in open(annotations):
    record = json.loads(line)
    if record.get("dataset_source") in wanted and record.get("conversation_id"):
        wanted[record["dataset_source"]].append(record["conversation_id"])
sources = json.loads(sys.argv[4])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
started = time.monotonic()
for source, (repo, column) in sources.items():
    con.execute(f"CREATE TEMP TABLE wanted_{source} AS SELECT unnest(?) AS id", [wanted[source]])
    con.execute(f"COPY (SELECT * FROM read_parquet('{corpus}/datasets/{repo}/data/*.parquet') "
                f"WHERE {column} IN (SELECT id FROM wanted_{source})) TO '{out}/{source}.json' (FORMAT JSON)")
elapsed = time.monotonic() - started
rows = sum(sum(1 for _ in open(f"{out}/{source}.json")) for source in sources)
print(elapsed, rows)
"""


def duckdb_python():
    """A Python with DuckDB (installed in a venv under target/bench/), and its version; or None
    and why not."""
    venv = BENCH / "venv"
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            run([sys.executable, "-m", "venv", venv], stdout=subprocess.DEVNULL)
        result = subprocess.run([python, "-c", "import duckdb"], capture_output=True)
        if result.returncode != 0:
            run([python, "-m", "pip", "install", "--quiet", "duckdb"], stdout=subprocess.DEVNULL)
    except (subprocess.CalledProcessError, OSError) as error:
        return None, f"DuckDB could not be installed ({error}); skipped"
    version = subprocess.run([python, "-c", "import duckdb; print(duckdb.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    return python, version


def duckdb_time(python, corpus_path, threads):
    """One run of the DuckDB query: its time and the rows it wrote, or None and what failed."""
    annotations = corpus_path / "datasets" / "yahskapar" / "HealthChat-11K" / \
        f"HealthChat-11K_master_annotations_v{VERSION}.jsonl"
    with tempfile.TemporaryDirectory() as out:
        result = subprocess.run([python, "-c", DUCKDB_QUERY, corpus_path, annotations, out,
                                 json.dumps(SOURCES), str(threads)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            return None, f"the DuckDB query failed:\n{result.stderr}"
        elapsed, rows = result.stdout.strip().splitlines()[-1].split()
        return float(elapsed), int(rows)


def spread(times):
    """The median of `times`, and their range."""
    return f"{statistics.median(times):7.2f} s  ({min(times):.2f}–{max(times):.2f})"


def default_jobs():
    """healthchat's own --jobs default, as its help shows it."""
    help_text = run([TARGET / "release" / "healthchat", "generate", "--help"], capture_output=True, text=True).stdout
    jobs_help = help_text[help_text.index("--jobs"):]
    return int(jobs_help[jobs_help.index("[default: ") + len("[default: "):].split("]")[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024, help="compressed size of the shards (default 1024)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5, help="rounds of every case; medians are reported (default 5)")
    parser.add_argument("--bandwidth-mbps", type=float, default=0, help="cap on all responses, MB/s (default none)")
    parser.add_argument("--latency-ms", type=float, default=0, help="added before every response")
    parser.add_argument("--rtt-ms", type=float, default=0, help="round trip added to every connection")
    parser.add_argument("--https", action="store_true", help="HTTPS with a test CA, HTTP/2 offered")
    parser.add_argument("--jobs", type=int, default=0, help="healthchat --jobs (default: its own default)")
    parser.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB comparison")
    args = parser.parse_args()

    build()
    corpus_path = corpus(args.size_mb, args.seed)
    shard_list = shards(corpus_path)
    total = sum(shard.stat().st_size for _, _, shard in shard_list)
    for _, _, shard in shard_list:  # into the page cache, for the server and DuckDB alike
        with open(shard, "rb") as f:
            while f.read(1 << 24):
                pass
    jobs = args.jobs or default_jobs()
    threads = os.cpu_count()
    duck_python, duck_version = (None, "skipped (--no-duckdb)") if args.no_duckdb else duckdb_python()

    cap = f"{args.bandwidth_mbps:g} MB/s" if args.bandwidth_mbps else "none (loopback)"
    scheme = "HTTPS (HTTP/2 offered)" if args.https else "HTTP/1.1 cleartext"
    print(f"machine: {threads} cores; corpus: {total / 1e6:.0f} MB in {len(shard_list)} shards "
          f"({corpus_path.name}); {scheme}; round trip: {args.rtt_ms:g} ms; bandwidth cap: {cap}; "
          f"latency: {args.latency_ms:g} ms; jobs: {jobs}; runs: {args.runs} (medians, range)")
    floors, hub_runs, local_runs, duck_runs = [], [], [], []
    duck_rows, duck_failure = None, None
    hub = Hub(corpus_path, args)
    try:
        for _ in range(args.runs):
            floors.append(floor(hub, shard_list, jobs))
            hub_runs.append(generate(hub, jobs))
            local_runs.append(generate(hub, jobs, corpus_path / "datasets"))
            if duck_python and not duck_failure:
                elapsed, rows = duckdb_time(duck_python, corpus_path, threads)
                if elapsed is None:
                    duck_failure = rows
                else:
                    duck_runs.append(elapsed)
                    duck_rows = rows
    finally:
        hub.stop()

    records = hub_runs[0][2]
    if any(run[2] != records for run in hub_runs + local_runs):
        sys.exit(f"the runs wrote different numbers of conversations: {hub_runs + local_runs}")
    floor_s = statistics.median(floors)
    print(f"floor: curl, {jobs} parallel downloads   {spread(floors)}  {total / 1e6 / floor_s:6.0f} MB/s")
    medians = {}
    for label, runs in (("from the Hub", hub_runs), ("from local files", local_runs)):
        times = [run[0] for run in runs]
        medians[label] = statistics.median(times)
        print(f"healthchat generate, {label:16s} {spread(times)}  {total / 1e6 / medians[label]:6.0f} MB/s"
              f"  peak RSS {max(run[1] for run in runs) / 1e6:.0f} MB  ({records} conversations)")
    print(f"generate from the Hub / floor           {medians['from the Hub'] / floor_s:7.2f}")
    if not duck_runs:
        print(duck_failure or f"DuckDB {duck_version}")
        return
    duck_s = statistics.median(duck_runs)
    agreement = "same" if duck_rows == records else f"DIFFERENT from healthchat's {records}"
    print(f"duckdb {duck_version}, {threads} threads, local files {spread(duck_runs)}"
          f"  {total / 1e6 / duck_s:6.0f} MB/s  ({duck_rows} rows: {agreement})")
    for label, median in medians.items():
        print(f"speed-up over DuckDB, {label:16s} {duck_s / median:7.2f} ×")


if __name__ == "__main__":
    main()
