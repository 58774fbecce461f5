use super::*;
use serde_json::json;

fn none(_: &str) -> Option<&'static str> {
    None
}

fn one(template: &str, value: serde_json::Value) -> String {
    render_one(template, &value).unwrap()
}

fn rows(format: &str, rows: &[serde_json::Value]) -> String {
    render_rows(&OutputFormat::parse(format).unwrap(), rows, &none).unwrap()
}

#[test]
fn headers_split_field_names_like_podman() {
    for (field, words) in [
        ("ID", "ID"),
        ("CreatedAt", "Created At"),
        ("RunningFor", "Running For"),
        ("ImageID", "Image ID"),
        ("HTTPProxy", "HTTP Proxy"),
        ("Fieldb", "Fieldb"),
        ("Port80", "Port 80"),
    ] {
        assert_eq!(camel_words(field), words);
    }
}

#[test]
fn headers_come_from_the_caller_then_the_first_field_of_each_action() {
    let named = |f: &str| (f == "ID").then_some("container id");
    let header = |format: &str| {
        let out = render_rows(&OutputFormat::parse(format).unwrap(), &[], &named).unwrap();
        out.trim_end().to_string()
    };
    assert_eq!(header("table {{.ID}}"), "CONTAINER ID");
    assert_eq!(header("table {{.CreatedAt}}"), "CREATED AT");
    assert_eq!(header("table {{.Names | upper}}"), "NAMES");
    assert_eq!(header("table {{truncate .ID 4}}"), "CONTAINER ID");
    assert_eq!(header("table {{upper (lower .State.Status)}}"), "STATE");
    assert_eq!(
        header("table {{range .Mounts}}{{.Source}}{{end}}"),
        "MOUNTS"
    );
    assert_eq!(header("table {{with $.Pid}}{{.}}{{end}}"), "PID");
    assert_eq!(header("table Id:{{.ID}}"), "Id:CONTAINER ID");
}

#[test]
fn typed_backslash_t_and_n_become_tabs_and_newlines() {
    let v = json!({"ID": "abc", "Names": "web"});
    assert_eq!(one("{{.ID}}\\t{{.Names}}", v.clone()), "abc\tweb\n");
    assert_eq!(one("{{.ID}}\\n{{.Names}}", v.clone()), "abc\nweb\n");
    // A template that ends its own line gets no second newline.
    assert_eq!(one("{{.ID}}\\n", v.clone()), "abc\n");
    // Inside an action `\n` is Go's escape, left to the parser; the row
    // still gets its newline, as in podman.
    assert_eq!(one("{{printf \"%s\\n\" .ID}}", v.clone()), "abc\n\n");
    assert_eq!(one("{{\"}}\\t\"}}{{/*/ }} it's */}}|", v), "}}\t|\n");
}

#[test]
fn tables_align_like_podmans_tabwriter() {
    let data = [
        json!({"ID": "0123456789abcdef0123", "Names": "web", "Status": "Up"}),
        json!({"ID": "f00", "Names": "database", "Status": "Exited (0)"}),
    ];
    assert_eq!(
        rows("table {{.ID}}\\t{{.Names}}\\t{{.Status}}", &data),
        "ID                    NAMES       STATUS\n\
         0123456789abcdef0123  web         Up\n\
         f00                   database    Exited (0)\n"
    );
    // A space between actions separates columns too, as in podman.
    assert_eq!(
        rows("table {{.Names}} {{.Status}}", &data),
        "NAMES       STATUS\nweb         Up\ndatabase    Exited (0)\n"
    );
    assert_eq!(rows("table {{.Names}}", &[]), "NAMES\n");
}

#[test]
fn columns_are_runs_of_lines_with_a_cell_there() {
    // Go's tabwriter: the untabbed middle line breaks column 0 in two.
    assert_eq!(
        align("a\tb\nsome long line\nccccccccccccccc\td\n"),
        "a           b\nsome long line\nccccccccccccccc  d\n"
    );
}

#[test]
fn json_prints_the_rows_as_a_pretty_array() {
    let data = [json!({"ID": "abc", "Size": 3})];
    assert_eq!(
        rows("json", &data),
        "[\n  {\n    \"ID\": \"abc\",\n    \"Size\": 3\n  }\n]\n"
    );
    assert_eq!(rows("json", &[]), "[]\n");
    // As a template, json writes one compact object per row.
    assert_eq!(rows("{{json .}}", &data), "{\"ID\":\"abc\",\"Size\":3}\n");
}

#[test]
fn helpers_work_like_podmans() {
    let v =
        json!({"Name": "Web Server", "ID": "0123456789abcdef", "Names": ["a", "b"], "Cpu": 2.0});
    assert_eq!(one("{{lower .Name}}", v.clone()), "web server\n");
    assert_eq!(one("{{.Name | upper}}", v.clone()), "WEB SERVER\n");
    assert_eq!(
        one("{{title \"hello wORLD o'neil-x\"}}", v.clone()),
        "Hello WORLD O'Neil-X\n"
    );
    assert_eq!(one("{{truncate .ID 12}}", v.clone()), "0123456789ab\n");
    assert_eq!(
        one("{{truncate \"héllo\" 2}}|{{truncate \"ab\" 5}}", v.clone()),
        "hé|ab\n"
    );
    assert_eq!(
        one("{{join .Names \", \"}}|{{join .Name \",\"}}", v.clone()),
        "a, b|Web Server\n"
    );
    assert_eq!(
        one(
            "{{split \"x:y:z\" \":\"}}|{{len (split \"ab\" \"\")}}",
            v.clone()
        ),
        "[x y z]|2\n"
    );
    assert_eq!(one("[{{pad \"x\" 1 2}}]", v.clone()), "[ x  ]\n");
    assert_eq!(
        one("{{json .Names}} {{json .Cpu}} {{json .Name}}", v.clone()),
        "[\"a\",\"b\"] 2 \"Web Server\"\n"
    );
    let wrong = render_one("{{truncate .ID}}", &v).unwrap_err().to_string();
    assert!(wrong.contains("truncate expects 2, got 1"), "{wrong}");
    let wrong = render_one("{{truncate .ID \"x\"}}", &v)
        .unwrap_err()
        .to_string();
    assert!(
        wrong.starts_with("template: ") && wrong.contains("int"),
        "{wrong}"
    );
}

#[test]
fn a_missing_field_is_an_error_naming_it() {
    let v = json!({"ID": 1, "State": {"Pid": 7}});
    for (template, field) in [("{{.Nope}}", "Nope"), ("{{.State.Nope}}", "Nope")] {
        let err = render_one(template, &v).unwrap_err().to_string();
        assert_eq!(err, format!("template: can't evaluate field {field}"));
    }
    let table = OutputFormat::parse("table {{.ID}}\t{{.Nope}}").unwrap();
    let err = render_rows(&table, &[v], &none).unwrap_err().to_string();
    assert_eq!(err, "template: can't evaluate field Nope");
}

#[test]
fn fields_nested_fields_ranges_and_numbers_render_like_go() {
    let v = json!({
        "State": {"Pid": 7, "Running": true},
        "Mounts": [{"Destination": "/a"}, {"Destination": "/b"}],
        "Big": u64::MAX, "Neg": -3, "Half": 1.5, "Whole": 2.0, "Names": ["x", "y"]
    });
    assert_eq!(
        one("{{.State.Pid}} {{.State.Running}}", v.clone()),
        "7 true\n"
    );
    assert_eq!(
        one("{{range .Mounts}}{{.Destination}};{{end}}", v.clone()),
        "/a;/b;\n"
    );
    assert_eq!(
        one(
            "{{range $i, $m := .Mounts}}{{$i}}={{$m.Destination}} {{end}}",
            v.clone()
        ),
        "0=/a 1=/b \n"
    );
    assert_eq!(
        one("{{.Big}} {{.Neg}} {{.Half}} {{.Whole}}", v.clone()),
        "18446744073709551615 -3 1.5 2\n"
    );
    assert_eq!(
        one("{{.Names}} {{if gt .State.Pid 5}}big{{end}}", v),
        "[x y] big\n"
    );
}

#[test]
fn bad_templates_fail_at_parse_time_in_one_line() {
    let err = |f: &str| OutputFormat::parse(f).err().map(|e| e.to_string());
    assert_eq!(
        err("{{foo .ID}}").as_deref(),
        Some("template: format:1: function \"foo\" not defined")
    );
    assert_eq!(
        err("table {{.ID}}\\n{{.X | bar}}").as_deref(),
        Some("template: format:2: function \"bar\" not defined")
    );
    let unclosed = err("{{.ID").unwrap_or_default();
    assert!(
        unclosed.starts_with("template: format:") && !unclosed.contains('\n'),
        "{unclosed}"
    );
    assert!(matches!(
        OutputFormat::parse("table"),
        Err(TemplateError::BareTable)
    ));
    assert!(matches!(
        OutputFormat::parse("table  "),
        Err(TemplateError::BareTable)
    ));
    assert!(matches!(
        OutputFormat::parse("json"),
        Ok(OutputFormat::Json)
    ));
    assert!(matches!(
        OutputFormat::parse("JSON"),
        Ok(OutputFormat::Lines(_))
    ));
}
