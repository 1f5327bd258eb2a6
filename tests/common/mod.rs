//! The integration-test builder: runs the real `linq-cards` binary in a fresh
//! temporary directory, with files, arguments, environment and stdin, and
//! checks its status (after just's `Test`).
//!
//! The environment is cleared of every `LINQ_*` variable, of `GITHUB_ACTIONS`,
//! `GITHUB_STEP_SUMMARY` and `RUST_LOG`, and `HOME` points at the temporary directory, so that a
//! developer's real token or profile is never read. Extend it with methods
//! such as `.fake(&server)` that set `--api-url` and `LINQ_API_KEY`.
#![allow(dead_code)] // each test crate uses a different part of it

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Variables removed from the child's environment unless set explicitly.
const SCRUBBED_VARS: &[&str] = &[
    "LINQ_API_KEY",
    "LINQ_API_V3_API_KEY",
    "LINQ_API_URL",
    "LINQ_API_V3_BASE_URL",
    "GITHUB_ACTIONS",
    "GITHUB_STEP_SUMMARY",
    "RUST_LOG",
    "NO_COLOR",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "LINQ_CARDS_CACHE_DIR",
];

/// A pending run of the binary.
#[must_use]
pub struct Test {
    dir: tempfile::TempDir,
    cwd: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    stdin: Option<Vec<u8>>,
    status: Option<i32>,
    timeout: Duration,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    pub fn new() -> Test {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let cwd = dir.path().to_path_buf();
        Test {
            dir,
            cwd,
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            status: None,
            timeout: Duration::from_secs(60),
        }
    }

    /// Point the binary at a fake Linq server: `--api-url` and `LINQ_API_KEY`.
    /// The image cache lives in the temporary `HOME`, so each test has its own.
    pub fn fake(self, fake: &fake_linq::FakeLinq) -> Test {
        self.env("LINQ_API_URL", fake.base_url())
            .env("LINQ_API_KEY", fake.token())
    }

    /// The temporary directory the binary runs in (and `HOME`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file (relative to the temporary directory), creating parents.
    pub fn file(self, path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Test {
        let full = self.dir.path().join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).expect("create the file's directory");
        }
        std::fs::write(&full, contents).expect("write the test file");
        self
    }

    /// Write the default desired-state file, `linq-cards.yaml`.
    pub fn yaml(self, contents: &str) -> Test {
        self.file("linq-cards.yaml", contents)
    }

    /// Copy a file from `tests/fixtures/` into the temporary directory.
    pub fn fixture(self, name: &str) -> Test {
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        let contents =
            std::fs::read(&src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
        self.file(name, contents)
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Test {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Test {
        self.env.push((
            key.as_ref().to_os_string(),
            Some(value.as_ref().to_os_string()),
        ));
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Test {
        self.env.push((key.as_ref().to_os_string(), None));
        self
    }

    pub fn stdin(mut self, input: impl AsRef<[u8]>) -> Test {
        self.stdin = Some(input.as_ref().to_vec());
        self
    }

    /// Run in this subdirectory of the temporary directory.
    pub fn current_dir(mut self, sub: impl AsRef<Path>) -> Test {
        self.cwd = self.dir.path().join(sub);
        std::fs::create_dir_all(&self.cwd).expect("create the working directory");
        self
    }

    /// The exit status the run must end with (checked by [`Test::run`]).
    pub fn status(mut self, code: i32) -> Test {
        self.status = Some(code);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Test {
        self.timeout = timeout;
        self
    }

    /// Run the binary; panics (showing stdout and stderr) when the status is
    /// not the expected one or the run exceeds the timeout.
    pub fn run(self) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_linq-cards"));
        cmd.args(&self.args)
            .current_dir(&self.cwd)
            .env("HOME", self.dir.path())
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in SCRUBBED_VARS {
            cmd.env_remove(var);
        }
        for (key, value) in &self.env {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        let mut child = cmd.spawn().expect("spawn the linq-cards binary");
        if let Some(input) = &self.stdin {
            let mut pipe = child.stdin.take().expect("stdin was piped");
            // A binary that exits without reading stdin closes the pipe: not a test failure.
            let _ = pipe.write_all(input);
        }
        let mut stdout_pipe = child.stdout.take().expect("stdout was piped");
        let mut stderr_pipe = child.stderr.take().expect("stderr was piped");
        let out_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stdout_pipe.read_to_end(&mut buf);
            buf
        });
        let err_reader = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut buf);
            buf
        });
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for linq-cards") {
                break status;
            }
            if start.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "linq-cards {:?} ran longer than {:?}",
                    self.args, self.timeout
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stdout = out_reader.join().expect("stdout reader");
        let stderr = err_reader.join().expect("stderr reader");
        let output = Output {
            args: self.args,
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            dir: self.dir,
        };
        if let Some(want) = self.status {
            if output.code != want {
                panic!(
                    "linq-cards {:?} exited {} instead of {want}\n--- stdout\n{}\n--- stderr\n{}",
                    output.args, output.code, output.stdout, output.stderr
                );
            }
        }
        output
    }
}

/// What a run produced. Keeps the temporary directory alive for inspection.
pub struct Output {
    pub args: Vec<OsString>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub dir: tempfile::TempDir,
}

impl Output {
    pub fn stdout(&self) -> &str {
        &self.stdout
    }

    pub fn stderr(&self) -> &str {
        &self.stderr
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }

    pub fn stdout_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    pub fn stderr_contains(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}\n--- stdout\n{}",
            self.stderr,
            self.stdout
        );
        self
    }

    /// Read a file the run left in its directory.
    /// Another run in the same directory (same files, `HOME` and cache), with
    /// fresh arguments, environment and expectations.
    pub fn again(self) -> Test {
        let cwd = self.dir.path().to_path_buf();
        Test {
            dir: self.dir,
            cwd,
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            status: None,
            timeout: Duration::from_secs(60),
        }
    }

    pub fn read(&self, path: impl AsRef<Path>) -> String {
        let full = self.dir.path().join(path);
        std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("read {}: {e}", full.display()))
    }
}
