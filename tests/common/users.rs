//! Who a test runs as: [`for_each_user`] is the one place that decides
//! (root always; the unprivileged `skifftest` user when it exists, and a
//! failure instead of a skip when `CI` or `SKIFF_TEST_REQUIRE_ROOTLESS` is
//! set).

use std::fmt;
use std::panic::{self, AssertUnwindSafe};

use super::Ctx;

/// The unprivileged user rootless tests run as (created by `scripts/test`).
pub const TEST_USER: &str = "skifftest";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    /// uid 0: skiff runs with real privileges.
    Root,
    /// The unprivileged `skifftest` user: skiff maps its subuid range.
    Rootless,
}

impl fmt::Display for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            User::Root => "root",
            User::Rootless => "rootless",
        })
    }
}

/// Runs `test` once as root and once rootless, each with a fresh [`Ctx`].
/// Both runs happen even when the first fails, so a failure report says
/// whether the problem is rootless-only; the test then fails naming who.
pub fn for_each_user(test: impl Fn(&Ctx)) {
    for_users(&users_to_test(), test)
}

/// Like [`for_each_user`] for an explicit list; tests that make sense for
/// one kind of user only call this and say why in a comment.
pub fn for_users(users: &[User], test: impl Fn(&Ctx)) {
    let mut failed = Vec::new();
    for &user in users {
        eprintln!("=== {user}: start");
        let ctx = Ctx::new(user);
        let result = panic::catch_unwind(AssertUnwindSafe(|| test(&ctx)));
        if result.is_err() {
            if keep_dirs() {
                eprintln!("=== {user}: FAILED (kept {})", ctx.dir.display());
            } else {
                eprintln!(
                    "=== {user}: FAILED (SKIFF_TEST_KEEP=1 keeps {})",
                    ctx.dir.display()
                );
            }
            failed.push(user.to_string());
        } else {
            eprintln!("=== {user}: ok");
        }
        drop(ctx);
    }
    if !failed.is_empty() {
        panic!("test failed as: {} (messages above)", failed.join(", "));
    }
}

/// Root always; rootless when the test user exists. A missing user is a
/// loud skip on a developer machine and a failure in CI.
fn users_to_test() -> Vec<User> {
    let mut users = vec![User::Root];
    if test_user().is_some() {
        users.push(User::Rootless);
    } else if std::env::var_os("CI").is_some()
        || std::env::var_os("SKIFF_TEST_REQUIRE_ROOTLESS").is_some()
    {
        panic!("the test user {TEST_USER:?} does not exist; scripts/test creates it");
    } else {
        eprintln!(
            "\n!!! SKIPPING ROOTLESS: user {TEST_USER:?} does not exist. \
             Run scripts/test (it creates the user with subuid/subgid ranges).\n"
        );
    }
    users
}

pub(super) fn test_user() -> Option<nix::unistd::User> {
    nix::unistd::User::from_name(TEST_USER).ok().flatten()
}

/// `SKIFF_TEST_KEEP=1`: keep the per-test directories for inspection.
pub(super) fn keep_dirs() -> bool {
    std::env::var_os("SKIFF_TEST_KEEP").is_some_and(|v| !v.is_empty() && v != "0")
}
