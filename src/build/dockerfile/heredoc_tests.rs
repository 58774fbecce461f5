//! Heredocs on RUN, COPY/ADD and ONBUILD.

use super::tests::{body, one};
use super::*;

fn doc(name: &str, body: &str, expand: bool) -> Heredoc {
    Heredoc {
        name: name.into(),
        body: body.into(),
        expand,
    }
}

fn run_of(i: Instruction) -> RunInstruction {
    match i {
        Instruction::Run(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn run_with_only_a_heredoc_is_a_script() {
    let b = body("RUN <<EOF\napt-get update\n  echo $HOME\nEOF\nCMD x\n");
    assert_eq!(b.len(), 2);
    assert_eq!(b[0].text, "RUN <<EOF");
    assert_eq!(b[1].line, 6);
    let r = run_of(b[0].value.clone());
    assert_eq!(r.command, Command::Shell("<<EOF".into()));
    assert_eq!(
        r.scripts,
        [doc("EOF", "apt-get update\n  echo $HOME\n", true)]
    );
}

#[test]
fn quoted_markers_and_tab_stripping() {
    for marker in ["<<\"EOF\"", "<<'EOF'", "<<E\"O\"F"] {
        let r = run_of(one(&format!("RUN {marker}\necho $X\nEOF")));
        assert_eq!(r.scripts, [doc("EOF", "echo $X\n", false)], "{marker}");
    }
    // `<<-`: leading tabs go from the body and before the terminator.
    let r = run_of(one("RUN <<-EOT\n\t\techo a\n\t  b\n\tEOT\n"));
    assert_eq!(r.scripts, [doc("EOT", "echo a\n  b\n", true)]);
    // Without `-`, a tab-indented terminator is body.
    let r = run_of(one("RUN <<EOT\n\tEOT\nEOT\n"));
    assert_eq!(r.scripts, [doc("EOT", "\tEOT\n", true)]);
    // With flags before the marker.
    let r = run_of(one("RUN --network=none <<EOF\nx\nEOF\n"));
    assert_eq!((r.network.as_deref(), r.scripts.len()), (Some("none"), 1));
}

#[test]
fn heredocs_inside_a_shell_command_go_to_the_shell() {
    let r = run_of(one("RUN cat <<EOF > /file\nhello\nEOF\n"));
    assert!(r.scripts.is_empty());
    assert_eq!(
        r.command,
        Command::Shell("cat <<EOF > /file\nhello\nEOF".into())
    );
    // Several on one line: bodies in order, each with its terminator;
    // the raw body keeps its tabs for the shell's own `<<-`.
    let r = run_of(one("RUN cat <<A <<-'B' >f\na1\nA\n\tb1\n\tB\n"));
    assert_eq!(
        r.command,
        Command::Shell("cat <<A <<-'B' >f\na1\nA\n\tb1\nB".into())
    );
    // Two heredocs alone are not one script.
    let r = run_of(one("RUN <<A <<B\n1\nA\n2\nB\n"));
    assert!(r.scripts.is_empty());
    assert_eq!(r.command, Command::Shell("<<A <<B\n1\nA\n2\nB".into()));
}

#[test]
fn not_heredocs() {
    // Quoted, spaced, exec form, or another instruction: a plain line.
    assert_eq!(
        one("RUN echo \"<<EOF\""),
        Instruction::Run(RunInstruction {
            command: Command::Shell("echo \"<<EOF\"".into()),
            scripts: vec![],
            mounts: vec![],
            network: None,
            security: None,
        })
    );
    assert_eq!(body("RUN echo <<\nCMD x\n").len(), 2);
    assert_eq!(body("RUN echo <<- EOF\nCMD x\n").len(), 2);
    assert_eq!(body("RUN [\"cat\", \"<<EOF\"]\nCMD x\n").len(), 2);
    assert_eq!(body("CMD cat <<EOF\nRUN x\n").len(), 2);
}

#[test]
fn blanks_after_the_marker() {
    // BuildKit's lexer keeps `<< EOF` together: still a heredoc.
    let r = run_of(one("RUN cat << EOF >/f\nhi\nEOF\n"));
    assert_eq!(r.command, Command::Shell("cat << EOF >/f\nhi\nEOF".into()));
    let r = run_of(one("RUN <<  'EOF'\n$x\nEOF\n"));
    assert_eq!(r.scripts, [doc("EOF", "$x\n", false)]);
}

#[test]
fn copy_inline_files() {
    let b = body(
        "COPY --chmod=755 <<EOF <<-\"RUNME\" local /dest/\nline $X\nEOF\n\t#!/bin/sh\n\tRUNME\nRUN ok\n",
    );
    assert_eq!(b.len(), 2);
    let Instruction::Copy(c) = &b[0].value else {
        panic!()
    };
    assert_eq!(
        c.inline_files,
        [
            doc("EOF", "line $X\n", true),
            doc("RUNME", "#!/bin/sh\n", false)
        ]
    );
    assert_eq!(c.sources, ["local"]);
    assert_eq!(c.dest, "/dest/");
    assert_eq!(c.chmod.as_deref(), Some("755"));
    let Instruction::Add(a) = one("ADD <<F /f\nx\nF") else {
        panic!()
    };
    assert_eq!(a.inline_files, [doc("F", "x\n", true)]);
}

#[test]
fn onbuild_heredoc() {
    let i = one("ONBUILD RUN <<EOF\necho hi\nEOF\n");
    let Instruction::Onbuild { trigger, parsed } = i else {
        panic!()
    };
    assert_eq!(trigger, "RUN <<EOF\necho hi\nEOF");
    assert_eq!(run_of(*parsed).scripts, [doc("EOF", "echo hi\n", true)]);
}

#[test]
fn crlf_files_give_lf_bodies() {
    let r = run_of(one("RUN <<EOF\r\necho a\r\nEOF\r\n"));
    assert_eq!(r.scripts, [doc("EOF", "echo a\n", true)]);
}
