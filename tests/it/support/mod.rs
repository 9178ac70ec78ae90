//! The integration-test harness: a local Hub over the golden fixtures, and the real binary run in
//! a fresh temporary directory with a fresh `HF_HOME`.

use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;
pub use testhub::golden::{ANNOTATIONS, DENIED_TOKEN, GRANTED_TOKEN, LMSYS, WILDCHAT};
pub use testhub::{ConnectProxy, Faults, HubConfig, RequestRecord, TestHub};

pub const VERSIONS: [&str; 3] = ["1.0.0", "2.0.0", "2.1.0"];
/// The WildChat shard that tests break or damage.
pub const WILDCHAT_SHARD: &str = "data/train-00001-of-00004.parquet";

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The golden Hub tree, laid out like the Hub: `datasets/{owner}/{name}/...`.
pub fn hub_tree() -> PathBuf {
    fixtures().join("hub")
}

/// `repo`'s folder in a Hub tree.
pub fn repo_dir(tree: &Path, repo: &str) -> PathBuf {
    tree.join("datasets").join(repo)
}

/// The annotation file of `version` in a Hub tree.
pub fn annotation_file(tree: &Path, version: &str) -> PathBuf {
    repo_dir(tree, ANNOTATIONS).join(format!(
        "HealthChat-11K_master_annotations_v{version}.jsonl"
    ))
}

/// The golden Hub tree as [`testhub::golden::config`] serves it: lmsys gated (granted to
/// [`GRANTED_TOKEN`]), parquet shards redirected to the storage host like the real Hub's large
/// files, listings paginated two entries a page.
pub fn golden_hub_config() -> HubConfig {
    hub_config_at(&hub_tree())
}

/// The golden Hub's settings over another tree laid out like it.
pub fn hub_config_at(root: &Path) -> HubConfig {
    testhub::golden::config(root)
}

pub fn golden_hub() -> TestHub {
    TestHub::start(golden_hub_config()).expect("the test hub starts")
}

/// A working directory and a Hugging Face home of its own.
pub struct Workspace {
    pub dir: TempDir,
    pub hf_home: TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temp dir"),
            hf_home: tempfile::tempdir().expect("a temp dir"),
        }
    }

    /// `healthchat ARGS` in the workspace against `hub`, with `token` as HF_TOKEN.
    pub fn run(&self, hub: &TestHub, token: Option<&str>, args: &[&str]) -> Output {
        self.command(hub, token)
            .args(args)
            .output()
            .expect("the binary runs")
    }

    /// The binary, ready to run in the workspace against `hub`, with `token` as HF_TOKEN and no
    /// other Hugging Face setting from the caller's environment.
    pub fn command(&self, hub: &TestHub, token: Option<&str>) -> std::process::Command {
        self.command_for(healthchat_binary(), hub, token)
    }

    /// `program` with the environment of [`Workspace::command`].
    pub fn command_for(
        &self,
        program: impl AsRef<std::ffi::OsStr>,
        hub: &TestHub,
        token: Option<&str>,
    ) -> std::process::Command {
        let mut command = std::process::Command::new(program);
        command.current_dir(self.dir.path());
        for (name, _) in std::env::vars() {
            let upper = name.to_ascii_uppercase();
            if upper.starts_with("HF_")
                || upper.starts_with("HUGGING")
                || upper.ends_with("_PROXY")
                || upper.starts_with("SSL_CERT_")
            {
                command.env_remove(name);
            }
        }
        command
            .env("HF_ENDPOINT", hub.endpoint())
            .env("HF_HOME", self.hf_home.path());
        if let Some(ca) = hub.ca_file() {
            command.env("SSL_CERT_FILE", ca);
        }
        if let Some(token) = token {
            command.env("HF_TOKEN", token);
        }
        command
    }

    /// [`Workspace::run`], killed if it is still running after `limit`: a guard against a run
    /// that waits for something it should not (not a benchmark: the limit is far above a
    /// clean run's time).
    pub fn run_within(
        &self,
        hub: &TestHub,
        token: Option<&str>,
        args: &[&str],
        limit: std::time::Duration,
    ) -> Output {
        let mut child = self
            .command(hub, token)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let started = std::time::Instant::now();
        while child.try_wait().expect("waitable").is_none() {
            if started.elapsed() > limit {
                child.kill().expect("killable");
                let output = child.wait_with_output().expect("waitable");
                panic!(
                    "healthchat was still running after {limit:?}; it waited for something:\n{}",
                    stderr(&output)
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child.wait_with_output().expect("waitable")
    }

    /// `healthchat generate --version VERSION` with the granted token, which must succeed and
    /// write the reference's bytes.
    pub fn generate_golden(&self, hub: &TestHub, version: &str) -> Output {
        let output = self.run(
            hub,
            Some(GRANTED_TOKEN),
            &["generate", "--version", version],
        );
        assert_success(&output);
        assert_matches_golden(&self.artifacts(version), version);
        output
    }

    /// `healthchat generate --version VERSION` offline (`HF_HUB_OFFLINE`, the annotation file
    /// from the cache) with the shards from the fixture tree (`--source-dir`), which must
    /// succeed and write the reference's bytes.
    pub fn generate_offline_from_fixtures(&self, hub: &TestHub, version: &str) -> Output {
        let output = self
            .command(hub, Some(GRANTED_TOKEN))
            .env("HF_HUB_OFFLINE", "1")
            .args(["generate", "--version", version, "--source-dir"])
            .arg(hub_tree())
            .output()
            .expect("the binary runs");
        assert_success(&output);
        assert_matches_golden(&self.artifacts(version), version);
        output
    }

    /// `healthchat generate --version VERSION` with the granted token, which must fail; its
    /// stderr.
    pub fn generate_failing(&self, hub: &TestHub, version: &str) -> String {
        let output = self.run(
            hub,
            Some(GRANTED_TOKEN),
            &["generate", "--version", version],
        );
        assert!(!output.status.success(), "{}", stderr(&output));
        stderr(&output)
    }

    pub fn artifacts(&self, version: &str) -> PathBuf {
        self.dir
            .path()
            .join(format!("HealthChat-11K_v{version}_artifacts"))
    }

    /// Entries of the working directory, to check that nothing half-done was left.
    pub fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path())
            .expect("readable")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

pub fn healthchat_binary() -> &'static Path {
    assert_cmd::cargo::cargo_bin!("healthchat")
}

/// A writable copy of the golden Hub tree, to break on purpose.
pub fn hub_tree_copy() -> TempDir {
    let tree = tempfile::tempdir().expect("a temp dir");
    copy_writable(&hub_tree(), tree.path());
    tree
}

/// Both sources' shards copied (writable) as `hf download REPO --repo-type dataset --local-dir
/// DIR/REPO` lays them out, for `--source-dir DIR`.
pub fn hf_download_copy() -> TempDir {
    let downloads = tempfile::tempdir().expect("a temp dir");
    for repo in [LMSYS, WILDCHAT] {
        copy_writable(
            &repo_dir(&hub_tree(), repo).join("data"),
            &downloads.path().join(repo).join("data"),
        );
    }
    downloads
}

/// Copies the directory `from` to `to`, every file writable whatever the fixtures' permissions.
fn copy_writable(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("readable fixtures") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_writable(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
            let mut permissions = std::fs::metadata(&target).expect("metadata").permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            permissions.set_readonly(false);
            std::fs::set_permissions(&target, permissions).expect("chmod");
        }
    }
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn assert_success(output: &Output) {
    assert!(
        output.status.success(),
        "healthchat failed ({}):\n{}",
        output.status,
        stderr(output)
    );
}

/// Compares the three artifacts with the reference's bytes; on a difference, shows the first
/// differing line of each side.
pub fn assert_matches_golden(artifacts: &Path, version: &str) {
    let expected_dir = fixtures().join("expected").join(format!("v{version}"));
    for name in [
        format!("HealthChat-11K_v{version}.jsonl"),
        format!("HealthChat-11K_v{version}_full_review.csv"),
        format!("HealthChat-11K_v{version}_sycophancy_review.csv"),
    ] {
        let expected = std::fs::read(expected_dir.join(&name)).expect("golden file");
        let actual = std::fs::read(artifacts.join(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        if expected == actual {
            continue;
        }
        let expected_lines: Vec<&[u8]> = expected.split(|b| *b == b'\n').collect();
        let actual_lines: Vec<&[u8]> = actual.split(|b| *b == b'\n').collect();
        let line = expected_lines
            .iter()
            .zip(&actual_lines)
            .position(|(e, a)| e != a)
            .unwrap_or(expected_lines.len().min(actual_lines.len()));
        let show = |lines: &[&[u8]]| {
            lines
                .get(line)
                .map(|l| String::from_utf8_lossy(&l[..l.len().min(600)]).into_owned())
                .unwrap_or_else(|| "<end of file>".to_owned())
        };
        panic!(
            "{name} differs from the golden file ({} vs {} bytes) at line {}:\n  expected: {}\n  actual:   {}",
            expected.len(),
            actual.len(),
            line + 1,
            show(&expected_lines),
            show(&actual_lines)
        );
    }
}

/// The Python interpreter that `.ci/run` installs the real Python clients into
/// (`HEALTHCHAT_TEST_PYTHON`), else `python3`, checked to import every module of `modules`.
pub fn python_with(modules: &[&str]) -> PathBuf {
    let candidate = std::env::var_os("HEALTHCHAT_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let imports = format!("import {}", modules.join(", "));
    let works = std::process::Command::new(&candidate)
        .args(["-c", &imports])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        works,
        "{} cannot `{imports}`: run `bash .ci/run`, which installs them in a virtual \
         environment, or set HEALTHCHAT_TEST_PYTHON to a Python that has them",
        candidate.display()
    );
    candidate
}

/// The SHA-256 of a file as CPython's `hashlib` computes it: an implementation independent of
/// the one under test.
pub fn independent_sha256(path: &Path) -> String {
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())",
        ])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(output.status.success(), "{}", stderr(&output));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The values [`plant_non_finite_floats`] writes, by a float's position in its struct.
pub const PLANTED_FLOATS: [f64; 3] = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];

/// Rewrites the shard of `data_dir` that holds the row whose `id_column` is `id`: in that row's
/// `column`, every non-null float that is the field at position `j` of a struct (however
/// nested) becomes `PLANTED_FLOATS[j % 3]`. Returns false when no shard holds the row.
pub fn plant_non_finite_floats(data_dir: &Path, id_column: &str, id: &str, column: &str) -> bool {
    use std::sync::Arc;

    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;
    use arrow_array::{Array, ArrayRef, Float64Array, ListArray, RecordBatch, StructArray};
    use arrow_schema::DataType;
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    fn plant(array: &ArrayRef, rows: std::ops::Range<usize>) -> ArrayRef {
        match array.data_type() {
            DataType::List(item) => {
                let list = array.as_list::<i32>();
                let offsets = list.value_offsets();
                let items = offsets[rows.start] as usize..offsets[rows.end] as usize;
                Arc::new(ListArray::new(
                    Arc::clone(item),
                    list.offsets().clone(),
                    plant(list.values(), items),
                    list.nulls().cloned(),
                ))
            }
            DataType::Struct(fields) => {
                let parts = array.as_struct();
                let columns = parts
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(position, child)| match child.data_type() {
                        DataType::Float64 => Arc::new(
                            child
                                .as_primitive::<Float64Type>()
                                .iter()
                                .enumerate()
                                .map(|(i, value)| {
                                    value.map(|value| match rows.contains(&i) {
                                        true => PLANTED_FLOATS[position % 3],
                                        false => value,
                                    })
                                })
                                .collect::<Float64Array>(),
                        ) as ArrayRef,
                        _ => plant(child, rows.clone()),
                    })
                    .collect();
                Arc::new(StructArray::new(
                    fields.clone(),
                    columns,
                    parts.nulls().cloned(),
                ))
            }
            _ => Arc::clone(array),
        }
    }

    let mut paths: Vec<PathBuf> = std::fs::read_dir(data_dir)
        .expect("a data directory")
        .map(|entry| entry.expect("entry").path())
        .collect();
    paths.sort();
    for path in paths {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap())
            .unwrap()
            .build()
            .unwrap();
        let mut batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        let mut found = false;
        for batch in &mut batches {
            let ids = batch.column_by_name(id_column).unwrap().as_string::<i32>();
            let Some(row) = ids.iter().position(|value| value == Some(id)) else {
                continue;
            };
            let index = batch.schema().index_of(column).unwrap();
            let mut columns = batch.columns().to_vec();
            columns[index] = plant(&columns[index], row..row + 1);
            *batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
            found = true;
        }
        if found {
            let schema = batches[0].schema();
            let file = std::fs::File::create(&path).unwrap();
            let mut writer = ArrowWriter::try_new(file, schema, None).unwrap();
            for batch in &batches {
                writer.write(batch).unwrap();
            }
            writer.close().unwrap();
            return true;
        }
    }
    false
}

/// An endpoint where nothing listens: a port taken from the system and let go.
pub fn unreachable_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("an address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
