//! What a parsed Dockerfile is: stages of located instructions whose
//! arguments are kept as written (raw words), because docker substitutes
//! variables per step with the ARG/ENV values in force at that step.
//! The executor expands a raw word with `build::words` where docker does
//! (FROM, ADD, COPY, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME,
//! WORKDIR, ONBUILD's stored text excepted, and the flags of those
//! instructions); RUN, CMD, ENTRYPOINT and HEALTHCHECK are left to the
//! shell in the container.

/// A whole Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The name errors use for the file (`Dockerfile`, `-`, a path).
    pub file_name: String,
    /// `# escape=` (default `\`) and `# syntax=` (recorded, not acted on).
    pub directives: Directives,
    /// ARGs before the first FROM: usable in FROM lines, and in a stage
    /// only after the stage redeclares them (`ARG NAME` without a value).
    pub global_args: Vec<Located<ArgDecl>>,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directives {
    pub escape: char,
    pub syntax: Option<String>,
}

impl Default for Directives {
    fn default() -> Self {
        Directives {
            escape: '\\',
            syntax: None,
        }
    }
}

/// One `FROM ... [AS name]` and the instructions up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// 0-based position, what `--from=0` and `--target` by index name.
    pub index: usize,
    /// The `AS` name, lowercased as docker does.
    pub name: Option<String>,
    /// The base image as written (raw word: may use global ARGs), or
    /// `scratch`, or an earlier stage's name.
    pub base: String,
    /// `--platform=` as written (raw word).
    pub platform: Option<String>,
    /// The FROM line itself (line number and original text).
    pub from_line: usize,
    pub from_text: String,
    pub instructions: Vec<Located<Instruction>>,
}

/// A value with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// 1-based line of the instruction's first line.
    pub line: usize,
    /// The instruction as written, continuation lines joined as BuildKit
    /// joins them (the escape character and the blanks after it removed,
    /// nothing inserted, comment lines dropped), trimmed; heredoc bodies
    /// are not part of it: `STEP n/m: <text>` and error messages show it.
    pub text: String,
    pub value: T,
}

/// Shell form (`RUN make all`) or exec form (`RUN ["make", "all"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Run through the stage's SHELL (default `/bin/sh -c`). For a RUN
    /// with heredocs whose command is not just `<<EOF`, the text holds
    /// the command line, each heredoc body and its terminator, as the
    /// shell itself reads heredocs (BuildKit does the same).
    Shell(String),
    /// Exact argv, already JSON-decoded (no substitution ever applies).
    Exec(Vec<String>),
}

/// A `<<NAME` here-document attached to RUN or COPY/ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    pub name: String,
    /// The lines between the marker and the terminator, each ending in
    /// `\n`; leading tabs already removed for `<<-`.
    pub body: String,
    /// False when the marker was quoted (`<<"EOF"`, `<<'EOF'`): the body
    /// is taken literally, no variable expansion.
    pub expand: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    /// The default as written (raw word), if `ARG NAME=default`.
    pub default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInstruction {
    pub command: Command,
    /// `RUN <<EOF` (the command is exactly one heredoc marker, and then
    /// `command` is `Shell("<<EOF")`): the one body, the script. BuildKit
    /// runs it as a file when it starts with `#!`, else gives it to the
    /// shell as the command text. Empty otherwise: several heredocs, or
    /// heredocs inside a longer command, are in `command` (see
    /// `Command::Shell`).
    pub scripts: Vec<Heredoc>,
    /// Each `--mount=` value as written (`type=cache,target=/root/.cache`).
    pub mounts: Vec<String>,
    /// `--network=` value as written (`none`, `host`, `default`).
    pub network: Option<String>,
    /// `--security=` value as written (`sandbox`, `insecure`).
    pub security: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyInstruction {
    /// Sources as written (raw words; globs, URLs for ADD).
    pub sources: Vec<String>,
    /// Inline files (`COPY <<EOF /dest`): name → body.
    pub inline_files: Vec<Heredoc>,
    pub dest: String,
    /// `--from=` stage name, stage index or image reference (raw).
    pub from: Option<String>,
    /// `--chown=user[:group]` (raw).
    pub chown: Option<String>,
    /// `--chmod=` (raw; octal).
    pub chmod: Option<String>,
    /// `--link` (accepted; the layer is the same either way).
    pub link: bool,
    /// `--parents` (BuildKit labs; keep source parent dirs).
    pub parents: bool,
    /// `--exclude=` patterns (raw).
    pub exclude: Vec<String>,
    /// ADD only: `--checksum=sha256:...` (raw).
    pub checksum: Option<String>,
    /// ADD only: `--keep-git-dir`.
    pub keep_git_dir: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthcheckInstruction {
    /// `CMD` exec or shell form. docker stores shell form as
    /// `["CMD-SHELL", text]` and exec form as `["CMD", args...]`.
    pub test: Command,
    /// Durations as written (`30s`, `1m30s`), raw.
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    Run(RunInstruction),
    Cmd(Command),
    Entrypoint(Command),
    /// `SHELL ["executable", "params"]` (exec form only, as docker).
    Shell(Vec<String>),
    /// `ENV a=b c=d` or legacy `ENV a b c`: (key, raw value) pairs.
    Env(Vec<(String, String)>),
    /// `LABEL a=b "c d"=e`: (raw key, raw value) pairs.
    Label(Vec<(String, String)>),
    Arg(Vec<ArgDecl>),
    /// Raw words (`80`, `80/udp`, `${PORT}`).
    Expose(Vec<String>),
    Workdir(String),
    User(String),
    /// Paths: JSON array form or words, raw.
    Volume(Vec<String>),
    StopSignal(String),
    /// `None` is `HEALTHCHECK NONE`.
    Healthcheck(Option<HealthcheckInstruction>),
    /// The trigger as written after ONBUILD (stored in the image config
    /// verbatim), and its parsed form (parsed now so a bad trigger fails
    /// this build; ONBUILD ONBUILD / FROM / MAINTAINER are refused).
    Onbuild {
        trigger: String,
        parsed: Box<Instruction>,
    },
    Copy(CopyInstruction),
    Add(CopyInstruction),
    /// Deprecated; sets the image's Author.
    Maintainer(String),
}

/// A Dockerfile that cannot be parsed: `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub message: String,
}
