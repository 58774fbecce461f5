//! `--format` for every command that takes it (ps, images, inspect,
//! history, …), as podman does it: Go's text/template language, through
//! the `gotmpl` port, over rows whose keys are podman's field names.
//!
//! - `json` prints the rows as a pretty JSON array.
//! - `table TEMPLATE` prints a header row, then one line per row, aligned
//!   as podman's tabwriter does (columns at least 12 wide, 2 spaces apart).
//!   A bare `table` asks for the command's own default table, which only
//!   the caller knows: check for it before [`OutputFormat::parse`], which
//!   refuses it with [`TemplateError::BareTable`].
//! - Anything else is rendered once per row, unaligned.
//!
//! As in podman, a `\t` or `\n` typed outside `{{ }}` becomes a real tab
//! or newline, a space outside `{{ }}` in a `table` template separates
//! columns, and each row ends with a newline unless the template already
//! does. A field the data lacks is an error, as with podman's structs,
//! rather than Go's `<no value>` for maps.

use gotmpl::parse::{Expr, Node, PipeNode};
use gotmpl::{MissingKey, Template, Value};

/// The template's name in error messages: `template: format:1:5: …`.
const NAME: &str = "format";
/// podman's tabwriter settings (`report.NewWriterDefault`).
const MIN_WIDTH: usize = 12;
const PADDING: usize = 2;
/// Go's own template functions, to refuse any other name at parse time.
const BUILTINS: &[&str] = &[
    "and", "call", "eq", "ge", "gt", "html", "index", "js", "le", "len", "lt", "ne", "not", "or",
    "print", "printf", "println", "slice", "urlquery",
];
/// podman's additions (`report.DefaultFuncs`), registered in `compile`.
const HELPERS: &[&str] = &[
    "join", "json", "lower", "pad", "split", "title", "truncate", "upper",
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A syntax error or unknown function; the text reads like Go's,
    /// `template: format:1: function "foo" not defined`.
    #[error("{0}")]
    Parse(String),
    /// Rendering failed, e.g. a field the data does not have.
    #[error("template: {0}")]
    Execute(String),
    /// `parse` was given a bare `table`, which callers must answer with
    /// their default table before parsing.
    #[error("`table` alone selects the command's default table, not a template")]
    BareTable,
    #[error("rendering JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<gotmpl::TemplateError> for TemplateError {
    fn from(err: gotmpl::TemplateError) -> Self {
        use gotmpl::TemplateError as G;
        match err {
            G::Parse { .. } | G::Lex { .. } => TemplateError::Parse(err.to_string()),
            // Worded as podman's struct lookups fail, not as Go's map lookups.
            G::MissingKey { key } => TemplateError::Execute(format!("can't evaluate field {key}")),
            G::Exec(message) => TemplateError::Execute(message),
            other => TemplateError::Execute(other.to_string()),
        }
    }
}

/// What the user asked for with `--format`.
pub enum OutputFormat {
    Json,
    Table(Template),
    Lines(Template),
}

impl OutputFormat {
    pub fn parse(format: &str) -> Result<OutputFormat, TemplateError> {
        if format == "json" {
            return Ok(OutputFormat::Json);
        }
        if format.trim() == "table" {
            return Err(TemplateError::BareTable);
        }
        match format.strip_prefix("table ") {
            Some(rest) if rest.trim().is_empty() => Err(TemplateError::BareTable),
            Some(rest) => Ok(OutputFormat::Table(compile(&normalize(rest, true))?)),
            None => Ok(OutputFormat::Lines(compile(&normalize(format, false))?)),
        }
    }
}

/// Renders `rows`; `headers` names a field's column in a `table`, where
/// `None` falls back to the field name split into words and uppercased.
pub fn render_rows(
    format: &OutputFormat,
    rows: &[serde_json::Value],
    headers: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<String, TemplateError> {
    match format {
        OutputFormat::Json => Ok(serde_json::to_string_pretty(rows)? + "\n"),
        OutputFormat::Lines(template) => rows.iter().map(|row| execute(template, row)).collect(),
        OutputFormat::Table(template) => {
            let mut text = header_row(template, headers);
            for row in rows {
                text.push_str(&execute(template, row)?);
            }
            Ok(align(&text))
        }
    }
}

/// Renders one value, as `inspect --format` does for each object; the
/// caller handles `json` itself.
pub fn render_one(template_text: &str, value: &serde_json::Value) -> Result<String, TemplateError> {
    execute(&compile(&normalize(template_text, false))?, value)
}

/// Inspect output: a JSON array, or a template per document.
pub fn print_documents(
    docs: &[serde_json::Value],
    format: Option<&str>,
) -> Result<(), TemplateError> {
    match format {
        None | Some("json") => println!(
            "{}",
            serde_json::to_string_pretty(docs).expect("JSON values serialize")
        ),
        Some(template) => {
            for doc in docs {
                let text = render_one(template, doc)?;
                if text.ends_with('\n') {
                    print!("{text}");
                } else {
                    println!("{text}");
                }
            }
        }
    }
    Ok(())
}

fn execute(template: &Template, data: &serde_json::Value) -> Result<String, TemplateError> {
    Ok(template.execute_to_string(&gotmpl::to_value(data)?)?)
}

/// podman's clean-up of a typed format (tabs and newlines are awkward to
/// type in a shell). Only text outside actions changes, so a `\n` inside
/// a Go string literal keeps its meaning.
fn normalize(format: &str, table: bool) -> String {
    let mut out = String::with_capacity(format.len() + 1);
    let mut rest = format;
    loop {
        let end = rest.find("{{").unwrap_or(rest.len());
        let text = rest[..end].replace("\\t", "\t").replace("\\n", "\n");
        out.push_str(&if table { text.replace(' ', "\t") } else { text });
        rest = &rest[end..];
        if rest.is_empty() {
            break;
        }
        let len = action_len(rest);
        out.push_str(&rest[..len]);
        rest = &rest[len..];
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The length of the action that `s` starts with, through its `}}`; a
/// `}}` inside a string literal or comment does not close it. All of `s`
/// if unclosed, which the parser then reports.
fn action_len(s: &str) -> usize {
    // Bytes, not chars: every delimiter is ASCII, which UTF-8 never
    // uses inside a multi-byte character.
    let bytes = s.as_bytes();
    let mut quote = None;
    let mut i = 2;
    while i < bytes.len() {
        let rest = &bytes[i..];
        match quote {
            Some(q) if bytes[i] == q => quote = None,
            Some(b'`') => {}
            Some(_) if bytes[i] == b'\\' => i += 1,
            Some(_) => {}
            None if matches!(bytes[i], b'"' | b'\'' | b'`') => quote = Some(bytes[i]),
            None if rest.starts_with(b"/*") => match s[i + 2..].find("*/") {
                Some(end) => i += end + 3,
                None => return s.len(),
            },
            None if rest.starts_with(b"}}") => return i + 2,
            None => {}
        }
        i += 1;
    }
    s.len()
}

/// A helper that takes one value and returns a string.
type StringHelper = fn(&Value) -> String;

fn compile(text: &str) -> Result<Template, TemplateError> {
    let one_arg: [(&'static str, StringHelper); 4] = [
        ("json", |v| to_json(v).to_string()),
        ("lower", |v| text_of(v).to_lowercase()),
        ("upper", |v| text_of(v).to_uppercase()),
        ("title", |v| title(&text_of(v))),
    ];
    let mut template = Template::new(NAME).missing_key(MissingKey::Error);
    for (name, helper) in one_arg {
        template = template.func(name, move |a| {
            let [v] = args(name, a)?;
            Ok(string(helper(v)))
        });
    }
    let template = template
        .func("truncate", |a| {
            let [s, n] = args("truncate", a)?;
            Ok(string(text_of(s).chars().take(count(n)?).collect()))
        })
        .func("pad", |a| {
            let [s, before, after] = args("pad", a)?;
            let (before, after) = (" ".repeat(count(before)?), " ".repeat(count(after)?));
            Ok(string(format!("{before}{}{after}", text_of(s))))
        })
        .func("join", |a| {
            let [list, sep] = args("join", a)?;
            Ok(string(match list {
                Value::List(items) => {
                    let items: Vec<String> = items.iter().map(text_of).collect();
                    items.join(&text_of(sep))
                }
                // skiff's rows may hold one name where podman's hold a list.
                other => text_of(other),
            }))
        })
        .func("split", |a| {
            let [s, sep] = args("split", a)?;
            let (s, sep) = (text_of(s), text_of(sep));
            // Go splits at every character for an empty separator.
            let parts: Vec<Value> = match sep.as_str() {
                "" => s.chars().map(|c| string(c.to_string())).collect(),
                sep => s.split(sep).map(|p| string(p.to_string())).collect(),
            };
            Ok(Value::List(parts.into()))
        })
        .parse(text)?;
    refuse_unknown_functions(&template)?;
    Ok(template)
}

/// Go refuses an unknown function while parsing, so a typo fails even
/// with no rows to render; gotmpl would only notice while executing.
fn refuse_unknown_functions(template: &Template) -> Result<(), TemplateError> {
    let mut unknown = |e: &Expr| match e {
        Expr::Identifier(pos, name)
            if !BUILTINS.contains(&name.as_str()) && !HELPERS.contains(&name.as_str()) =>
        {
            Some(format!(
                "template: {NAME}:{}: function {name:?} not defined",
                pos.line
            ))
        }
        _ => None,
    };
    let mut bodies = template
        .templates()
        .into_iter()
        .filter_map(|n| template.lookup(n));
    match bodies.find_map(|body| find_in_nodes(&body.nodes, &mut unknown)) {
        Some(message) => Err(TemplateError::Parse(message)),
        None => Ok(()),
    }
}

/// A helper's arguments, refused unless there are exactly `N`.
fn args<'a, const N: usize>(
    name: &str,
    args: &'a [Value],
) -> Result<&'a [Value; N], gotmpl::TemplateError> {
    args.try_into()
        .map_err(|_| gotmpl::TemplateError::ArgCount {
            name: name.to_string(),
            expected: N,
            got: args.len(),
        })
}

fn count(v: &Value) -> Result<usize, gotmpl::TemplateError> {
    let n = v.as_int().and_then(|n| usize::try_from(n).ok());
    n.ok_or(gotmpl::TemplateError::TypeMismatch {
        expected: "non-negative int",
        got: v.type_name(),
    })
}

fn string(s: String) -> Value {
    Value::String(s.into())
}

/// A value as the string helpers see it; a null field reads as empty.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Nil => String::new(),
        other => other.to_string(),
    }
}

/// Go's `strings.Title`: uppercase each letter that follows a separator.
fn title(s: &str) -> String {
    let mut after_separator = true;
    s.chars()
        .map(|c| {
            let first = after_separator;
            after_separator = if c.is_ascii() {
                !(c.is_ascii_alphanumeric() || c == '_')
            } else {
                c.is_whitespace()
            };
            if first {
                c.to_uppercase().collect()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Go's `json.Marshal` of a template value, which writes whole floats
/// without a fraction (`2`, not `2.0`).
fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Uint(u) => J::from(*u),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => J::from(*f as i64),
        Value::Float(f) => J::from(*f),
        Value::String(s) => J::from(&**s),
        Value::List(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => J::Object(
            map.iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        ),
        _ => J::Null,
    }
}

/// A `table` template's header line: its literal text, with each action
/// replaced by the column name of the first field it reads.
fn header_row(template: &Template, headers: &dyn Fn(&str) -> Option<&'static str>) -> String {
    let Some(body) = template.lookup(NAME) else {
        return String::new();
    };
    let mut first_field = |e: &Expr| match e {
        Expr::Field(_, chain) => chain.first().map(|f| f.to_string()),
        Expr::Variable(_, var, chain) if var == "$" => chain.first().map(|f| f.to_string()),
        _ => None,
    };
    let header = |field: String| {
        let text = headers(&field).map_or_else(|| camel_words(&field), str::to_string);
        text.to_uppercase()
    };
    body.nodes
        .iter()
        .map(|node| match node {
            Node::Text(text) => text.text.to_string(),
            // An assignment prints nothing in the rows either.
            Node::Action(action) if !action.pipe.decl.is_empty() => String::new(),
            node => find_in_nodes(std::slice::from_ref(node), &mut first_field)
                .map(header)
                .unwrap_or_default(),
        })
        .collect()
}

/// Splits a field name where podman's camelcase package does: where the
/// kind of character changes, keeping the last capital of a run of
/// capitals with the lowercase letters after it (`HTTPProxy` → `HTTP Proxy`).
fn camel_words(field: &str) -> String {
    let kind = |c: char| match c {
        c if c.is_lowercase() => 'a',
        c if c.is_uppercase() => 'A',
        c if c.is_numeric() => '0',
        _ => '.',
    };
    let kinds: Vec<char> = field.chars().map(kind).collect();
    let mut out = String::new();
    for (i, c) in field.chars().enumerate() {
        if i > 0 {
            let (prev, this, next) = (kinds[i - 1], kinds[i], kinds.get(i + 1));
            if (prev != this && (prev, this) != ('A', 'a'))
                || (prev == 'A' && this == 'A' && next == Some(&'a'))
            {
                out.push(' ');
            }
        }
        out.push(c);
    }
    out
}

/// The first `Some` that `visit` returns for an expression in `nodes`.
fn find_in_nodes<T>(nodes: &[Node], visit: &mut dyn FnMut(&Expr) -> Option<T>) -> Option<T> {
    nodes.iter().find_map(|node| match node {
        Node::List(list) => find_in_nodes(&list.nodes, visit),
        Node::Action(action) => find_in_pipe(&action.pipe, visit),
        Node::If(branch) | Node::Range(branch) | Node::With(branch) => {
            find_in_pipe(&branch.pipe, visit)
                .or_else(|| find_in_nodes(&branch.body.nodes, visit))
                .or_else(|| find_in_nodes(&branch.else_body.as_ref()?.nodes, visit))
        }
        Node::Template(call) => find_in_pipe(call.pipe.as_ref()?, visit),
        Node::Define(define) => find_in_nodes(&define.body.nodes, visit),
        _ => None,
    })
}

fn find_in_pipe<T>(pipe: &PipeNode, visit: &mut dyn FnMut(&Expr) -> Option<T>) -> Option<T> {
    let mut exprs = pipe.commands.iter().flat_map(|command| &command.args);
    exprs.find_map(|expr| find_in_expr(expr, visit))
}

fn find_in_expr<T>(expr: &Expr, visit: &mut dyn FnMut(&Expr) -> Option<T>) -> Option<T> {
    visit(expr).or_else(|| match expr {
        Expr::Pipe(_, pipe) => find_in_pipe(pipe, visit),
        Expr::Chain(_, inner, _) => find_in_expr(inner, visit),
        _ => None,
    })
}

/// Aligns tab-separated cells as Go's text/tabwriter does with podman's
/// settings. As there, a column is a run of adjacent lines that all have
/// a tab-terminated cell in it, and the text after a line's last tab is
/// never padded, so lines carry no trailing spaces.
fn align(text: &str) -> String {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<Vec<&str>> = text.split('\n').map(|l| l.split('\t').collect()).collect();
    let mut out = String::with_capacity(text.len() * 2);
    align_block(&lines, &mut Vec::new(), &mut out);
    out
}

fn align_block(lines: &[Vec<&str>], widths: &mut Vec<usize>, out: &mut String) {
    let column = widths.len();
    let in_column = |line: &Vec<&str>| line.len() > column + 1;
    let mut done = 0;
    while let Some(start) = lines[done..].iter().position(in_column).map(|i| done + i) {
        write_lines(&lines[done..start], widths, out);
        let end = lines[start..]
            .iter()
            .position(|l| !in_column(l))
            .map_or(lines.len(), |i| start + i);
        let widest = lines[start..end].iter().map(|l| l[column].chars().count());
        widths.push(widest.map(|w| w + PADDING).fold(MIN_WIDTH, usize::max));
        align_block(&lines[start..end], widths, out);
        widths.pop();
        done = end;
    }
    write_lines(&lines[done..], widths, out);
}

fn write_lines(lines: &[Vec<&str>], widths: &[usize], out: &mut String) {
    for line in lines {
        for (i, cell) in line.iter().enumerate() {
            out.push_str(cell);
            if let Some(width) = widths.get(i) {
                let pad = width.saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
