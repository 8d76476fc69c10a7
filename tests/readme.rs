//! The README documents the binary it ships with: every subcommand's option
//! list in README.md is the binary's `--help` output, word for word, and every
//! subcommand the binary lists has a section.

mod peers;

use std::time::Duration;

use peers::*;

const T: Duration = Duration::from_secs(10);

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md is readable")
}

#[test]
fn readme_carries_every_option_list_verbatim() {
    let readme = readme();
    for command in [
        "get",
        "host",
        "dns",
        "connect",
        "listen",
        "status",
        "bearer",
        "wait-online",
        "wifi",
        "ftp",
    ] {
        let out = run_boardnet([command, "--help"], T);
        out.assert_success();
        let help = out.stdout_str();
        assert!(
            readme.contains(&help),
            "README.md's option list is out of date: paste `boardnet {command} --help`"
        );
    }
}

#[test]
fn readme_names_every_subcommand_the_binary_lists() {
    let readme = readme();
    let out = run_boardnet(["--help"], T);
    out.assert_success();
    let help = out.stdout_str();
    let commands: Vec<&str> = help
        .lines()
        .skip_while(|line| !line.starts_with("Commands"))
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    assert!(commands.len() >= 10, "no command list in:\n{help}");
    for command in commands {
        assert!(
            readme.contains(&format!("boardnet {command} ")),
            "README.md has no example of `boardnet {command}`"
        );
    }
}
