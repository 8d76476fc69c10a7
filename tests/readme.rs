//! The documents that repeat `--help` are generated from it, so they cannot drift: every
//! subcommand's option list in the command manual (docs/commands/*.md, the block after a
//! `<!-- generated: boardnet CMD --help -->` marker) and the man pages in `docs/man/`, which
//! must render without a warning (`groff -man -ww -z`). This test fails when a document is
//! out of date; `BOARDNET_UPDATE_DOCS=1 cargo test --test readme` rewrites them.

mod peers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use peers::*;

const T: Duration = Duration::from_secs(10);
const MARKER: &str = "<!-- generated: boardnet ";
const UPDATE: &str = "BOARDNET_UPDATE_DOCS";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn help(args: &[&str]) -> String {
    let mut argv: Vec<&str> = args.to_vec();
    argv.push("--help");
    let out = run_boardnet(argv, T);
    out.assert_success();
    out.stdout_str().to_string()
}

/// The commands `boardnet --help` lists, `help` itself left out.
fn commands(top: &str) -> Vec<String> {
    let commands: Vec<String> = top
        .lines()
        .skip_while(|line| !line.starts_with("Commands"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|command| *command != "help")
        .map(str::to_string)
        .collect();
    assert!(commands.len() >= 10, "no command list in:\n{top}");
    commands
}

/// The documents with generated blocks: README.md and the command manual.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md")];
    let mut pages: Vec<PathBuf> = std::fs::read_dir(root().join("docs/commands"))
        .expect("docs/commands/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    docs.extend(pages);
    docs
}

/// A document with every generated block replaced by the binary's current help.
fn regenerated(readme: &str) -> String {
    let mut out = String::with_capacity(readme.len());
    let mut lines = readme.split_inclusive('\n');
    while let Some(line) = lines.next() {
        out.push_str(line);
        let Some(rest) = line.strip_prefix(MARKER) else {
            continue;
        };
        let command = rest
            .split_whitespace()
            .next()
            .expect("marker names a command");
        let fence = lines.next().expect("a ```text block follows the marker");
        assert_eq!(fence.trim_end(), "```text", "after {line}");
        out.push_str(fence);
        for old in lines.by_ref() {
            if old.trim_end() == "```" {
                break;
            }
        }
        out.push_str(&help(&[command]));
        out.push_str("```\n");
    }
    out
}

/// A man page that carries the help text verbatim (one source, no hand-kept copy).
fn man_page(name: &str, summary: &str, help: &str) -> String {
    let escaped: String = help
        .lines()
        .map(|line| {
            let line: String = line
                .replace('\\', "\\e")
                .chars()
                .map(|c| {
                    if c.is_ascii() {
                        c.to_string()
                    } else {
                        format!("\\[u{:04X}]", c as u32)
                    }
                })
                .collect();
            let line = if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line
            };
            line + "\n"
        })
        .collect();
    format!(
        ".\\\" Generated from `{name} --help` by tests/readme.rs; do not edit.\n\
         .TH {upper} 1 \"\" \"boardnet {version}\" \"boardnet manual\"\n\
         .SH NAME\n{name} \\- {summary}\n\
         .SH DESCRIPTION\n.nf\n{escaped}.fi\n\
         .SH SEE ALSO\nboardnet(1); docs/commands/ in the source tree\n",
        upper = name.to_uppercase(),
        version = env!("CARGO_PKG_VERSION"),
        summary = summary.replace('-', "\\-"),
        name = name.replace('-', "\\-"),
    )
}

/// Every man page under docs/man, by file name.
fn man_pages(top: &str) -> Vec<(String, String)> {
    let mut pages = vec![(
        "boardnet.1".to_string(),
        man_page("boardnet", "networking for embedded Linux boards", top),
    )];
    for line in top
        .lines()
        .skip_while(|line| !line.starts_with("Commands"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
    {
        let mut words = line.trim().splitn(2, ' ');
        let command = words.next().unwrap_or_default();
        if command == "help" {
            continue;
        }
        let summary = words.next().unwrap_or_default().trim();
        pages.push((
            format!("boardnet-{command}.1"),
            man_page(&format!("boardnet-{command}"), summary, &help(&[command])),
        ));
    }
    pages
}

/// Compares `want` with the file at `path`; rewrites it instead when asked to.
fn check(path: &Path, want: &str, stale: &mut Vec<String>) {
    let have = std::fs::read_to_string(path).unwrap_or_default();
    if have == want {
        return;
    }
    if std::env::var_os(UPDATE).is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, want).unwrap();
    } else {
        stale.push(path.display().to_string());
    }
}

#[test]
fn generated_documents_match_the_binarys_help() {
    let top = help(&[]);
    let mut stale = Vec::new();
    for path in documents() {
        let text = std::fs::read_to_string(&path).expect("documents are readable");
        check(&path, &regenerated(&text), &mut stale);
    }
    for (file, page) in man_pages(&top) {
        check(&root().join("docs/man").join(file), &page, &mut stale);
    }
    assert!(
        stale.is_empty(),
        "out of date: {}\nregenerate with: {UPDATE}=1 cargo test --test readme",
        stale.join(", ")
    );
}

#[test]
fn readme_shows_every_command_and_the_manual_its_option_list() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.lines().count() <= 250,
        "README.md is the front page: keep it under 250 lines (the manual is docs/)"
    );
    let manual: String = documents()
        .iter()
        .skip(1)
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for command in commands(&help(&[])) {
        assert!(
            readme.contains(&format!("boardnet {command} ")),
            "README.md has no example of `boardnet {command}`"
        );
    }
    for command in [
        "get",
        "ftp",
        "host",
        "dns",
        "status",
        "bearer",
        "wait-online",
        "wifi",
        "connect",
        "listen",
    ] {
        assert!(
            manual.contains(&format!("{MARKER}{command} --help -->")),
            "docs/commands/ has no generated option list for `boardnet {command}`"
        );
    }
}

#[test]
fn man_pages_render_without_warnings() {
    require_program("groff");
    for entry in std::fs::read_dir(root().join("docs/man")).unwrap() {
        let path = entry.unwrap().path();
        let out = run(
            std::process::Command::new("groff")
                .args(["-man", "-ww", "-z"])
                .arg(&path),
            T,
        );
        assert!(
            out.success() && out.stderr.is_empty(),
            "{}: {}",
            path.display(),
            out.stderr
        );
    }
}

#[test]
fn help_into_a_closed_pipe_exits_quietly() {
    let mut commands = commands(&help(&[]));
    commands.push(String::new());
    for command in commands {
        let mut child = boardnet()
            .args(
                [command.as_str(), "--help"]
                    .iter()
                    .filter(|a| !a.is_empty()),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("panicked"),
            "boardnet {command} --help into a closed pipe: {:?} {stderr}",
            out.status
        );
    }
}
