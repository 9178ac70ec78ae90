#!/usr/bin/env python3
"""The healthchat benchmark: `healthchat generate` against the local Hub and from the same shards
as local files (`--source-dir`), next to the floor (a plain parallel download of the same shards
from the same server) and, when it can be installed, DuckDB doing the same selection from the
same files on local disk; each measured `--runs` times, in rounds, and reported as medians.

    python3 bench/run.py [--size-mb 1024] [--runs 5] [--https] [--rtt-ms 40]
                         [--bandwidth-mbps 100] [--latency-ms 20] [--jobs N]
                         [--cache] [--cache-only]

It builds the release binaries, writes a synthetic corpus with the real schemas and the real
sources' shape (message lengths, languages, a large vocabulary, bytes a row: testhub::corpus;
its statistics printed beside the results) under target/bench/ (reused by later runs with the
same size and seed), serves it with `testhub`
(HTTPS with a test CA and HTTP/2 offered, a round trip on every connection, a bandwidth cap and
a per-response latency, each optional), and prints measured numbers only. The floor is curl
fetching every shard through /resolve/ and its redirect, over the same chain. Every case runs
once per round, one after the other, so that a slow moment of the machine falls on all of them.

With --cache (--cache-only: nothing else), a second table measures the cache of matched rows,
each round in a Hugging Face home of its own kept from case to case: (a) a cold run of 2.1.0,
(b) 2.1.0 again, (c) 2.0.0 after it, (d) 1.0.0 after it, beside the bytes of the row groups that
hold 1.0.0's IDs that 2.1.0 lacks (read with pyarrow, installed in the venv under target/bench/);
then, each in a fresh home, a cold run of 2.1.0 stopped by (e) SIGINT or (f) SIGKILL once the
Hub has sent it 60 % of the cold run's shard bytes (the testhub's --stats-file, every 10 ms),
and run again: the bytes of both against one cold run, and what was in the socket buffers (`ss`)
at the stop. Bytes are the `network_bytes` of `--json` for a run that ends, checked against the
`sent_bytes` of its shard GETs in the testhub's request log (`--request-log`: the body bytes
actually sent, where `body_bytes`, the Content-Length, would count a cut response whole), which
count the stopped runs and their re-runs.
Every JSONL is compared with the one of a run of the same version without the cache.
"""

import argparse
import hashlib
import json
import os
import shutil
import signal
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
CORPUS_FORMAT = 4
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


def describe_corpus(corpus_path):
    """The corpus's shape as make-corpus measured it (corpus-stats.json), one line a source, so
    that a run's numbers can be set beside the real sources': lmsys 1.5 KB a row, user 81 and
    assistant 376 characters (medians); WildChat 4.0 KB, 190 and 1,065."""
    stats = json.loads((corpus_path / "corpus-stats.json").read_text())
    for source in stats["sources"]:
        print(f"  {source['repo']:22s} {source['rows']:>9,} rows  {source['bytes_per_row'] / 1e3:4.2f} KB a row  "
              f"median characters: user {source['median_user_characters']}, "
              f"assistant {source['median_assistant_characters']}  "
              f"non-ASCII: {source['non_ascii_share']:.1%} of characters")


def shards(corpus_path):
    found = []
    for source, (repo, _) in SOURCES.items():
        for shard in sorted((corpus_path / "datasets" / repo / "data").glob("*.parquet")):
            found.append((source, repo, shard))
    return found


class Hub:
    def __init__(self, corpus_path, args, request_log=None, stats_file=None):
        command = [TARGET / "release" / "testhub", "--root", corpus_path, "--redirect-from", "1000000",
                   "--gate", f"lmsys/lmsys-chat-1m={TOKEN}"]
        if request_log:
            command += ["--request-log", request_log]
        if stats_file:
            command += ["--stats-file", stats_file]
        self.stats_file = stats_file
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
        self.port = int(self.endpoint.rsplit(":", 1)[1])

    def shard_bytes_sent(self):
        """The shard bytes sent so far, as the testhub's --stats-file says (every 10 ms)."""
        while True:
            try:
                return json.loads(Path(self.stats_file).read_text())["shard_bytes_sent"]
            except (OSError, ValueError):
                time.sleep(0.01)  # not written yet

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


def hub_env(hub, home):
    """The environment of a run against `hub` with `home` as HF_HOME (and so its cache of rows in
    `home`/healthchat): no Hugging Face or healthchat setting of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_") and k != "HEALTHCHAT_CACHE"}
    env.update(HF_ENDPOINT=hub.endpoint, HF_TOKEN=TOKEN, HF_HOME=home)
    if hub.ca_file:
        env["SSL_CERT_FILE"] = hub.ca_file
    return env


def generate(hub, jobs, source_dir=None):
    """One `healthchat generate` with every output: shards from the Hub, or from `source_dir`
    (the annotation file still comes from the Hub). Its wall time, peak RSS and records."""
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as out:
        env = hub_env(hub, home)
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


def venv_python(module):
    """A Python with `module` (pip-installed in a venv under target/bench/ if missing), and the
    module's version; or None and why not."""
    venv = BENCH / "venv"
    python = venv / "bin" / "python"
    try:
        if not python.exists():
            run([sys.executable, "-m", "venv", venv], stdout=subprocess.DEVNULL)
        result = subprocess.run([python, "-c", f"import {module}"], capture_output=True)
        if result.returncode != 0:
            run([python, "-m", "pip", "install", "--quiet", module], stdout=subprocess.DEVNULL)
    except (subprocess.CalledProcessError, OSError) as error:
        return None, str(error)
    version = subprocess.run([python, "-c", f"import {module}; print({module}.__version__)"],
                             capture_output=True, text=True).stdout.strip()
    return python, version


def duckdb_python():
    """A Python with DuckDB (installed in a venv under target/bench/), and its version; or None
    and why not."""
    python, version = venv_python("duckdb")
    return (python, version) if python else (None, f"DuckDB could not be installed ({version}); skipped")


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


# The cache of matched rows (--cache).

ANNOTATIONS = Path("datasets") / "yahskapar" / "HealthChat-11K"
INTERRUPT_AT = 0.6

ROW_GROUP_BYTES = r"""
import json, sys
import pyarrow.parquet as pq
ids = set(json.load(open(sys.argv[1])))
found = {"bytes": 0, "groups": 0, "ids": 0}
for path in sys.argv[2:]:
    shard = pq.ParquetFile(path)
    names = shard.schema_arrow.names
    column = "conversation_id" if "conversation_id" in names else "conversation_hash"
    for index in range(shard.metadata.num_row_groups):
        held = sum(1 for id in shard.read_row_group(index, columns=[column]).column(0).to_pylist() if id in ids)
        if not held:
            continue
        # From the group's first column chunk's start to its last one's end, as a byte range.
        group = shard.metadata.row_group(index)
        spans = []
        for chunk in (group.column(c) for c in range(group.num_columns)):
            start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
            spans.append((start, start + chunk.total_compressed_size))
        found["bytes"] += max(end for _, end in spans) - min(start for start, _ in spans)
        found["groups"] += 1
        found["ids"] += held
print(json.dumps(found))
"""


def annotated_ids(corpus_path, version):
    ids = []
    with open(corpus_path / ANNOTATIONS / f"HealthChat-11K_master_annotations_v{version}.jsonl") as f:
        for line in f:
            ids.append(json.loads(line)["conversation_id"])
    return ids


def row_groups_holding(corpus_path, shard_list, ids):
    """The bytes and count of the row groups of the corpus that hold any of `ids` (pyarrow in the
    bench's venv), or None and why not."""
    python, why = venv_python("pyarrow")
    if not python:
        return None, f"pyarrow could not be installed ({why})"
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        json.dump(sorted(ids), f)
        f.flush()
        result = subprocess.run([python, "-c", ROW_GROUP_BYTES, f.name] + [str(shard) for _, _, shard in shard_list],
                                capture_output=True, text=True)
    if result.returncode != 0:
        return None, f"pyarrow could not read the shards:\n{result.stderr}"
    return json.loads(result.stdout), None


class RequestLog:
    """The testhub's request log, read on from where the last read stopped."""

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def take(self):
        """The shard bytes (sent, and as Content-Length) of the requests logged since the last
        call, once the log has been still for a moment: a request is logged when its response
        body has been sent or dropped, which for a run stopped part-way is a little after it
        ended."""
        size, still_since, waited = -1, time.monotonic(), time.monotonic()
        while time.monotonic() - still_since < 0.3 and time.monotonic() - waited < 10:
            time.sleep(0.05)
            now = self.path.stat().st_size if self.path.exists() else 0
            if now != size:
                size, still_since = now, time.monotonic()
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            text = f.read()
        text = text[: text.rfind(b"\n") + 1]
        self.offset += len(text)
        sent = content_length = 0
        for line in text.splitlines():
            request = json.loads(line)
            if request["method"] == "GET" and request["path"].endswith(".parquet"):
                sent += request["sent_bytes"]
                content_length += request["body_bytes"]
        return sent, content_length


def jsonl_digest(out, version):
    jsonl = Path(out) / f"HealthChat-11K_v{version}_artifacts" / f"HealthChat-11K_v{version}.jsonl"
    with open(jsonl, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def cache_command(out, version, jobs, extra=()):
    command = [TARGET / "release" / "healthchat", "generate", "--version", version,
               "--output-dir", out, "--quiet", "--json", *extra]
    if jobs:
        command += ["--jobs", str(jobs)]
    return command


def cached_generate(hub, home, version, jobs, log, extra=()):
    """One `healthchat generate --json` with `home` as HF_HOME: its wall time, summary, the SHA-256
    of its JSONL and the shard bytes the Hub's log shows it was sent."""
    with tempfile.TemporaryDirectory() as out:
        started = time.monotonic()
        result = subprocess.run(cache_command(out, version, jobs, extra), env=hub_env(hub, home),
                                capture_output=True, text=True)
        elapsed = time.monotonic() - started
        if result.returncode != 0:
            sys.exit(f"healthchat generate --version {version} failed:\n{result.stderr}")
        summary = json.loads(result.stdout)
        digest = jsonl_digest(out, version)
    sent, _ = log.take()
    return {"time": elapsed, "bytes": summary["network_bytes"], "rows_from_cache": summary["rows_from_cache"],
            "digest": digest, "logged": sent}


def kernel_buffered(port):
    """Bytes in the kernel's buffers of the connections to the Hub on `port`: received and not
    yet read by the client, and sent by the server and not yet acknowledged (`ss`)."""
    result = subprocess.run(["ss", "-tnH", "state", "established"], capture_output=True, text=True)
    buffered = 0
    for line in result.stdout.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        receive_queue, send_queue, local, peer = int(fields[0]), int(fields[1]), fields[2], fields[3]
        if peer.endswith(f":{port}"):
            buffered += receive_queue
        elif local.endswith(f":{port}"):
            buffered += send_queue
    return buffered


def stopped_generate(hub, home, version, jobs, log, stop, cold_bytes):
    """A cold run stopped by `stop` once the Hub has sent it INTERRUPT_AT of `cold_bytes` shard
    bytes: the shard bytes it was sent (the Hub's log), its exit status, when it was stopped and
    how much of what it was sent was still in the kernel's socket buffers then."""
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryFile() as stderr:
        before = hub.shard_bytes_sent()
        started = time.monotonic()
        child = subprocess.Popen(cache_command(out, version, jobs), env=hub_env(hub, home),
                                 stdout=subprocess.DEVNULL, stderr=stderr)
        while hub.shard_bytes_sent() - before < INTERRUPT_AT * cold_bytes:
            if child.poll() is not None:
                stderr.seek(0)
                sys.exit(f"the run to stop with {stop.name} ended first (exit {child.returncode}):\n"
                         f"{stderr.read().decode(errors='replace')}")
            time.sleep(0.002)
        buffered = kernel_buffered(hub.port)
        stopped_at = time.monotonic() - started
        child.send_signal(stop)
        status = child.wait()
    sent, content_length = log.take()
    return {"bytes": sent, "content_length": content_length, "status": status, "stopped_at": stopped_at,
            "buffered": buffered}


def run_cache_cases(corpus_path, shard_list, total, args, jobs):
    """The cache cases (see the module's docstring): their measured numbers, and the problems
    they show against what the cache promises."""
    log_path = Path(tempfile.mkdtemp(prefix="healthchat-bench-log-")) / "requests.jsonl"
    log = RequestLog(log_path)
    hub = Hub(corpus_path, args, request_log=log_path, stats_file=log_path.parent / "stats.json")
    rounds = []
    try:
        # The outputs without the cache, to compare with.
        with tempfile.TemporaryDirectory() as home:
            reference = {version: cached_generate(hub, home, version, jobs, log, ["--no-cache"])
                         for version in ("2.1.0", "2.0.0", "1.0.0")}
        for _ in range(args.runs):
            measured = {}
            with tempfile.TemporaryDirectory() as home:
                measured["a"] = cached_generate(hub, home, "2.1.0", jobs, log)
                measured["b"] = cached_generate(hub, home, "2.1.0", jobs, log)
                measured["c"] = cached_generate(hub, home, "2.0.0", jobs, log)
                measured["d"] = cached_generate(hub, home, "1.0.0", jobs, log)
            for case, stop in (("e", signal.SIGINT), ("f", signal.SIGKILL)):
                with tempfile.TemporaryDirectory() as home:
                    stopped = stopped_generate(hub, home, "2.1.0", jobs, log, stop, measured["a"]["logged"])
                    again = cached_generate(hub, home, "2.1.0", jobs, log)
                again["stopped"] = stopped
                measured[case] = again
            rounds.append(measured)
    finally:
        hub.stop()
        shutil.rmtree(log_path.parent, ignore_errors=True)

    new_ids = set(annotated_ids(corpus_path, "1.0.0")) - set(annotated_ids(corpus_path, "2.1.0"))
    holding, holding_failure = row_groups_holding(corpus_path, shard_list, new_ids)
    return reference, rounds, new_ids, holding, holding_failure


def mb(count):
    return f"{count / 1e6:9.2f} MB"


def report_cache(reference, rounds, new_ids, holding, holding_failure, total, jobs, setting):
    problems = []
    cold = [r["a"]["bytes"] for r in rounds]
    print()
    print(f"cache of matched rows: {setting}; corpus {total / 1e6:.0f} MB of shards; jobs {jobs}; "
          f"{len(rounds)} rounds, each in a Hugging Face home of its own (medians, range)")
    print(f"{'case':38s} {'time':>26s} {'network bytes':>13s} {'of shards':>9s} {'rows from cache':>15s}  JSONL")
    labels = {
        "a": ("(a) 2.1.0, cache empty", "2.1.0"),
        "b": ("(b) 2.1.0 again", "2.1.0"),
        "c": ("(c) 2.0.0 after 2.1.0", "2.0.0"),
        "d": ("(d) 1.0.0 after 2.1.0", "1.0.0"),
        "e": ("(e) SIGINT at 60 %, then again", "2.1.0"),
        "f": ("(f) SIGKILL at 60 %, then again", "2.1.0"),
    }
    for case, (label, version) in labels.items():
        runs = [r[case] for r in rounds]
        byte_counts = [run["bytes"] for run in runs]
        median_bytes = statistics.median(byte_counts)
        rows = statistics.median(run["rows_from_cache"] for run in runs)
        # (b), (e), (f) against the same round's cold run (a); (a), (c), (d) against a run of
        # their version without the cache.
        if case in "bef":
            against, expected = "(a)", [r["a"]["digest"] for r in rounds]
        else:
            against, expected = f"--no-cache {version}", [reference[version]["digest"]] * len(runs)
        differ = sum(run["digest"] != digest for run, digest in zip(runs, expected))
        if differ:
            problems.append(f"{label}: the JSONL differs from {against}'s in {differ} of {len(runs)} rounds")
        what = "re-run " if case in "ef" else ""
        print(f"{label:38s} {what + spread([run['time'] for run in runs]):>26s} {median_bytes / 1e6:10.2f} MB"
              f" {median_bytes / total:9.1%} {rows:15.0f}  {'DIFFERENT from' if differ else 'identical to'}"
              f" {against}'s")
        mismatches = [run["bytes"] - run["logged"] for run in runs if run["bytes"] != run["logged"]]
        if mismatches:
            problems.append(f"{label}: in {len(mismatches)} of {len(runs)} rounds the summary's network_bytes "
                            f"is not what the Hub sent: network_bytes − sent = "
                            f"{', '.join(f'{d:+d} ({d / 2**20:+.2f} MiB)' for d in mismatches)}")
        if case in "bc":
            worst = max(byte_counts)
            if worst * 100 > total:
                problems.append(f"{label}: fetched {worst} bytes, more than 1 % of the {total} shard bytes")
        if case == "d":
            if holding:
                print(f"{'':38s} fetched {mb(median_bytes).strip()}; row groups holding 1.0.0's {len(new_ids)} "
                      f"new IDs: {mb(holding['bytes']).strip()} ({holding['groups']} row groups; "
                      f"fetched / those = {median_bytes / max(1, holding['bytes']):.3f})")
                if max(byte_counts) > holding["bytes"] + total / 100:
                    problems.append(f"{label}: fetched {max(byte_counts)} bytes, more than the "
                                    f"{holding['bytes']} bytes of the row groups holding the new IDs + 1 % "
                                    f"of the shards ({total // 100})")
            else:
                print(f"{'':38s} fetched {mb(median_bytes).strip()}; row groups of the new IDs unknown: "
                      f"{holding_failure}")
        if case in "ef":
            # Both parts as the Hub counted them (sent_bytes), against the cold run's.
            limit = 110 if case == "e" else 115
            cold_sent = [r["a"]["logged"] for r in rounds]
            totals = [(run["stopped"]["bytes"] + run["logged"]) / a for run, a in zip(runs, cold_sent)]
            by_summary = [(run["stopped"]["bytes"] + run["bytes"]) / a for run, a in zip(runs, cold_sent)]
            naive = [(run["stopped"]["content_length"] + run["logged"]) / a for run, a in zip(runs, cold_sent)]
            stopped_share = [run["stopped"]["bytes"] / a for run, a in zip(runs, cold_sent)]
            extra = [run["stopped"]["bytes"] + run["logged"] - a for run, a in zip(runs, cold_sent)]
            buffered = [run["stopped"]["buffered"] for run in runs]
            statuses = sorted({run["stopped"]["status"] for run in runs})
            print(f"{'':38s} stopped after {statistics.median(r['stopped']['stopped_at'] for r in runs):.2f} s"
                  f" (exit {', '.join(map(str, statuses))}), having been sent {statistics.median(stopped_share):.1%}"
                  f" of a cold run ({min(stopped_share):.1%}–{max(stopped_share):.1%})")
            print(f"{'':38s} stopped + re-run, as the Hub sent them: {statistics.median(totals):.1%} of one cold run"
                  f" ({min(totals):.1%}–{max(totals):.1%}; limit {limit} %); fetched twice: "
                  f"{statistics.median(extra) / 1e6:.1f} MB, of which in socket buffers at the stop: "
                  f"{statistics.median(buffered) / 1e6:.1f} MB")
            print(f"{'':38s} (stopped run + re-run's network_bytes: {statistics.median(by_summary):.1%}; "
                  f"the stopped run by Content-Length instead: {statistics.median(naive):.1%})")
            if max(totals) * 100 > limit:
                problems.append(f"{label}: stopped + re-run were sent up to {max(totals):.1%} of one cold run "
                                f"(limit {limit} %): {', '.join(f'{t:.1%}' for t in totals)}")
            if any(status == 0 for status in statuses):
                problems.append(f"{label}: a stopped run exited 0")
    print(f"{'cold run (a) network bytes':38s} {'':26s} {statistics.median(cold) / 1e6:10.2f} MB"
          f" {statistics.median(cold) / total:9.1%}")
    for problem in problems:
        print(f"PROBLEM: {problem}")
    if not problems:
        print("no problem: (b), (c) under 1 % of the shards; (d) within the new IDs' row groups + 1 %; "
              "(e) ≤ 110 %, (f) ≤ 115 % of a cold run; every JSONL identical")
    return problems


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
    parser.add_argument("--cache", action="store_true",
                        help="also measure the cache of matched rows (a separate table; needs pyarrow, "
                             "pip-installed in the venv under target/bench/)")
    parser.add_argument("--cache-only", action="store_true", help="only the cache table (implies --cache)")
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
    cap = f"{args.bandwidth_mbps:g} MB/s" if args.bandwidth_mbps else "none (loopback)"
    scheme = "HTTPS (HTTP/2 offered)" if args.https else "HTTP/1.1 cleartext"
    setting = (f"{scheme}; round trip: {args.rtt_ms:g} ms; bandwidth cap: {cap}; "
               f"latency: {args.latency_ms:g} ms")
    if args.cache_only:
        print(f"machine: {threads} cores; corpus: {total / 1e6:.0f} MB in {len(shard_list)} shards "
              f"({corpus_path.name}); {setting}; jobs: {jobs}; runs: {args.runs}")
        describe_corpus(corpus_path)
        report_cache(*run_cache_cases(corpus_path, shard_list, total, args, jobs), total, jobs, setting)
        return
    duck_python, duck_version = (None, "skipped (--no-duckdb)") if args.no_duckdb else duckdb_python()

    print(f"machine: {threads} cores; corpus: {total / 1e6:.0f} MB in {len(shard_list)} shards "
          f"({corpus_path.name}); {setting}; jobs: {jobs}; runs: {args.runs} (medians, range)")
    describe_corpus(corpus_path)
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
    else:
        duck_s = statistics.median(duck_runs)
        agreement = "same" if duck_rows == records else f"DIFFERENT from healthchat's {records}"
        print(f"duckdb {duck_version}, {threads} threads, local files {spread(duck_runs)}"
              f"  {total / 1e6 / duck_s:6.0f} MB/s  ({duck_rows} rows: {agreement})")
        for label, median in medians.items():
            print(f"speed-up over DuckDB, {label:16s} {duck_s / median:7.2f} ×")
    if args.cache:
        report_cache(*run_cache_cases(corpus_path, shard_list, total, args, jobs), total, jobs, setting)


if __name__ == "__main__":
    main()
