//! `skiff secret …` and `run --secret`: the store, delivery as a file and
//! as an environment variable, and the value staying out of everything
//! but the store (records, specs, inspect, logs, commit, export). Each
//! test runs as root and rootless.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// A value no file of the image or skiff could contain by chance.
fn unique_value(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("s3cr3t-{tag}-{}-{nanos}", std::process::id())
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every regular file below `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if meta.is_file() && fs::read(&path).is_ok_and(|bytes| contains(&bytes, needle)) {
            found.push(path.display().to_string());
        }
    }
    found
}

#[test]
fn create_list_inspect_replace_and_remove() {
    for_each_user(|ctx| {
        let value = unique_value("store");
        let out = ctx.run_stdin(&["secret", "create", "pw", "-"], value.as_bytes());
        assert_exit_code(&out, 0, "secret create from stdin");
        let id = stdout_of(&out).trim().to_string();
        assert_eq!(id.len(), 25, "a podman-style ID: {id:?}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");

        let file = ctx.write_file("token.txt", "from-a-file\n");
        ctx.run_ok(&[
            "secret",
            "create",
            "-l",
            "team=db",
            "tok",
            file.to_str().unwrap(),
        ]);

        let ls = ctx.run_ok(&["secret", "ls"]);
        let lines: Vec<&str> = ls.lines().collect();
        assert!(
            lines[0].starts_with("ID") && lines[0].contains("NAME"),
            "{ls}"
        );
        assert_eq!(lines.len(), 3, "{ls}");
        assert!(
            ls.contains(&id) && ls.contains(" pw ") && ls.contains("file"),
            "{ls}"
        );
        let quiet = ctx.run_ok(&["secret", "ls", "-q", "--filter", "name=pw"]);
        assert_eq!(quiet, format!("{id}\n"));
        let names = ctx.run_ok(&["secret", "ls", "-n", "--format", "{{.Spec.Name}}"]);
        assert_eq!(names, "pw\ntok\n");
        assert!(!ls.contains(&value), "ls shows no data");

        let inspect = ctx.run_ok(&["secret", "inspect", "pw"]);
        assert!(
            !inspect.contains(&value),
            "inspect without --showsecret: {inspect}"
        );
        let doc: serde_json::Value = serde_json::from_str(&inspect).unwrap();
        assert_eq!(doc[0]["ID"], id.as_str());
        assert_eq!(doc[0]["Spec"]["Name"], "pw");
        assert_eq!(doc[0]["Spec"]["Driver"]["Name"], "file");
        let labels = ctx.run_ok(&[
            "secret",
            "inspect",
            "--format",
            "{{.Spec.Labels.team}}",
            "tok",
        ]);
        assert_eq!(labels, "db\n");
        let shown = ctx.run_ok(&[
            "secret",
            "inspect",
            "--showsecret",
            "--format",
            "{{.SecretData}}",
            "pw",
        ]);
        assert_eq!(shown, format!("{value}\n"));
        let shown = ctx.run_ok(&["secret", "inspect", "--showsecret", "tok"]);
        let doc: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(doc[0]["SecretData"], "from-a-file\n");

        // The store is private to its owner.
        let mode = |p: &Path| {
            use std::os::unix::fs::MetadataExt;
            fs::metadata(p).unwrap().mode() & 0o777
        };
        let store = ctx.root.join("secrets");
        assert_eq!(mode(&store), 0o700);
        let data_files: Vec<String> = files_containing(&store, &value);
        assert_eq!(data_files.len(), 1, "one copy in the store: {data_files:?}");
        assert_eq!(mode(Path::new(&data_files[0])), 0o600);

        let again = ctx.run_stdin(&["secret", "create", "pw", "-"], b"other");
        assert_exit_code(&again, 125, "a second create of a name");
        assert_one_error_mentioning(&again, "pw: secret name in use", "second create");
        let out = ctx.run_stdin(&["secret", "create", "--replace", "pw", "-"], b"newer");
        assert_exit_code(&out, 0, "create --replace");
        assert_eq!(stdout_of(&out).trim(), id, "--replace keeps the ID");
        let shown = ctx.run_ok(&[
            "secret",
            "inspect",
            "--showsecret",
            "-f",
            "{{.SecretData}}",
            &id[..8],
        ]);
        assert_eq!(shown, "newer\n");

        assert_exit_code(&ctx.run_status(&["secret", "exists", "pw"]), 0, "exists");
        assert_exit_code(
            &ctx.run_status(&["secret", "exists", "nope"]),
            1,
            "exists nope",
        );
        assert_eq!(ctx.run_ok(&["secret", "rm", "pw"]), format!("{id}\n"));
        assert_exit_code(
            &ctx.run_status(&["secret", "exists", "pw"]),
            1,
            "exists after rm",
        );
        let out = ctx.run_status(&["secret", "rm", "pw"]);
        assert_one_error_mentioning(&out, "no such secret", "rm of a removed secret");
        assert_exit_code(&ctx.run_status(&["secret", "rm", "-i", "pw"]), 0, "rm -i");
        ctx.run_ok(&["secret", "rm", "-a"]);
        assert_eq!(ctx.run_ok(&["secret", "ls", "-q"]), "");
        assert!(files_containing(&store, "from-a-file").is_empty());
    });
}

#[test]
fn delivered_as_files_with_mode_and_owner_and_as_env() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let value = unique_value("deliver");
        ctx.run_stdin(&["secret", "create", "db_password", "-"], value.as_bytes());
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--secret",
            "db_password",
            "--secret",
            "db_password,target=/etc/app/pw,mode=0400,uid=1000,gid=100",
            "--secret",
            "db_password,target=rel",
            "--secret",
            "db_password,type=env,target=DB_PASS",
            "busybox",
            "sh",
            "-c",
            "cat /run/secrets/db_password; echo; stat -c '%a %u %g' /run/secrets/db_password; \
             cat /etc/app/pw; echo; stat -c '%a %u %g' /etc/app/pw; \
             cat /run/secrets/rel; echo; echo \"env=$DB_PASS\"; \
             if echo x > /run/secrets/db_password; then echo WRITABLE; fi 2>/dev/null",
        ]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], value, "{out}");
        assert_eq!(lines[1], "444 0 0", "default mode and owner: {out}");
        assert_eq!(lines[2], value, "{out}");
        assert_eq!(lines[3], "400 1000 100", "mode, uid, gid as asked: {out}");
        assert_eq!(lines[4], value, "relative target under /run/secrets: {out}");
        assert_eq!(lines[5], format!("env={value}"), "{out}");
        assert!(
            !out.contains("WRITABLE"),
            "the secret file is read-only: {out}"
        );

        // A non-root user reads a 0400 file given to it; type=env defaults
        // to the secret's name.
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "--user",
            "1000:1000",
            "--secret",
            "db_password,mode=0400,uid=1000",
            "--secret",
            "db_password,type=env",
            "busybox",
            "sh",
            "-c",
            "cat /run/secrets/db_password; echo; echo \"$db_password\"",
        ]);
        assert_eq!(out, format!("{value}\n{value}\n"));

        // `exec` sees the env secret as the container's own process does.
        ctx.run_ok(&[
            "run",
            "-d",
            "--name",
            "e",
            "--secret",
            "db_password,type=env,target=DB_PASS",
            "busybox",
            "sleep",
            "1000",
        ]);
        assert_eq!(
            ctx.run_ok(&["exec", "e", "sh", "-c", "echo \"$DB_PASS\""]),
            format!("{value}\n")
        );
        ctx.run_ok(&["rm", "-f", "e"]);
    });
}

#[test]
fn the_value_stays_out_of_records_inspect_logs_commit_and_export() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        let value = unique_value("leak");
        ctx.run_stdin(&["secret", "create", "pw", "-"], value.as_bytes());
        let out = ctx.run_ok(&[
            "run",
            "--name",
            "c",
            "--secret",
            "pw",
            "--secret",
            "pw,type=env,target=PW",
            "busybox",
            "sh",
            "-c",
            "test -s /run/secrets/pw && test -n \"$PW\" && echo ran",
        ]);
        assert_eq!(out, "ran\n");

        let inspect = ctx.run_ok(&["inspect", "c"]);
        assert!(
            !inspect.contains(&value),
            "inspect shows the value: {inspect}"
        );
        let doc: serde_json::Value = serde_json::from_str(&inspect).unwrap();
        let secrets = &doc[0]["Config"]["Secrets"];
        assert_eq!(secrets[0]["Name"], "pw");
        assert_eq!(secrets[0]["Target"], "/run/secrets/pw");
        assert_eq!(secrets[1]["Target"], "PW");
        let env = doc[0]["Config"]["Env"].to_string();
        assert!(!env.contains("PW="), ".Config.Env has no secret: {env}");

        // The run's copy went with the run.
        let leaked = files_containing(&ctx.runroot, &value);
        assert!(
            leaked.is_empty(),
            "the value left in the runroot: {leaked:?}"
        );
        // The record and the spec name the secret (so the walk below saw
        // them), and hold no value.
        let naming = files_containing(&ctx.root.join("containers"), "/run/secrets/pw");
        for file in ["config.json", "state.json"] {
            assert!(
                naming.iter().any(|f| f.ends_with(file)),
                "{file} in {naming:?}"
            );
        }
        let leaked = files_containing(&ctx.root.join("containers"), &value);
        assert!(
            leaked.is_empty(),
            "the value in container files: {leaked:?}"
        );
        let ps = ctx.run_ok(&["ps", "-a", "--no-trunc"]);
        assert!(!ps.contains(&value));
        let logs = ctx.run_status(&["logs", "c"]);
        assert!(!contains(&logs.stdout, &value) && !contains(&logs.stderr, &value));

        ctx.run_ok(&["commit", "c", "committed"]);
        let out = ctx.run_ok(&[
            "run",
            "--rm",
            "committed",
            "sh",
            "-c",
            "cat /run/secrets/pw 2>/dev/null; echo \"env=$PW\"",
        ]);
        assert!(
            !out.contains(&value),
            "the committed image has the value: {out}"
        );
        assert!(out.ends_with("env=\n"), "{out}");
        let tar = ctx.dir.join("c.tar");
        ctx.run_ok(&["export", "-o", tar.to_str().unwrap(), "c"]);
        let exported = fs::read(&tar).unwrap();
        assert!(exported.len() > 100_000, "a whole filesystem was exported");
        assert!(!contains(&exported, &value), "export has the value");

        // A running container's export leaves the mounted file out too.
        ctx.run_ok(&[
            "run", "-d", "--name", "r", "--secret", "pw", "busybox", "sleep", "1000",
        ]);
        let tar = ctx.dir.join("r.tar");
        ctx.run_ok(&["export", "-o", tar.to_str().unwrap(), "r"]);
        assert!(
            !contains(&fs::read(&tar).unwrap(), &value),
            "export of a running container"
        );
        ctx.run_ok(&["rm", "-f", "r"]);

        // Removing a secret a container names is refused, in any state.
        let out = ctx.run_status(&["secret", "rm", "pw"]);
        assert_exit_code(&out, 125, "secret rm in use");
        assert_one_error_mentioning(&out, "in use", "secret rm in use");
        assert_exit_code(
            &ctx.run_status(&["secret", "exists", "pw"]),
            0,
            "still there",
        );
        // And a restart gets it again from the store.
        let out = ctx.run_ok(&["start", "-a", "c"]);
        assert_eq!(out, "ran\n");
        ctx.run_ok(&["rm", "c"]);
        ctx.run_ok(&["secret", "rm", "pw"]);
    });
}

#[test]
fn bad_secret_options_create_nothing() {
    for_each_user(|ctx| {
        ctx.load_busybox();
        ctx.run_stdin(&["secret", "create", "pw", "-"], b"x");
        for (flag, subject) in [
            ("pw,colour=red", "colour"),
            ("pw,mode=999", "mode"),
            ("pw,type=env,uid=1", "type env"),
            ("missing", "no such secret"),
        ] {
            let out =
                ctx.run_status(&["run", "--name", "bad", "--secret", flag, "busybox", "true"]);
            assert_exit_code(&out, 125, flag);
            assert_one_error_mentioning(&out, subject, flag);
            assert_eq!(ctx.run_ok(&["ps", "-aq"]), "", "{flag}: nothing created");
        }
        if ctx.is_rootless() {
            // An owner the user's subordinate IDs do not cover.
            let flag = "pw,uid=4000000000";
            let out = ctx.run_status(&["run", "--secret", flag, "busybox", "true"]);
            assert_exit_code(&out, 125, flag);
            assert_one_error_mentioning(&out, "not mapped", flag);
            assert_eq!(ctx.run_ok(&["ps", "-aq"]), "", "{flag}: nothing created");
        }
        let out = ctx.run_stdin(&["secret", "create", "a/b", "-"], b"x");
        assert_exit_code(&out, 125, "bad name");
        assert_one_error_mentioning(&out, "a/b", "bad name");
        let out = ctx.run_stdin(&["secret", "create", "empty", "-"], b"");
        assert_exit_code(&out, 125, "empty value");
        assert_one_error_mentioning(&out, "larger than 0", "empty value");
        assert_eq!(ctx.run_ok(&["secret", "ls", "-q"]).lines().count(), 1);
    });
}
