//! `/api`: the API explained to people, written from the OpenAPI document itself — every
//! endpoint with its parameters, answers and example, a `curl` line for each, and what each
//! problem `type` means — so the page and `/api/v1/openapi.json` cannot disagree.

use std::fmt::Write as _;

use utoipa::openapi::{
    OpenApi, RefOr, Required,
    path::{Operation, Parameter, ParameterIn},
};

use super::problem::Kind;
use crate::app_role::refusal::html_escape as esc;

pub fn page(api: &OpenApi) -> String {
    let site = api
        .servers
        .as_ref()
        .and_then(|s| s.first())
        .map(|s| s.url.clone())
        .unwrap_or_default();
    let version = serde_json::to_value(&api.openapi)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let schemas = api
        .components
        .as_ref()
        .and_then(|c| serde_json::to_value(&c.schemas).ok())
        .unwrap_or_default();
    let mut h = String::with_capacity(32 * 1024);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>The API · Ambisonia</title><link rel=\"stylesheet\" href=\"/style/main.css?v={}\">\
         <link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"></head><body>\
         <main id=\"main\" class=\"page api-docs\" data-testid=\"api-docs\">\
         <p><a href=\"/\">Ambisonia</a></p><h1>{}</h1><p>{}</p>",
        app::STYLE_VERSION,
        esc(&api.info.title),
        code_spans(&esc(api.info.description.as_deref().unwrap_or(""))),
    );
    let _ = write!(
        h,
        "<p>The machine-readable description: <a href=\"/api/v1/openapi.json\"><code>/api/v1/openapi.json</code></a> (OpenAPI {}).</p>\
         <h2 id=\"auth\">Tokens</h2>\
         <p>Reads need no token. With one — <code>Authorization: Bearer amb_…</code>, made on your \
         <a href=\"/account#tokens\">account page</a> — you read as yourself (your own drafts too) and may download what your \
         account may. A token does only what its scopes allow: <code>read</code>, <code>upload</code> \
         (<code>POST /api/v1/recordings</code>, as the desktop Uploader and <code>server upload</code> do), \
         <code>download</code>. A malformed, unknown or revoked token is refused, never taken as anonymous.</p>\
         <h2 id=\"limits\">Rate limits</h2>\
         <p>Each token, and each address without one, has an allowance of requests per window. Every answer says where you stand: \
         <code>RateLimit-Limit</code>, <code>RateLimit-Remaining</code>, <code>RateLimit-Reset</code> (seconds until the window ends). \
         Past it the answer is <code>429</code> with <code>Retry-After</code>. Anonymous answers are cached, so the same \
         request again is cheap for everyone: send <code>If-None-Match</code> with the <code>ETag</code> you have and get <code>304</code>.</p>\
         <h2 id=\"paging\">Pages</h2>\
         <p>Lists come 24 at a time with <code>next_cursor</code> (and <code>next</code>, also in the <code>Link</code> header). \
         Send <code>cursor=</code> with the same query to go on; a cursor is opaque and belongs to its query's sort.</p>\
         <h2 id=\"cors\">From other sites</h2>\
         <p>Any origin may <code>GET</code> (CORS, without credentials). To show a recording on your page, use its player: \
         <code>/embed/{{slug}}</code>, or ask <code>/oembed?url=…&amp;format=json</code> for the code.</p>\
         <h2 id=\"endpoints\">Endpoints</h2>",
        esc(&version),
    );
    for (path, item) in &api.paths.paths {
        if let Some(op) = &item.get {
            endpoint(&mut h, &site, &schemas, path, op);
        }
    }
    h.push_str("<h2 id=\"problems\">Problems</h2><p>Errors are <code>application/problem+json</code> (RFC 9457): <code>type</code>, <code>title</code>, <code>status</code>, <code>detail</code>. The types:</p><dl>");
    for k in Kind::ALL {
        let _ = write!(
            h,
            "<dt id=\"problem-{}\"><code>/api#problem-{}</code> — {} ({})</dt><dd>{}</dd>",
            k.slug(),
            k.slug(),
            esc(k.title()),
            k.status().as_u16(),
            code_spans(&esc(k.explanation())),
        );
    }
    h.push_str("</dl></main></body></html>");
    h
}

fn endpoint(h: &mut String, site: &str, schemas: &serde_json::Value, path: &str, op: &Operation) {
    let id = op.operation_id.clone().unwrap_or_default();
    let _ = write!(
        h,
        "<section class=\"endpoint\" id=\"{}\" data-testid=\"endpoint\"><h3><code>GET {}</code></h3><p><strong>{}</strong></p>",
        esc(&id),
        esc(path),
        esc(op.summary.as_deref().unwrap_or("")),
    );
    if let Some(d) = &op.description {
        let _ = write!(h, "<p>{}</p>", code_spans(&esc(d)));
    }
    let params: Vec<&Parameter> = op
        .parameters
        .iter()
        .flatten()
        .filter_map(|p| match p {
            RefOr::T(p) => Some(p),
            RefOr::Ref(_) => None,
        })
        .collect();
    if !params.is_empty() {
        h.push_str("<table><thead><tr><th>Parameter</th><th>In</th><th>Type</th><th></th></tr></thead><tbody>");
        for p in &params {
            let place = match p.parameter_in {
                ParameterIn::Path => "path",
                ParameterIn::Query => "query",
                ParameterIn::Header => "header",
                _ => "",
            };
            let required = matches!(p.required, Required::True);
            let schema = p
                .schema
                .as_ref()
                .and_then(|s| serde_json::to_value(s).ok())
                .map(|v| type_words(&v, schemas))
                .unwrap_or_default();
            let _ = write!(
                h,
                "<tr><td><code>{}</code>{}</td><td>{place}</td><td>{}</td><td>{}</td></tr>",
                esc(&p.name),
                if required { " (required)" } else { "" },
                esc(&schema),
                code_spans(&esc(p.description.as_deref().unwrap_or(""))),
            );
        }
        h.push_str("</tbody></table>");
    }
    let example_path = path
        .replace("{slug}", "dawn-chorus-in-the-forest")
        .replace("{username}", "marta");
    let query = if path == "/api/v1/recordings" {
        "?q=forest&sort=newest"
    } else {
        ""
    };
    let _ = write!(
        h,
        "<pre><code>curl -s '{}{}{}'</code></pre>",
        esc(site),
        esc(&example_path),
        query
    );
    if path.ends_with("/download") {
        let _ = write!(
            h,
            "<pre><code>curl -fLO -H \"Authorization: Bearer $AMBISONIA_API_TOKEN\" '{}{}?format=binaural'</code></pre>",
            esc(site),
            esc(&example_path)
        );
    }
    h.push_str("<dl class=\"responses\">");
    for (status, r) in &op.responses.responses {
        let RefOr::T(r) = r else { continue };
        let _ = write!(
            h,
            "<dt><code>{}</code></dt><dd>{}",
            esc(status),
            code_spans(&esc(&r.description))
        );
        if status == "200"
            && let Some(example) = r.content.values().find_map(|c| match c {
                RefOr::T(c) => c.example.clone(),
                RefOr::Ref(_) => None,
            })
        {
            let pretty = serde_json::to_string_pretty(&example).unwrap_or_default();
            let _ = write!(h, "<pre><code>{}</code></pre>", esc(&pretty));
        }
        h.push_str("</dd>");
    }
    h.push_str("</dl></section>");
}

/// A parameter's schema in a few words: `string`, `integer (1–3)`, `one of: a, b`.
fn type_words(v: &serde_json::Value, schemas: &serde_json::Value) -> String {
    if let Some(values) = v.get("enum").and_then(|e| e.as_array()) {
        let names: Vec<&str> = values.iter().filter_map(|x| x.as_str()).collect();
        return format!("one of: {}", names.join(", "));
    }
    if let Some(r) = v.get("$ref").and_then(|r| r.as_str()) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return match schemas.get(name) {
            Some(s) => type_words(s, schemas),
            None => name.to_owned(),
        };
    }
    if let Some(first) = v.get("oneOf").and_then(|o| o.as_array()).and_then(|o| {
        o.iter()
            .find(|s| s.get("type") != Some(&serde_json::json!("null")))
    }) {
        return type_words(first, schemas);
    }
    let ty = match v.get("type") {
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(serde_json::Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => String::new(),
    };
    match (v.get("minimum"), v.get("maximum")) {
        (Some(lo), Some(hi)) => format!("{ty} ({lo}–{hi})"),
        (None, Some(hi)) => format!("{ty} (at most {hi})"),
        _ => ty,
    }
}

/// `text` (escaped already) with its `backquoted` spans as `<code>`.
fn code_spans(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(part);
            out.push_str("</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}
