//! The everyday command line: `version`, `info` (and `system info`), flag
//! values that begin with `-`, shell completions, man pages and help for
//! every verb. One user story per test; those about skiff's own state run
//! as root and rootless.

mod common;

use std::process::Command;

use common::containers::*;
use common::*;

/// `info --format TEMPLATE`, trimmed.
fn info(ctx: &Ctx, template: &str) -> String {
    ctx.run_ok(&["info", "--format", template])
        .trim()
        .to_string()
}

#[test]
fn c01_version_names_this_build() {
    for_each_user(|ctx| {
        let version = env!("CARGO_PKG_VERSION");
        for template in ["{{.Client.Version}}", "{{.Version}}"] {
            assert_eq!(
                ctx.run_ok(&["version", "--format", template]),
                format!("{version}\n")
            );
        }
        let json: serde_json::Value =
            serde_json::from_str(&ctx.run_ok(&["version", "-f", "json"])).unwrap();
        let client = &json["Client"];
        assert_eq!(client["Version"], version);
        assert!(
            client["RustVersion"]
                .as_str()
                .unwrap()
                .starts_with("rustc "),
            "{json}"
        );
        assert!(client["Built"].as_i64().unwrap() > 0, "{json}");
        assert_eq!(
            client["OsArch"].as_str().unwrap().split('/').next(),
            Some("linux")
        );

        let text = ctx.run_ok(&["version"]);
        assert!(
            text.starts_with(&format!("Version:      {version}\n")),
            "{text}"
        );
        assert!(text.contains("\nRust Version: rustc "), "{text}");
    });
}

#[test]
fn c02_info_describes_this_store_and_user() {
    for_each_user(|ctx| {
        let root = ctx.root.to_str().unwrap();
        assert_eq!(info(ctx, "{{.Store.GraphRoot}}"), root);
        assert_eq!(
            info(ctx, "{{.Store.RunRoot}}"),
            ctx.runroot.to_str().unwrap()
        );
        assert_eq!(info(ctx, "{{.Host.OCIRuntime.Name}}"), "skiff");
        let rootless = ctx.is_rootless().to_string();
        assert_eq!(info(ctx, "{{.Host.Security.Rootless}}"), rootless);
        assert_eq!(info(ctx, "{{.Host.Security.SECCOMPEnabled}}"), "true");

        let driver = info(ctx, "{{.Store.GraphDriverName}}");
        let forced = match std::env::var("SKIFF_OVERLAY").as_deref() {
            Ok("kernel") => Some("overlay"),
            Ok("fuse") => Some("fuse-overlayfs"),
            Ok("copy") => Some("copy"),
            _ => None,
        };
        match forced {
            Some(name) => assert_eq!(driver, name),
            None => assert!(["overlay", "fuse-overlayfs", "copy"].contains(&driver.as_str())),
        }
        // The probe leaves nothing in the store's tmp/.
        let tmp = ctx.root.join("tmp");
        let left: Vec<_> = std::fs::read_dir(&tmp).map_or(vec![], |d| d.flatten().collect());
        assert!(left.is_empty(), "{left:?} left in {}", tmp.display());

        // `system info` is the same command; json has podman's keys.
        let json: serde_json::Value =
            serde_json::from_str(&ctx.run_ok(&["system", "info", "-f", "json"])).unwrap();
        assert_eq!(json["store"]["graphRoot"], root);
        assert_eq!(json["host"]["security"]["rootless"], ctx.is_rootless());
        assert_eq!(json["host"]["ociRuntime"]["name"], "skiff");
        assert!(["v1", "v2"].contains(&json["host"]["cgroupVersion"].as_str().unwrap()));
        // Only a rootless caller's containers have ID maps; root's use the
        // host's IDs.
        let maps = &json["host"]["idMappings"];
        if ctx.is_rootless() {
            assert_eq!(maps["uidmap"][0]["host_id"], ctx.uid, "{maps}");
            assert_eq!(maps["gidmap"][0]["host_id"], ctx.gid, "{maps}");
            assert_eq!(
                info(ctx, "{{(index .Host.IDMappings.UIDMap 0).HostID}}"),
                ctx.uid.to_string()
            );
        } else {
            assert!(maps.is_null(), "{maps}");
        }

        let text = ctx.run_ok(&["info"]);
        assert!(text.contains(&format!("\n  graphRoot: {root}\n")), "{text}");
    });
}

#[test]
fn c03_info_counts_images_containers_and_volumes() {
    for_each_user(|ctx| {
        let counts = |ctx: &Ctx| {
            info(
                ctx,
                "{{.Store.ImageStore.Number}} {{.Store.ContainerStore.Number}} \
                 {{.Store.ContainerStore.Running}} {{.Store.ContainerStore.Paused}} \
                 {{.Store.ContainerStore.Stopped}} {{.Store.VolumeStore.Number}}",
            )
        };
        assert_eq!(counts(ctx), "0 0 0 0 0 0");
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        ctx.run_ok(&["create", "--name", "idle", "busybox", "true"]);
        ctx.run_ok(&["volume", "create", "data"]);
        assert_eq!(counts(ctx), "1 1 0 0 1 1");
        ctx.run_detached(&["--name", "busy", "busybox", "sleep", "300"]);
        assert_eq!(counts(ctx), "1 2 1 0 1 1");
    });
}

#[test]
fn c04_format_values_may_begin_with_dashes() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let out = ctx.run_ok(&["history", "--format", "--{{.ID}}--", "busybox"]);
        let lines = nonempty_lines(&out);
        assert!(!lines.is_empty(), "{out}");
        for line in lines {
            assert!(
                line.starts_with("--") && line.ends_with("--") && line.len() > 4,
                "{line}"
            );
        }
        assert_eq!(
            ctx.run_ok(&["info", "--format", "-{{.Host.OCIRuntime.Name}}"]),
            "-skiff\n"
        );
    });
}

#[test]
fn c05_env_and_label_values_may_begin_with_dashes() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let _cleanup = RemoveAllOnDrop(ctx);
        let out = ctx.run_ok(&[
            "run", "--rm", "-e", "-x=1", "--env", "--y=2", "busybox", "env",
        ]);
        let lines = nonempty_lines(&out);
        for want in ["-x=1", "--y=2"] {
            assert!(lines.iter().any(|l| l == want), "{want} in {out}");
        }
        ctx.run_ok(&[
            "create", "--name", "labelled", "-l", "-k=v", "busybox", "true",
        ]);
        assert_eq!(
            ctx.inspect_format("labelled", "{{index .Config.Labels \"-k\"}}"),
            "v"
        );
    });
}

/// Completion scripts come from the binary alone: root covers them.
#[test]
fn c06_completion_scripts_load_in_their_shells() {
    for_users(&[User::Root], |ctx| {
        let script = ctx.work.join("skiff.bash");
        std::fs::write(&script, ctx.run_ok(&["completion", "bash"])).unwrap();
        let script = script.to_str().unwrap();
        let check = Command::new("bash").args(["-n", script]).output().unwrap();
        assert_success(&check, "bash -n on the completion script");
        let loaded = Command::new("bash")
            .args(["-c", &format!("source {script} && complete -p skiff")])
            .output()
            .unwrap();
        let loaded = assert_success(&loaded, "sourcing the bash completion");
        assert!(loaded.contains(" skiff"), "{loaded}");
        for shell in ["zsh", "fish"] {
            let text = ctx.run_ok(&["completion", shell]);
            assert!(
                text.contains("skiff") && text.lines().count() > 50,
                "{shell}: {text}"
            );
        }
        let out = ctx.run_status(&["completion", "tcsh"]);
        assert_exit_code(&out, 125, "completion for an unknown shell");
    });
}

/// Man pages come from the binary alone: root covers them.
#[test]
fn c07_man_pages_render_with_man() {
    for_users(&[User::Root], |ctx| {
        let dir = ctx.work.join("man1");
        ctx.run_ok(&["generate-man", dir.to_str().unwrap()]);
        for page in [
            "skiff.1",
            "skiff-run.1",
            "skiff-container-run.1",
            "skiff-info.1",
        ] {
            assert!(dir.join(page).is_file(), "{page} written");
        }
        assert!(
            !dir.join("skiff-container-monitor.1").exists(),
            "hidden commands get no page"
        );
        let out = Command::new("man")
            .arg("-l")
            .arg(dir.join("skiff-run.1"))
            .env("MANWIDTH", "100")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .expect("man (scripts/test installs man-db)");
        let page = assert_success(&out, "man -l skiff-run.1");
        for text in ["skiff-run", "--entrypoint", "Examples:"] {
            assert!(page.contains(text), "{text} in {page}");
        }
    });
}

/// Help is the same for every user: root covers it.
#[test]
fn c08_every_verb_has_help() {
    for_users(&[User::Root], |ctx| {
        let top = ctx.run_ok(&["--help"]);
        let verbs: Vec<&str> = top
            .lines()
            .skip_while(|l| !l.starts_with("Commands:"))
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|v| *v != "help")
            .collect();
        assert!(verbs.len() > 30, "{top}");
        for verb in &verbs {
            let help = ctx.run_ok(&["help", verb]);
            assert!(help.contains("Usage: skiff"), "help {verb}: {help}");
            assert_eq!(ctx.run_ok(&[verb, "--help"]), help, "{verb} --help");
        }
        for verb in ["run", "ps", "logs", "exec", "volume", "pull"] {
            assert!(
                ctx.run_ok(&["help", verb]).contains("\nExamples:\n"),
                "{verb}"
            );
        }
        assert!(
            ctx.run_ok(&["help", "container", "run"])
                .contains("Examples:")
        );
    });
}
