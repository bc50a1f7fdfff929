//! The `tenancy` command's surface, as operators meet it: help for every
//! command, the version, typo suggestions, usage errors (exit 2), shell
//! completions.

#![allow(clippy::unwrap_used)] // test helpers

mod common;

use common::{tenancy, text};

#[test]
fn help_lists_every_command_and_exits_zero() {
    let out = tenancy(&["--help"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for command in ["audit", "schemas", "manifest", "move", "completions"] {
        assert!(
            text(&out).contains(command),
            "{command} missing from\n{}",
            text(&out)
        );
    }
    for args in [
        &["audit", "--help"][..],
        &["schemas", "migrate", "--help"],
        &["manifest", "--help"],
        &["move", "--help"],
    ] {
        let out = tenancy(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        assert!(
            text(&out).contains("--database-url"),
            "{args:?}: {}",
            text(&out)
        );
        assert!(
            text(&out).contains("DATABASE_URL"),
            "{args:?}: {}",
            text(&out)
        );
    }
}

#[test]
fn version_prints_the_crate_version() {
    let out = tenancy(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out).trim(),
        format!("tenancy {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_command_that_does_not_exist_is_a_usage_error_even_with_help() {
    let out = tenancy(&["teleport", "--help"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("unrecognized subcommand 'teleport'"),
        "{}",
        text(&out)
    );
}

#[test]
fn typos_get_a_suggestion() {
    let out = tenancy(&["audti"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("similar subcommand exists: 'audit'"),
        "{}",
        text(&out)
    );
    let out = tenancy(&["audit", "--jsno"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--json"), "{}", text(&out));
}

#[test]
fn bad_arguments_exit_two_with_the_reason() {
    for (args, needle) in [
        (&["audit"][..], "--database-url"),
        (
            &["audit", "--database-url", "x", "--fail-on", "severe"],
            "invalid value 'severe'",
        ),
        (
            &["schemas", "migrate", "--database-url", "x"],
            "--migrations",
        ),
        (
            &[
                "schemas",
                "migrate",
                "--database-url",
                "x",
                "--migrations",
                "d",
                "--concurrency",
                "0",
            ],
            "--concurrency",
        ),
        (
            &["manifest", "--check", "--path", "-", "--database-url", "x"],
            "--check needs a file",
        ),
    ] {
        let out = tenancy(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(needle), "{args:?}: {}", text(&out));
    }
}

#[test]
fn an_unreachable_database_exits_two() {
    for args in [
        &[
            "audit",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
        ][..],
        &[
            "manifest",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/none",
            "--path",
            "-",
        ],
    ] {
        let out = tenancy(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let out = tenancy(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out));
        assert!(text(&out).contains("manifest"), "{shell}");
    }
}
