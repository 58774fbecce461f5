//! Structure and instructions: what a Dockerfile parses to.

use super::*;

pub(super) fn ok(text: &str) -> Dockerfile {
    parse(text, "Dockerfile").unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The instructions of the only stage of `FROM scratch\n<body>`.
pub(super) fn body(text: &str) -> Vec<Located<Instruction>> {
    let d = ok(&format!("FROM scratch\n{text}"));
    assert_eq!(d.stages.len(), 1);
    d.stages.into_iter().next().unwrap().instructions
}

pub(super) fn one(text: &str) -> Instruction {
    let mut all = body(text);
    assert_eq!(all.len(), 1, "{text:?}: {all:?}");
    all.remove(0).value
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn run(command: Command) -> Instruction {
    Instruction::Run(RunInstruction {
        command,
        scripts: vec![],
        mounts: vec![],
        network: None,
        security: None,
    })
}

fn shell(s: &str) -> Command {
    Command::Shell(s.into())
}

fn exec(v: &[&str]) -> Command {
    Command::Exec(strings(v))
}

#[test]
fn stages_names_and_global_args() {
    let d = ok(
        "ARG BASE=alpine\nARG V\nfrom ${BASE}:3 AS Build\nRUN make\n\
                FROM --platform=linux/amd64 build as final\nFROM scratch\n",
    );
    assert_eq!(d.file_name, "Dockerfile");
    let args: Vec<_> = d
        .global_args
        .iter()
        .map(|a| (a.line, a.value.clone()))
        .collect();
    assert_eq!(
        args,
        [
            (
                1,
                ArgDecl {
                    name: "BASE".into(),
                    default: Some("alpine".into())
                }
            ),
            (
                2,
                ArgDecl {
                    name: "V".into(),
                    default: None
                }
            ),
        ]
    );
    let s: Vec<_> = d
        .stages
        .iter()
        .map(|s| {
            (
                s.index,
                s.name.clone(),
                s.base.clone(),
                s.platform.clone(),
                s.from_line,
            )
        })
        .collect();
    assert_eq!(
        s,
        [
            (0, Some("build".into()), "${BASE}:3".into(), None, 3),
            (
                1,
                Some("final".into()),
                "build".into(),
                Some("linux/amd64".into()),
                5
            ),
            (2, None, "scratch".into(), None, 6),
        ]
    );
    assert_eq!(d.stages[0].from_text, "from ${BASE}:3 AS Build");
    assert_eq!(d.stages[0].instructions.len(), 1);
    assert!(d.stages[1].instructions.is_empty());
}

#[test]
fn run_cmd_entrypoint_shell_and_exec_forms() {
    assert_eq!(one("RUN make all"), run(shell("make all")));
    assert_eq!(one("run [\"make\", \"all\"]"), run(exec(&["make", "all"])));
    // Not valid JSON (single quotes, unclosed): shell form.
    assert_eq!(one("RUN ['make']"), run(shell("['make']")));
    assert_eq!(one("RUN [\"a\""), run(shell("[\"a\"")));
    assert_eq!(one("RUN [a b]"), run(shell("[a b]")));
    // Anything after the array makes it invalid JSON: shell form.
    assert_eq!(one("CMD [\"a\"] b"), Instruction::Cmd(shell("[\"a\"] b")));
    assert_eq!(
        one("RUN [ \"a\" ,\"b\\\"c\" ]  "),
        run(exec(&["a", "b\"c"]))
    );
    assert_eq!(
        one("CMD [\"sh\", \"-c\", \"echo $HOME\"]"),
        Instruction::Cmd(exec(&["sh", "-c", "echo $HOME"]))
    );
    assert_eq!(one("CMD echo  hi"), Instruction::Cmd(shell("echo  hi")));
    assert_eq!(one("CMD []"), Instruction::Cmd(exec(&[])));
    assert_eq!(
        one("ENTRYPOINT [\"/bin/app\"]"),
        Instruction::Entrypoint(exec(&["/bin/app"]))
    );
    assert_eq!(
        one("ENTRYPOINT exec app"),
        Instruction::Entrypoint(shell("exec app"))
    );
}

#[test]
fn run_flags() {
    let i = one(
        "RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=x \
                 --network=none --security=insecure make",
    );
    assert_eq!(
        i,
        Instruction::Run(RunInstruction {
            command: shell("make"),
            scripts: vec![],
            mounts: strings(&["type=cache,target=/root/.cache", "type=secret,id=x"]),
            network: Some("none".into()),
            security: Some("insecure".into()),
        })
    );
    // Quotes in a flag are removed; `--` ends the flags.
    let Instruction::Run(r) = one("RUN --mount=\"type=bind,source=a b\" -- --help") else {
        panic!()
    };
    assert_eq!(r.mounts, ["type=bind,source=a b"]);
    assert_eq!(r.command, shell("--help"));
}

#[test]
fn env_both_syntaxes() {
    assert_eq!(
        one("ENV a=b c=\"d e\" f='g h' i=j\\ k l="),
        Instruction::Env(pairs(&[
            ("a", "b"),
            ("c", "\"d e\""),
            ("f", "'g h'"),
            ("i", "j\\ k"),
            ("l", ""),
        ]))
    );
    assert_eq!(
        one("ENV key value with  spaces"),
        Instruction::Env(pairs(&[("key", "value with  spaces")]))
    );
    assert_eq!(
        one("ENV PATH=$PATH:/x"),
        Instruction::Env(pairs(&[("PATH", "$PATH:/x")]))
    );
    assert_eq!(
        one("ENV a=\"multi \\\n  line\""),
        Instruction::Env(pairs(&[("a", "\"multi   line\"")]))
    );
}

#[test]
fn label_arg_expose_volume() {
    assert_eq!(
        one("LABEL \"com.example.vendor\"=\"ACME\" version=1.0 description=\"a b\""),
        Instruction::Label(pairs(&[
            ("\"com.example.vendor\"", "\"ACME\""),
            ("version", "1.0"),
            ("description", "\"a b\""),
        ]))
    );
    assert_eq!(
        one("LABEL legacy some value"),
        Instruction::Label(pairs(&[("legacy", "some value")]))
    );
    assert_eq!(
        one("ARG A B=2 C=\"x y\""),
        Instruction::Arg(vec![
            ArgDecl {
                name: "A".into(),
                default: None
            },
            ArgDecl {
                name: "B".into(),
                default: Some("2".into())
            },
            ArgDecl {
                name: "C".into(),
                default: Some("\"x y\"".into())
            },
        ])
    );
    assert_eq!(
        one("EXPOSE 80 443/tcp ${P}/udp"),
        Instruction::Expose(strings(&["80", "443/tcp", "${P}/udp"]))
    );
    assert_eq!(
        one("VOLUME [\"/a\", \"/b c\"]"),
        Instruction::Volume(strings(&["/a", "/b c"]))
    );
    assert_eq!(
        one("VOLUME /a /b"),
        Instruction::Volume(strings(&["/a", "/b"]))
    );
    assert_eq!(
        one("VOLUME [\" /a \"]"),
        Instruction::Volume(strings(&["/a"]))
    );
}

#[test]
fn single_argument_instructions_keep_the_whole_rest() {
    assert_eq!(
        one("WORKDIR /my dir"),
        Instruction::Workdir("/my dir".into())
    );
    assert_eq!(one("USER 1000:1000"), Instruction::User("1000:1000".into()));
    assert_eq!(one("USER ${U}"), Instruction::User("${U}".into()));
    assert_eq!(
        one("STOPSIGNAL SIGKILL"),
        Instruction::StopSignal("SIGKILL".into())
    );
    assert_eq!(
        one("MAINTAINER Jo <jo@x.org>"),
        Instruction::Maintainer("Jo <jo@x.org>".into())
    );
    assert_eq!(
        one("SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]"),
        Instruction::Shell(strings(&["/bin/bash", "-o", "pipefail", "-c"]))
    );
}

fn copy_of(i: Instruction) -> CopyInstruction {
    match i {
        Instruction::Copy(c) | Instruction::Add(c) => c,
        other => panic!("{other:?}"),
    }
}

#[test]
fn copy_and_add() {
    let c = copy_of(one(
        "COPY --from=build --chown=app:app --chmod=0755 --link --parents \
         --exclude=*.md --exclude=tmp a b* /dest/",
    ));
    assert_eq!(c.sources, ["a", "b*"]);
    assert_eq!(c.dest, "/dest/");
    assert_eq!(c.from.as_deref(), Some("build"));
    assert_eq!(c.chown.as_deref(), Some("app:app"));
    assert_eq!(c.chmod.as_deref(), Some("0755"));
    assert!(c.link && c.parents);
    assert_eq!(c.exclude, ["*.md", "tmp"]);
    assert!(c.inline_files.is_empty());

    let c = copy_of(one("COPY [\"a b\", \"c\", \"/d/\"]"));
    assert_eq!(
        (c.sources, c.dest),
        (strings(&["a b", "c"]), "/d/".to_string())
    );
    // Shell form splits on blanks only, as BuildKit: quotes are not
    // grouping here (they are for the lexer, per word, later).
    let c = copy_of(one("COPY --link=false \"a b\" /d"));
    assert!(!c.link);
    assert_eq!(c.sources, ["\"a", "b\""]);
    let c = copy_of(one("ADD \\conf\\\\\" /.znc"));
    assert_eq!(
        (c.sources, c.dest),
        (strings(&["\\conf\\\\\""]), "/.znc".to_string())
    );

    let i = one("ADD --checksum=sha256:abc --keep-git-dir https://x/y.tgz /opt/");
    assert!(matches!(i, Instruction::Add(_)));
    let c = copy_of(i);
    assert_eq!(c.checksum.as_deref(), Some("sha256:abc"));
    assert!(c.keep_git_dir);
    assert_eq!(c.sources, ["https://x/y.tgz"]);
}

#[test]
fn healthcheck() {
    assert_eq!(one("HEALTHCHECK NONE"), Instruction::Healthcheck(None));
    assert_eq!(
        one(
            "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s \
             --start-interval=1s --retries=3 CMD curl -f http://localhost/"
        ),
        Instruction::Healthcheck(Some(HealthcheckInstruction {
            test: shell("curl -f http://localhost/"),
            interval: Some("30s".into()),
            timeout: Some("1m30s".into()),
            start_period: Some("5s".into()),
            start_interval: Some("1s".into()),
            retries: Some("3".into()),
        }))
    );
    assert_eq!(
        one("healthcheck cmd [\"/bin/check\", \"-q\"]"),
        Instruction::Healthcheck(Some(HealthcheckInstruction {
            test: exec(&["/bin/check", "-q"]),
            interval: None,
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: None,
        }))
    );
}

#[test]
fn onbuild_keeps_the_trigger_text_and_its_parse() {
    assert_eq!(
        one("ONBUILD  RUN  echo hi"),
        Instruction::Onbuild {
            trigger: "RUN  echo hi".into(),
            parsed: Box::new(run(shell("echo hi"))),
        }
    );
    let Instruction::Onbuild { parsed, .. } = one("onbuild copy --from=x a /b") else {
        panic!()
    };
    assert_eq!(copy_of(*parsed).from.as_deref(), Some("x"));
}

#[test]
fn comments_blank_lines_and_case() {
    let b = body("# comment\n\n   \n  # indented comment\nrUn echo # not a comment\n\tCMD x\n");
    let got: Vec<_> = b.iter().map(|l| (l.line, l.text.as_str())).collect();
    assert_eq!(got, [(6, "rUn echo # not a comment"), (7, "CMD x")]);
    assert_eq!(b[0].value, run(shell("echo # not a comment")));
}

#[test]
fn continuations() {
    // Joined as written: the escape and the blanks after it go, the
    // rest (indentation included) stays, as BuildKit.
    let b = body(
        "RUN apt-get update && \\\n    apt-get install -y x \\  \n && rm -rf /var/lib\nCMD y\n",
    );
    assert_eq!(b[0].line, 2);
    assert_eq!(
        b[0].text,
        "RUN apt-get update &&     apt-get install -y x  && rm -rf /var/lib"
    );
    assert_eq!(b[1].line, 5);
    // Comment lines and blank lines inside a continuation are skipped.
    let b = body("RUN a \\\n# comment\n\n   \n  # indented\n  b\nCMD z\n");
    assert_eq!(b[0].value, run(shell("a   b")));
    assert_eq!(b[1].line, 8);
    // No space before the escape: words glue together.
    assert_eq!(one("RUN echo foo\\\nbar"), run(shell("echo foobar")));
    // An escaped escape does not continue.
    let b = body("RUN echo \\\\\nCMD x\n");
    assert_eq!(b[0].value, run(shell("echo \\\\")));
    assert_eq!(b.len(), 2);
    // A continuation at the end of the file ends the instruction.
    assert_eq!(one("RUN a \\\n"), run(shell("a")));
    // A line with only the escape.
    assert_eq!(one("RUN a \\\n\\\n b"), run(shell("a  b")));
    // CRLF line ends.
    let b = body("RUN a \\\r\n b\r\nCMD c\r\n");
    assert_eq!(b[0].value, run(shell("a  b")));
    assert_eq!(b[1].value, Instruction::Cmd(shell("c")));
}

#[test]
fn directives_and_the_escape_character() {
    let d =
        ok("# syntax=docker/dockerfile:1.7\n# ESCAPE = `\nFROM scratch\nRUN dir c:\\ `\n  /w\n");
    assert_eq!(d.directives.escape, '`');
    assert_eq!(
        d.directives.syntax.as_deref(),
        Some("docker/dockerfile:1.7")
    );
    assert_eq!(
        d.stages[0].instructions[0].value,
        run(shell("dir c:\\   /w"))
    );
    assert_eq!(d.stages[0].instructions[0].line, 4);
    // Backslash is ordinary with the backtick escape.
    let d = ok("#escape=`\nFROM scratch\nRUN a \\\nCMD b\n");
    assert_eq!(d.stages[0].instructions.len(), 2);
    // After any other line, a directive is only a comment.
    for text in [
        "# a comment\n# escape=`\nFROM scratch\nRUN a `\nCMD b\n",
        "\n# escape=`\nFROM scratch\nRUN a `\nCMD b\n",
        "FROM scratch\n# escape=`\nRUN a `\nCMD b\n",
        "# unknown=x\n# escape=`\nFROM scratch\nRUN a `\nCMD b\n",
    ] {
        let d = ok(text);
        assert_eq!(d.directives.escape, '\\', "{text:?}");
        assert_eq!(d.stages[0].instructions.len(), 2, "{text:?}");
    }
    // A BOM is not part of the first line.
    let d = ok("\u{feff}# escape=`\nFROM scratch\n");
    assert_eq!(d.directives.escape, '`');
}

#[test]
fn keywords_match_the_text() {
    let b = body(
        "RUN a\nCMD b\nENTRYPOINT c\nSHELL [\"sh\"]\nENV a=b\nLABEL a=b\nARG a\nEXPOSE 1\n\
         WORKDIR /\nUSER u\nVOLUME /v\nSTOPSIGNAL 9\nHEALTHCHECK NONE\nONBUILD RUN x\n\
         COPY a b\nADD a b\nMAINTAINER m\n",
    );
    assert_eq!(b.len(), 17);
    for l in b {
        let first = l.text.split_whitespace().next().unwrap();
        assert_eq!(l.value.keyword(), first, "{}", l.text);
    }
}

#[test]
fn empty_flag_values_are_unset() {
    let Instruction::Copy(c) = one("COPY --from= --chown= a b") else {
        panic!()
    };
    assert_eq!((c.from, c.chown), (None, None));
}
