//! `--format` for every command that takes it, with Go's text/template
//! language (the `gotmpl` port) and the helpers podman users rely on:
//! `json`, `lower`, `upper`, `title`, `truncate`, `join`, `split`.
//!
//! `json` alone prints the rows as a JSON array; `table TEMPLATE` prints a
//! header row (from the fields the template names) and aligned columns;
//! anything else is rendered once per row. A literal `\t` or `\n` typed in
//! the format becomes a tab or newline, as in podman. A field the data
//! does not have is an error, as with podman's structs.

use gotmpl::{MissingKey, Template, Value};

use super::format::Table;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// gotmpl's message, always starting `template: ` as Go's do.
    #[error("{0}")]
    Template(String),
}

impl From<gotmpl::TemplateError> for TemplateError {
    fn from(err: gotmpl::TemplateError) -> Self {
        let text = err.to_string();
        if text.starts_with("template:") {
            TemplateError::Template(text)
        } else {
            TemplateError::Template(format!("template: {text}"))
        }
    }
}

/// What the user asked for with `--format`. The caller handles a bare
/// `table` (its default table) before parsing.
pub enum OutputFormat {
    Json,
    Table { header: String, template: Template },
    Lines(Template),
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Nil => String::new(),
        other => other.to_string(),
    }
}

fn arg(args: &[Value], i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Nil)
}

/// A template value as JSON, for the `json` helper.
fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil | Value::Function(_) => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Uint(u) => J::from(*u),
        Value::Float(f) => J::from(*f),
        Value::String(s) => J::String(s.to_string()),
        Value::List(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => J::Object(
            map.iter()
                .map(|(k, v)| (k.to_string(), to_json(v)))
                .collect(),
        ),
    }
}

fn string(s: String) -> Value {
    Value::String(s.into())
}

fn title_case(s: &str) -> String {
    s.split(' ')
        .map(|w| {
            let mut chars = w.chars();
            match chars.next() {
                Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn compile(text: &str) -> Result<Template, TemplateError> {
    Ok(Template::new("format")
        .missing_key(MissingKey::Error)
        .func("json", |a| Ok(string(to_json(&arg(a, 0)).to_string())))
        .func("lower", |a| Ok(string(text_of(&arg(a, 0)).to_lowercase())))
        .func("upper", |a| Ok(string(text_of(&arg(a, 0)).to_uppercase())))
        .func("title", |a| Ok(string(title_case(&text_of(&arg(a, 0))))))
        .func("truncate", |a| {
            let n = arg(a, 1).as_int().unwrap_or(0).max(0) as usize;
            Ok(string(text_of(&arg(a, 0)).chars().take(n).collect()))
        })
        .func("join", |a| {
            let sep = text_of(&arg(a, 1));
            Ok(match arg(a, 0) {
                Value::List(items) => {
                    string(items.iter().map(text_of).collect::<Vec<_>>().join(&sep))
                }
                other => string(text_of(&other)),
            })
        })
        .func("split", |a| {
            let (s, sep) = (text_of(&arg(a, 0)), text_of(&arg(a, 1)));
            Ok(Value::List(
                s.split(sep.as_str()).map(|p| string(p.into())).collect(),
            ))
        })
        .parse(text)?)
}

fn normalize(format: &str) -> String {
    format.replace("\\t", "\t").replace("\\n", "\n")
}

/// The header text of a `table` template: each action becomes the name
/// of the first field it uses (`{{.Names | upper}}` → NAMES).
fn header_of(text: &str, headers: &dyn Fn(&str) -> Option<&'static str>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        let action = &rest[start + 2..start + len];
        let field: String = action
            .split_once('.')
            .map(|(_, after)| {
                after
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect()
            })
            .unwrap_or_default();
        out.push_str(
            &headers(&field)
                .map(String::from)
                .unwrap_or_else(|| split_camel(&field)),
        );
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// `CreatedAt` → `CREATED AT`, `ID` → `ID`.
fn split_camel(field: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = field.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
        if i > 0 && c.is_uppercase() && (chars[i - 1].is_lowercase() || next_lower) {
            out.push(' ');
        }
        out.extend(c.to_uppercase());
    }
    out
}

impl OutputFormat {
    pub fn parse(format: &str) -> Result<OutputFormat, TemplateError> {
        let format = normalize(format);
        if format == "json" {
            return Ok(OutputFormat::Json);
        }
        match format.strip_prefix("table ") {
            Some(rest) => Ok(OutputFormat::Table {
                header: rest.to_string(),
                template: compile(rest)?,
            }),
            None => Ok(OutputFormat::Lines(compile(&format)?)),
        }
    }
}

fn data(row: &serde_json::Value) -> Result<Value, TemplateError> {
    Ok(gotmpl::to_value(row)?)
}

/// Renders rows; `headers` names a field's column in `table` output.
pub fn render_rows(
    format: &OutputFormat,
    rows: &[serde_json::Value],
    headers: &dyn Fn(&str) -> Option<&'static str>,
) -> Result<String, TemplateError> {
    match format {
        OutputFormat::Json => {
            let mut out = serde_json::to_string_pretty(rows).expect("JSON values serialize");
            out.push('\n');
            Ok(out)
        }
        OutputFormat::Lines(t) => {
            let mut out = String::new();
            for row in rows {
                out.push_str(&t.execute_to_string(&data(row)?)?);
                out.push('\n');
            }
            Ok(out)
        }
        OutputFormat::Table { header, template } => {
            let header_line = header_of(header, headers);
            let columns: Vec<&str> = header_line.split('\t').collect();
            let mut table = Table::new(&columns);
            for row in rows {
                let line = template.execute_to_string(&data(row)?)?;
                table.row(line.split('\t').map(String::from).collect());
            }
            Ok(table.to_string())
        }
    }
}

/// Renders one value (e.g. `inspect --format`), followed by a newline.
pub fn render_one(template_text: &str, value: &serde_json::Value) -> Result<String, TemplateError> {
    let template = compile(&normalize(template_text))?;
    let mut out = template.execute_to_string(&data(value)?)?;
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn none(_: &str) -> Option<&'static str> {
        None
    }

    #[test]
    fn fields_nested_fields_and_ranges_render() {
        let v = json!({"ID": "abc", "State": {"Pid": 7}, "Mounts": [{"Destination": "/a"}, {"Destination": "/b"}]});
        assert_eq!(render_one("{{.ID}} {{.State.Pid}}", &v).unwrap(), "abc 7\n");
        assert_eq!(
            render_one("{{range .Mounts}}{{.Destination}};{{end}}", &v).unwrap(),
            "/a;/b;\n"
        );
        assert_eq!(render_one("{{json .State}}", &v).unwrap(), "{\"Pid\":7}\n");
    }

    #[test]
    fn helpers_work_like_podmans() {
        let v = json!({"Name": "Web Server", "ID": "0123456789abcdef", "Names": ["a", "b"]});
        assert_eq!(render_one("{{lower .Name}}", &v).unwrap(), "web server\n");
        assert_eq!(render_one("{{upper .Name}}", &v).unwrap(), "WEB SERVER\n");
        assert_eq!(
            render_one("{{title \"hello world\"}}", &v).unwrap(),
            "Hello World\n"
        );
        assert_eq!(render_one("{{truncate .ID 4}}", &v).unwrap(), "0123\n");
        assert_eq!(render_one("{{join .Names \",\"}}", &v).unwrap(), "a,b\n");
        assert_eq!(
            render_one("{{len (split \"x:y:z\" \":\")}}", &v).unwrap(),
            "3\n"
        );
    }

    #[test]
    fn a_missing_field_is_an_error_naming_it() {
        let err = render_one("{{.Nope}}", &json!({"ID": 1}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Nope"), "{err}");
        assert!(OutputFormat::parse("{{.ID").is_err());
    }

    #[test]
    fn tables_get_headers_and_aligned_columns() {
        let rows = vec![
            json!({"ID": "abc", "CreatedAt": "now"}),
            json!({"ID": "d", "CreatedAt": "later"}),
        ];
        let named = |f: &str| (f == "ID").then_some("CONTAINER ID");
        let format = OutputFormat::parse("table {{.ID}}\\t{{.CreatedAt | upper}}").unwrap();
        let out = render_rows(&format, &rows, &named).unwrap();
        assert_eq!(
            out,
            "CONTAINER ID  CREATED AT\nabc           NOW\nd             LATER\n"
        );
        let lines = OutputFormat::parse("{{.ID}}\\t{{.CreatedAt}}").unwrap();
        assert_eq!(
            render_rows(&lines, &rows[..1], &none).unwrap(),
            "abc\tnow\n"
        );
        let json = render_rows(&OutputFormat::parse("json").unwrap(), &rows[..1], &none).unwrap();
        assert!(json.starts_with('['), "{json}");
        assert_eq!(split_camel("RunningFor"), "RUNNING FOR");
    }
}
