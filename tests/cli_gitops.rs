//! GitOps in practice (issue #7): the shipped CI examples and the pre-commit
//! hook stay runnable, shell completions generate, validate's annotations
//! reach GitHub, and the job summary is appended inside Actions.
//!
//! The example test reads every `linq-cards` command line out of the example
//! workflows, the GitLab file, `.pre-commit-hooks.yaml` and the README's shell
//! blocks, splits it the way a shell would, and hands it to the real argument
//! parser, so a renamed flag breaks the build instead of a user's pipeline.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use clap::Parser;
use common::Test;
use linq_cards::cli::Cli;
use serde_yaml::Value;

fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    let path = repo_path(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn yaml(rel: &str) -> Value {
    serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not valid YAML: {e}"))
}

// ---------------------------------------------------------------------------
// A small shell tokenizer: enough of POSIX sh to find simple commands in CI
// scripts (quotes, escapes, `\` continuations, comments, operators, `$(...)`,
// redirections). Expansions are left as written.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    /// Ends a simple command: `;`, newline, `&&`, `||`, `|`, `&`, `(`, `)`, `$(`.
    Sep,
    /// A redirection operator; the next word is its target, not an argument.
    Redirect,
}

fn tokenize(script: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let mut word = String::new();
    // A word in progress, even an empty one (`''`).
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    fn flush(toks: &mut Vec<Tok>, word: &mut String, in_word: &mut bool) {
        if *in_word {
            toks.push(Tok::Word(std::mem::take(word)));
            *in_word = false;
        }
    }
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') => {} // line continuation
                Some(next) => {
                    word.push(next);
                    in_word = true;
                }
                None => return Err("trailing backslash".into()),
            },
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some('\n') => {}
                            Some(ch @ ('"' | '\\' | '$' | '`')) => word.push(ch),
                            Some(ch) => {
                                word.push('\\');
                                word.push(ch);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(ch) => word.push(ch),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '#' if !in_word => {
                for ch in chars.by_ref() {
                    if ch == '\n' {
                        toks.push(Tok::Sep);
                        break;
                    }
                }
            }
            ' ' | '\t' => flush(&mut toks, &mut word, &mut in_word),
            '\n' | ';' | '(' | ')' | '`' => {
                flush(&mut toks, &mut word, &mut in_word);
                toks.push(Tok::Sep);
            }
            '&' | '|' => {
                flush(&mut toks, &mut word, &mut in_word);
                if chars.peek() == Some(&c) {
                    chars.next();
                }
                toks.push(Tok::Sep);
            }
            '$' if chars.peek() == Some(&'(') => {
                chars.next();
                // `$((` arithmetic is not used in the examples; `$(` starts a command.
                flush(&mut toks, &mut word, &mut in_word);
                toks.push(Tok::Sep);
            }
            '>' | '<' => {
                // `2>` and `2>&1`: the digits name a descriptor, not an argument.
                if in_word && word.chars().all(|ch| ch.is_ascii_digit()) {
                    word.clear();
                    in_word = false;
                }
                flush(&mut toks, &mut word, &mut in_word);
                if chars.peek() == Some(&'>') {
                    chars.next();
                }
                if chars.peek() == Some(&'&') {
                    chars.next();
                    // `>&2`: the descriptor follows at once and is the target.
                }
                toks.push(Tok::Redirect);
            }
            _ => {
                word.push(c);
                in_word = true;
            }
        }
    }
    flush(&mut toks, &mut word, &mut in_word);
    Ok(toks)
}

/// Words that may precede a command without being one.
const PREFIX_WORDS: &[&str] = &[
    "if", "then", "else", "elif", "do", "while", "until", "!", "time", "exec", "{", "}",
];

/// Every simple command of `script` whose command word is `linq-cards`, as
/// its argument vector (redirections and their targets removed).
fn linq_cards_commands(script: &str) -> Result<Vec<Vec<String>>, String> {
    let toks = tokenize(script)?;
    let mut found = Vec::new();
    for simple in toks.split(|t| *t == Tok::Sep) {
        let mut words = Vec::new();
        let mut iter = simple.iter();
        while let Some(tok) = iter.next() {
            match tok {
                Tok::Word(w) => words.push(w.clone()),
                Tok::Redirect => {
                    iter.next();
                }
                Tok::Sep => unreachable!("split on Sep"),
            }
        }
        let start = words
            .iter()
            .position(|w| !PREFIX_WORDS.contains(&w.as_str()) && !is_assignment(w));
        if let Some(start) = start {
            if words[start] == "linq-cards" {
                found.push(words[start..].to_vec());
            }
        }
    }
    Ok(found)
}

fn is_assignment(word: &str) -> bool {
    match word.split_once('=') {
        Some((name, _)) => {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit())
        }
        None => false,
    }
}

/// Parse each command with the binary's own parser; panic naming the source.
fn check_commands(source: &str, commands: &[Vec<String>]) {
    use clap::error::ErrorKind;
    for argv in commands {
        match Cli::try_parse_from(argv) {
            Ok(_) => {}
            // `--help` and `--version` exit 0: accepted.
            Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {}
            Err(e) => panic!(
                "{source}: `{}` is refused by the parser:\n{e}",
                argv.join(" ")
            ),
        }
    }
}

#[test]
fn tokenizer_handles_what_the_examples_use() {
    let script = r#"
set +e  # a comment with linq-cards plan --bogus
linq-cards plan linq-cards.yaml --live-snapshot live-snapshot.json \
  --format markdown --detailed-exitcode > plan.md || code=$?
if [ -n "$X" ]; then linq-cards validate 'my cards.yaml' 2>&1; fi
out=$(linq-cards schema) && echo "linq-cards apply --nope"
printf '%s\n' "$auth" | FOO=1 linq-cards export --out "a b.yaml" >> log.txt
"#;
    let got = linq_cards_commands(script).expect("tokenizes");
    let want: Vec<Vec<&str>> = vec![
        vec![
            "linq-cards",
            "plan",
            "linq-cards.yaml",
            "--live-snapshot",
            "live-snapshot.json",
            "--format",
            "markdown",
            "--detailed-exitcode",
        ],
        vec!["linq-cards", "validate", "my cards.yaml"],
        vec!["linq-cards", "schema"],
        vec!["linq-cards", "export", "--out", "a b.yaml"],
    ];
    assert_eq!(got, want);
    check_commands("tokenizer sample", &got);
    assert!(linq_cards_commands("echo 'open").is_err());
    assert!(linq_cards_commands("echo \"open").is_err());
}

#[test]
#[should_panic(expected = "is refused by the parser")]
fn a_rotten_example_line_is_caught() {
    let commands =
        linq_cards_commands("linq-cards plan --format markdwon > plan.md").expect("tokenizes");
    check_commands("sample", &commands);
}

#[test]
#[should_panic(expected = "is refused by the parser")]
fn a_removed_flag_is_caught() {
    let commands = linq_cards_commands("linq-cards apply \\\n  --auto-aprove").expect("tokenizes");
    check_commands("sample", &commands);
}

// ---------------------------------------------------------------------------
// The examples themselves.

/// The shell scripts of a GitHub workflow: every step's `run`.
fn github_scripts(doc: &Value) -> Vec<String> {
    let jobs = doc["jobs"].as_mapping().expect("a workflow has jobs");
    let mut scripts = Vec::new();
    for (name, job) in jobs {
        assert!(job["runs-on"].is_string(), "job {name:?} lacks runs-on");
        let steps = job["steps"].as_sequence().expect("a job has steps");
        for step in steps {
            assert!(
                step["run"].is_string() || step["uses"].is_string(),
                "a step of {name:?} neither runs nor uses: {step:?}"
            );
            if let Some(run) = step["run"].as_str() {
                scripts.push(run.to_string());
            }
        }
    }
    scripts
}

/// The shell lines of a GitLab CI file: every job's scripts, and templates'.
fn gitlab_scripts(doc: &Value) -> Vec<String> {
    let mut scripts = Vec::new();
    let top = doc.as_mapping().expect("the GitLab file is a mapping");
    for (_, job) in top {
        for key in ["before_script", "script", "after_script"] {
            match &job[key] {
                Value::String(s) => scripts.push(s.clone()),
                Value::Sequence(lines) => {
                    for line in lines {
                        if let Some(s) = line.as_str() {
                            scripts.push(s.to_string());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    scripts
}

fn commands_of(source: &str, scripts: &[String]) -> Vec<Vec<String>> {
    let mut all = Vec::new();
    for script in scripts {
        let found = linq_cards_commands(script)
            .unwrap_or_else(|e| panic!("{source}: cannot split a script ({e}):\n{script}"));
        all.extend(found);
    }
    check_commands(source, &all);
    all
}

fn has(commands: &[Vec<String>], words: &[&str]) -> bool {
    commands
        .iter()
        .any(|argv| words.iter().all(|w| argv.iter().any(|a| a == w)))
}

#[test]
fn github_workflows_parse_and_their_commands_are_accepted() {
    let plan = yaml("examples/github-actions/linq-cards-plan.yml");
    let cmds = commands_of("linq-cards-plan.yml", &github_scripts(&plan));
    assert!(has(&cmds, &["validate", "--format", "github"]), "{cmds:?}");
    assert!(has(&cmds, &["plan", "--format", "markdown"]), "{cmds:?}");
    assert!(has(&cmds, &["plan", "--live-snapshot"]), "{cmds:?}");
    assert!(plan["on"]["pull_request"].is_mapping());
    assert!(
        read("examples/github-actions/linq-cards-plan.yml").contains("<!-- linq-cards:plan -->"),
        "the sticky comment is found by the plan's marker"
    );

    let apply = yaml("examples/github-actions/linq-cards-apply.yml");
    let cmds = commands_of("linq-cards-apply.yml", &github_scripts(&apply));
    assert!(has(&cmds, &["apply", "--auto-approve"]), "{cmds:?}");
    assert!(apply["concurrency"]["group"].is_string());
    assert_eq!(
        apply["concurrency"]["cancel-in-progress"],
        Value::Bool(false),
        "an apply in flight must never be cancelled"
    );
    assert!(apply["on"]["push"]["branches"].is_sequence());

    let drift = yaml("examples/github-actions/linq-cards-drift.yml");
    let cmds = commands_of("linq-cards-drift.yml", &github_scripts(&drift));
    assert!(has(&cmds, &["plan", "--detailed-exitcode"]), "{cmds:?}");
    assert!(drift["on"]["schedule"].is_sequence());
}

#[test]
fn every_github_example_is_checked() {
    // A new workflow dropped into the directory is covered by the test above
    // only if it is named there.
    let dir = repo_path("examples/github-actions");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("read examples/github-actions")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "linq-cards-apply.yml",
            "linq-cards-drift.yml",
            "linq-cards-plan.yml"
        ]
    );
}

#[test]
fn gitlab_file_parses_and_its_commands_are_accepted() {
    let doc = yaml("examples/gitlab-ci.yml");
    let cmds = commands_of("gitlab-ci.yml", &gitlab_scripts(&doc));
    assert!(has(&cmds, &["validate"]), "{cmds:?}");
    assert!(has(&cmds, &["plan", "--format", "markdown"]), "{cmds:?}");
    assert!(has(&cmds, &["plan", "--live-snapshot"]), "{cmds:?}");
    assert!(has(&cmds, &["apply", "--auto-approve"]), "{cmds:?}");
    assert!(has(&cmds, &["plan", "--detailed-exitcode"]), "{cmds:?}");
    assert!(
        doc["apply"]["resource_group"].is_string(),
        "two applies never run at once"
    );
}

#[test]
fn pre_commit_hooks_parse_and_run_validate() {
    let doc = yaml(".pre-commit-hooks.yaml");
    let hooks = doc.as_sequence().expect("a list of hooks");
    assert!(!hooks.is_empty());
    for hook in hooks {
        let id = hook["id"].as_str().expect("a hook has an id");
        let entry = hook["entry"].as_str().expect("a hook has an entry");
        assert!(hook["language"].is_string(), "{id}: language");
        let files = hook["files"].as_str().expect("a hook names its files");
        assert!(
            files.contains("linq-cards"),
            "{id}: only desired-state files"
        );
        let mut argv = linq_cards_commands(entry).expect("tokenizes");
        assert_eq!(argv.len(), 1, "{id}: the entry is one linq-cards command");
        let mut argv = argv.remove(0);
        assert_eq!(argv.get(1).map(String::as_str), Some("validate"), "{id}");
        if let Some(args) = hook["args"].as_sequence() {
            argv.extend(args.iter().filter_map(|a| a.as_str().map(str::to_string)));
        }
        // pre-commit appends the matched file names.
        if hook["pass_filenames"].as_bool() != Some(false) {
            argv.push("linq-cards.yaml".into());
        }
        check_commands(id, &[argv]);
    }
}

#[test]
fn readme_shell_blocks_are_accepted() {
    let readme = read("README.md");
    let mut scripts = Vec::new();
    let mut block: Option<String> = None;
    for line in readme.lines() {
        match &mut block {
            None if line.trim_start().starts_with("```sh")
                || line.trim_start().starts_with("```bash") =>
            {
                block = Some(String::new())
            }
            Some(text) if line.trim_start().starts_with("```") => {
                scripts.push(std::mem::take(text));
                block = None;
            }
            Some(text) => {
                // `$ ` prompts are not part of the command.
                text.push_str(line.strip_prefix("$ ").unwrap_or(line));
                text.push('\n');
            }
            None => {}
        }
    }
    assert!(block.is_none(), "README.md has an unclosed code block");
    let cmds = commands_of("README.md", &scripts);
    for command in ["validate", "plan", "apply", "export", "completions"] {
        assert!(
            has(&cmds, &[command]),
            "README.md shows no `linq-cards {command}`: {cmds:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Completions, through the binary.

#[test]
fn completions_generate_for_each_shell() {
    let cases = [
        ("bash", "complete -F"),
        ("zsh", "#compdef linq-cards"),
        ("fish", "complete -c linq-cards"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[linq-cards]"),
    ];
    for (shell, marker) in cases {
        let out = Test::new().args(["completions", shell]).status(0).run();
        let script = out.stdout();
        assert!(script.contains(marker), "{shell}: no {marker:?}");
        for word in [
            "validate",
            "plan",
            "apply",
            "export",
            "schema",
            // fish writes long flags as `-l name`: match without the dashes.
            "detailed-exitcode",
            "live-snapshot",
            "auto-approve",
        ] {
            assert!(script.contains(word), "{shell}: completes no {word}");
        }
        assert_eq!(out.stderr(), "", "{shell}");
    }
}

#[test]
fn bash_completion_loads_in_bash() {
    let out = Test::new().args(["completions", "bash"]).status(0).run();
    let script = out.dir.path().join("linq-cards.bash");
    std::fs::write(&script, out.stdout()).expect("write the script");
    let Ok(bash) = std::process::Command::new("bash")
        .arg("-c")
        .arg(r#"source "$1" && complete -p linq-cards"#)
        .arg("bash")
        .arg(&script)
        .output()
    else {
        eprintln!("bash is not installed: skipping the load check");
        return;
    };
    assert!(
        bash.status.success(),
        "bash could not load the completion: {}",
        String::from_utf8_lossy(&bash.stderr)
    );
    assert!(String::from_utf8_lossy(&bash.stdout).contains("linq-cards"));
}

#[test]
fn completions_for_an_unknown_shell_are_a_usage_error() {
    let out = Test::new().args(["completions", "tcsh"]).status(1).run();
    out.stderr_contains("tcsh");
    assert_eq!(out.stdout(), "");
    Test::new().arg("completions").status(1).run();
}

// ---------------------------------------------------------------------------
// Validate inside GitHub Actions, through the binary.

const FRIST_NAME: &str = "::error file=invalid.yaml,line=8::card +12223334444: unknown key \"frist_name\" (did you mean \"first_name\"?)";

fn annotations(s: &str) -> Vec<&str> {
    s.lines().filter(|l| l.starts_with("::error ")).collect()
}

#[test]
fn inside_actions_text_validate_prints_annotations_on_stdout() {
    let out = Test::new()
        .fixture("invalid.yaml")
        .env("GITHUB_ACTIONS", "true")
        .args(["validate", "invalid.yaml"])
        .status(1)
        .run();
    // GitHub documents workflow commands on stdout.
    let stdout = annotations(out.stdout());
    assert_eq!(stdout.len(), 6, "{}", out.stdout());
    assert!(stdout.contains(&FRIST_NAME), "{}", out.stdout());
    assert!(stdout
        .iter()
        .all(|l| l.starts_with("::error file=invalid.yaml")));
    // The human report is still on stderr, and not doubled as commands.
    out.stderr_contains("invalid.yaml:8:5: card +12223334444: unknown key \"frist_name\"");
    assert!(annotations(out.stderr()).is_empty(), "{}", out.stderr());
}

#[test]
fn inside_actions_json_validate_keeps_stdout_json() {
    let out = Test::new()
        .fixture("invalid.yaml")
        .env("GITHUB_ACTIONS", "true")
        .args(["validate", "--format", "json", "invalid.yaml"])
        .status(1)
        .run();
    assert_eq!(out.json()["valid"], serde_json::Value::Bool(false));
    assert_eq!(out.json()["diagnostics"].as_array().map(Vec::len), Some(6));
    assert_eq!(annotations(out.stderr()).len(), 6, "{}", out.stderr());
    assert!(annotations(out.stderr()).contains(&FRIST_NAME));
}

#[test]
fn inside_actions_github_format_is_not_doubled() {
    let out = Test::new()
        .fixture("invalid.yaml")
        .env("GITHUB_ACTIONS", "true")
        .args(["validate", "--format", "github", "invalid.yaml"])
        .status(1)
        .run();
    assert_eq!(annotations(out.stdout()).len(), 6, "{}", out.stdout());
    assert!(annotations(out.stderr()).is_empty(), "{}", out.stderr());
}

#[test]
fn outside_actions_text_validate_prints_no_annotations() {
    for value in [None, Some("false")] {
        let mut test = Test::new().fixture("invalid.yaml");
        if let Some(v) = value {
            test = test.env("GITHUB_ACTIONS", v);
        }
        let out = test.args(["validate", "invalid.yaml"]).status(1).run();
        assert!(annotations(out.stdout()).is_empty(), "{value:?}");
        assert!(annotations(out.stderr()).is_empty(), "{value:?}");
    }
}

#[test]
fn inside_actions_a_valid_file_prints_no_annotation() {
    let summary_dir = tempfile::tempdir().expect("temp dir");
    let summary = summary_dir.path().join("summary.md");
    let out = Test::new()
        .fixture("valid.yaml")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["validate", "valid.yaml"])
        .status(0)
        .run();
    out.stdout_contains("valid.yaml: valid");
    assert!(!out.stdout().contains("::"), "{}", out.stdout());
    assert!(!out.stderr().contains("::"), "{}", out.stderr());
    // validate leaves the job summary to plan and apply.
    assert!(!summary.exists());
}

#[test]
fn annotation_file_is_the_path_as_given() {
    // GitHub resolves `file=` against the workspace: the path the workflow
    // passed, relative to the repository root, is the right one.
    let out = Test::new()
        .file("cards/prod.yaml", read("tests/fixtures/invalid.yaml"))
        .env("GITHUB_ACTIONS", "true")
        .args(["validate", "cards/prod.yaml"])
        .status(1)
        .run();
    let lines = annotations(out.stdout());
    assert_eq!(lines.len(), 6);
    assert!(lines
        .iter()
        .all(|l| l.starts_with("::error file=cards/prod.yaml")));
}

// ---------------------------------------------------------------------------
// The job summary, through the library (the plan and apply commands call it).

/// The summary test changes this process's environment; keep it to one at a time.
static ENV_LOCK: Mutex<()> = Mutex::new(());

#[test]
fn append_step_summary_through_the_library() {
    let _guard = ENV_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().expect("temp dir");
    let summary = dir.path().join("step_summary.md");
    std::fs::write(&summary, "### Earlier step\n").expect("seed");

    std::env::set_var("GITHUB_ACTIONS", "true");
    std::env::set_var("GITHUB_STEP_SUMMARY", &summary);
    assert!(linq_cards::ci::in_github_actions());
    assert_eq!(linq_cards::ci::step_summary_path(), Some(summary.clone()));
    linq_cards::ci::append_step_summary("<!-- linq-cards:plan -->\n## Plan: 1 to update")
        .expect("appends");
    linq_cards::ci::append_step_summary("## Apply: 1 applied\n").expect("appends");
    assert_eq!(
        std::fs::read_to_string(&summary).expect("read"),
        "### Earlier step\n\n<!-- linq-cards:plan -->\n## Plan: 1 to update\n\n## Apply: 1 applied\n"
    );

    // Not inside Actions: nothing is written even with the variable set.
    std::env::set_var("GITHUB_ACTIONS", "false");
    assert!(!linq_cards::ci::in_github_actions());
    assert!(!linq_cards::ci::try_append_step_summary("ignored").expect("no-op"));
    // Inside Actions without the variable: nothing either.
    std::env::set_var("GITHUB_ACTIONS", "true");
    std::env::remove_var("GITHUB_STEP_SUMMARY");
    assert!(!linq_cards::ci::try_append_step_summary("ignored").expect("no-op"));
    linq_cards::ci::append_step_summary("ignored").expect("no-op");
    assert!(!std::fs::read_to_string(&summary)
        .expect("read")
        .contains("ignored"));

    // An unwritable summary is an error for `try_`, only a warning otherwise.
    let missing = dir.path().join("gone").join("summary.md");
    std::env::set_var("GITHUB_STEP_SUMMARY", &missing);
    let err = linq_cards::ci::try_append_step_summary("x").expect_err("no such directory");
    assert!(format!("{err:#}").contains("summary.md"), "{err:#}");
    linq_cards::ci::append_step_summary("x").expect("a summary failure never fails the command");

    std::env::remove_var("GITHUB_ACTIONS");
    std::env::remove_var("GITHUB_STEP_SUMMARY");
}

// ---------------------------------------------------------------------------
// The job summary through the binary: plan (offline, from a live snapshot).
// Enabled once the `plan` command is wired (it is written in parallel).

#[test]
fn plan_inside_actions_appends_its_markdown_to_the_job_summary() {
    let summary_dir = tempfile::tempdir().expect("temp dir");
    let summary = summary_dir.path().join("summary.md");
    std::fs::write(&summary, "### Validate\n").expect("seed");
    let out = Test::new()
        .yaml("cards:\n  - phone_number: \"+12223334444\"\n    first_name: Acme Support\n")
        .file(
            "live-snapshot.json",
            r#"{"contact_cards": [{"phone_number": "+12223334444", "first_name": "Acme", "is_active": true}]}"#,
        )
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["plan", "--live-snapshot", "live-snapshot.json", "--format", "json"])
        .status(0)
        .run();
    let digest = out.json()["plan_digest"]
        .as_str()
        .expect("a digest")
        .to_string();
    let written = std::fs::read_to_string(&summary).expect("read the summary");
    assert!(written.starts_with("### Validate\n\n"), "{written}");
    assert!(written.contains("<!-- linq-cards:plan -->"), "{written}");
    assert!(written.contains("+12223334444"), "{written}");
    assert!(written.contains(&digest[..12]), "{written}");

    // Outside Actions the file is left alone.
    let before = std::fs::read_to_string(&summary).expect("read");
    Test::new()
        .yaml("cards:\n  - phone_number: \"+12223334444\"\n    first_name: Acme Support\n")
        .file(
            "live-snapshot.json",
            r#"{"contact_cards": [{"phone_number": "+12223334444", "first_name": "Acme", "is_active": true}]}"#,
        )
        .env("GITHUB_STEP_SUMMARY", &summary)
        .args(["plan", "--live-snapshot", "live-snapshot.json"])
        .status(0)
        .run();
    assert_eq!(std::fs::read_to_string(&summary).expect("read"), before);
}

#[test]
fn apply_inside_actions_appends_its_summary_without_the_token() {
    use fake_linq::{Card, Config, FakeLinq};
    const A: &str = "+12223334444";
    let fake = FakeLinq::start_blocking(Config::default().number(A).card(Card::new(A, "Acme")));
    let summary_dir = tempfile::tempdir().expect("temp dir");
    let summary = summary_dir.path().join("summary.md");
    Test::new()
        .yaml(&format!(
            "cards:\n  - phone_number: \"{A}\"\n    first_name: Acme Support\n"
        ))
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .env("LINQ_API_KEY", fake.token())
        .args(["--api-url", &fake.base_url(), "apply", "--auto-approve"])
        .status(0)
        .run();
    assert_eq!(fake.writes_for(A), 1);
    let written = std::fs::read_to_string(&summary).expect("apply wrote the job summary");
    assert!(written.contains(A), "{written}");
    assert!(
        !written.contains(&fake.token()),
        "the token leaked into the summary"
    );
}
