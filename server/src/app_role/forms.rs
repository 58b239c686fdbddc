//! `application/x-www-form-urlencoded`, read by hand where a step must look into a form
//! before Leptos does (the form token; a signed form error in a redirect).

/// The value of field `name`, decoded.
pub fn field(body: &[u8], name: &str) -> Option<String> {
    pairs(body).find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The pairs, decoded.
pub fn pairs(body: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    body.split(|b| *b == b'&').filter_map(|pair| {
        let mut it = pair.splitn(2, |b| *b == b'=');
        let key = percent_decode(it.next()?);
        let value = percent_decode(it.next().unwrap_or_default());
        Some((key, value))
    })
}

fn percent_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() => {
                let hex = std::str::from_utf8(&raw[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_decoded() {
        let body = b"slug=a-b&csrf=ab%2Fc+d&body=x%3Dy";
        assert_eq!(field(body, "csrf").as_deref(), Some("ab/c d"));
        assert_eq!(field(body, "body").as_deref(), Some("x=y"));
        assert_eq!(field(body, "none"), None);
        assert_eq!(field(b"csrf=%zz%", "csrf").as_deref(), Some("%zz%"));
    }
}
