//! The pages' HTML: escaping and the layout.

use axum::response::Html;

/// `text` safe inside HTML text and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` and `body` (already HTML) in the portal's layout.
pub(crate) fn page(base: &str, title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · tenancy admin</title>\
         <style>{STYLE}</style></head>\
         <body><header><a href=\"{base}/tenants\">tenancy admin</a></header>\
         <main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title),
        base = escape(base),
    ))
}

/// A form that posts to `action` with the CSRF value and `fields` (HTML).
pub(crate) fn form(action: &str, csrf: &str, fields: &str, button: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">{fields}\
         <button type=\"submit\">{}</button></form>",
        escape(action),
        escape(csrf),
        escape(button),
    )
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}\
header{background:#1d2330;padding:12px 24px}header a{color:#fff;font-weight:600;text-decoration:none}\
main{max-width:960px;margin:24px auto;padding:0 24px}\
table{border-collapse:collapse;width:100%;background:#fff}\
th,td{text-align:left;padding:8px 12px;border-bottom:1px solid #e3e6eb}\
form{display:inline-block;margin:4px 8px 4px 0}\
input{padding:6px 8px;border:1px solid #c5cad3;border-radius:4px}\
button{padding:6px 12px;border:0;border-radius:4px;background:#2f6fde;color:#fff;cursor:pointer}\
.error{color:#b3261e;font-weight:600}.status-active,.status-verified{color:#1e7d32}\
.status-suspended,.status-failed,.status-expired{color:#b3261e}.status-pending{color:#a15c00}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_data_stays_text() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
