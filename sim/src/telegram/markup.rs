//! The check Telegram makes on formatted text before sending it: a prompt
//! with an unescaped `.` in MarkdownV2 or an unknown HTML tag is refused by
//! api.telegram.org ("can't parse entities"), so it must be refused here
//! too, or a bug that only production would show slips through. Limits
//! apply to the text as displayed, so this also measures it.

use super::reply::TgError;

/// The displayed length in UTF-16 code units, or Telegram's parse error.
pub(crate) fn displayed_len(text: &str, parse_mode: Option<&str>) -> Result<usize, TgError> {
    let parsed = match parse_mode {
        Some("MarkdownV2") => markdown_v2(text),
        Some("Markdown") => markdown_legacy(text),
        Some("HTML") => html(text),
        _ => Ok(utf16(text)),
    };
    parsed.map_err(|why| TgError::bad_request(format!("can't parse entities: {why}")))
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Bold,
    Italic,
    Underline,
    Strikethrough,
    Spoiler,
    TextUrl,
}

fn unclosed(kind: Kind, at: usize) -> String {
    format!("Can't find end of {kind:?} entity at byte offset {at}")
}

fn reserved(c: char) -> String {
    format!("Character '{c}' is reserved and must be escaped with the preceding '\\'")
}

fn markdown_v2(text: &str) -> Result<usize, String> {
    let mut open: Vec<(Kind, usize)> = Vec::new();
    let mut shown = 0;
    let mut rest = text.char_indices().peekable();
    let mut line_start = true;
    while let Some((at, c)) = rest.next() {
        let next = rest.peek().map(|&(_, n)| n);
        let mut toggle = |kind: Kind| match open.iter().rposition(|&(k, _)| k == kind) {
            None => {
                open.push((kind, at));
                Ok(())
            }
            Some(i) if i + 1 == open.len() => {
                open.pop();
                Ok(())
            }
            Some(_) => {
                let (inner, inner_at) = open[open.len() - 1];
                Err(unclosed(inner, inner_at))
            }
        };
        match c {
            '\\' => {
                let (_, escaped) = rest.next().ok_or_else(|| reserved('\\'))?;
                shown += escaped.len_utf16();
            }
            '*' => toggle(Kind::Bold)?,
            '~' => toggle(Kind::Strikethrough)?,
            '_' if next == Some('_') => {
                rest.next();
                toggle(Kind::Underline)?;
            }
            '_' => toggle(Kind::Italic)?,
            '|' if next == Some('|') => {
                rest.next();
                toggle(Kind::Spoiler)?;
            }
            '`' => {
                let fence = text[at..].starts_with("```");
                let body_start = at + if fence { 3 } else { 1 };
                let (len, end) = code_span(&text[body_start..], fence)
                    .ok_or_else(|| unclosed_code(fence, at))?;
                shown += len;
                let end = body_start + end;
                while rest.peek().is_some_and(|&(i, _)| i < end) {
                    rest.next();
                }
            }
            '[' => open.push((Kind::TextUrl, at)),
            '!' if next == Some('[') => {
                rest.next();
                open.push((Kind::TextUrl, at));
            }
            ']' => {
                let Some(i) = open.iter().rposition(|&(k, _)| k == Kind::TextUrl) else {
                    return Err(reserved(']'));
                };
                if i + 1 != open.len() {
                    let (inner, inner_at) = open[open.len() - 1];
                    return Err(unclosed(inner, inner_at));
                }
                let (_, link_at) = open.pop().expect("link");
                if rest.next().map(|(_, c)| c) != Some('(') {
                    return Err(unclosed(Kind::TextUrl, link_at));
                }
                // The URL is not shown; `)` and `\` in it are escaped.
                loop {
                    match rest.next() {
                        None => return Err(unclosed(Kind::TextUrl, link_at)),
                        Some((_, '\\')) => {
                            rest.next();
                        }
                        Some((_, ')')) => break,
                        Some(_) => {}
                    }
                }
            }
            '>' if line_start => {}
            // The rest of the reserved set; the markers are handled above.
            '(' | ')' | '>' | '#' | '+' | '-' | '=' | '|' | '{' | '}' | '.' | '!' => {
                return Err(reserved(c));
            }
            other => shown += other.len_utf16(),
        }
        line_start = c == '\n';
    }
    match open.last() {
        Some(&(kind, at)) => Err(unclosed(kind, at)),
        None => Ok(shown),
    }
}

fn unclosed_code(fence: bool, at: usize) -> String {
    let kind = if fence { "Pre" } else { "Code" };
    format!("Can't find end of {kind} entity at byte offset {at}")
}

/// The shown length of a code span's body and the byte offset just past
/// its closing backticks; inside, only `` ` `` and `\` are escaped. A
/// fenced block's first line names its language and is not shown.
fn code_span(body: &str, fence: bool) -> Option<(usize, usize)> {
    let close = if fence { "```" } else { "`" };
    let mut shown = 0;
    let mut skip_language = fence && !body.starts_with('\n');
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        if body[i..].starts_with(close) {
            return Some((shown, i + close.len()));
        }
        match c {
            '\\' => {
                chars.next()?;
                shown += 1;
            }
            '\n' if skip_language => skip_language = false,
            _ if skip_language => {}
            other => shown += other.len_utf16(),
        }
    }
    None
}

/// The original Markdown: `*bold*`, `_italic_`, `` `code` ``, fenced
/// blocks and `[text](url)`, no nesting, and nothing else is reserved.
fn markdown_legacy(text: &str) -> Result<usize, String> {
    let unclosed = |at: usize| format!("Can't find end of the entity starting at byte offset {at}");
    let mut shown = 0;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let at = i;
        i += c.len_utf8();
        match c {
            '\\' if text[i..].starts_with(['_', '*', '`', '[']) => {
                shown += 1;
                i += 1;
            }
            '*' | '_' | '`' => {
                let close = if c == '`' && text[at..].starts_with("```") {
                    i = at + 3;
                    "```"
                } else {
                    &text[at..i]
                };
                let end = text[i..].find(close).ok_or_else(|| unclosed(at))?;
                shown += utf16(&text[i..i + end]);
                i += end + close.len();
            }
            '[' => {
                let end = text[i..].find("](").ok_or_else(|| unclosed(at))?;
                shown += utf16(&text[i..i + end]);
                i += end + 2;
                let url_end = text[i..].find(')').ok_or_else(|| unclosed(at))?;
                i += url_end + 1;
            }
            other => shown += other.len_utf16(),
        }
    }
    Ok(shown)
}

const HTML_TAGS: &[&str] = &[
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "a",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
];

fn html(text: &str) -> Result<usize, String> {
    let mut open: Vec<String> = Vec::new();
    let mut shown = 0;
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let at = i;
        i += c.len_utf8();
        match c {
            '<' => {
                let end = text[i..]
                    .find('>')
                    .ok_or_else(|| format!("Unclosed start tag at byte offset {at}"))?;
                let tag = &text[i..i + end];
                i += end + 1;
                if let Some(name) = tag.strip_prefix('/') {
                    let name = name.trim().to_ascii_lowercase();
                    match open.pop() {
                        Some(top) if top == name => {}
                        Some(top) => {
                            return Err(format!(
                                "Can't find end tag corresponding to start tag \"{top}\""
                            ));
                        }
                        None => return Err(format!("Unexpected end tag at byte offset {at}")),
                    }
                } else {
                    let name = tag
                        .split(|c: char| c.is_whitespace() || c == '/')
                        .next()
                        .unwrap_or("")
                        .to_ascii_lowercase();
                    if !HTML_TAGS.contains(&name.as_str()) {
                        return Err(format!(
                            "Unsupported start tag \"{name}\" at byte offset {at}"
                        ));
                    }
                    open.push(name);
                }
            }
            '&' => {
                let entity = text[i..]
                    .find(';')
                    .map(|end| &text[i..i + end])
                    .filter(|e| is_entity(e));
                match entity {
                    Some(e) => {
                        shown += 1;
                        i += e.len() + 1;
                    }
                    // A lone `&` is let through as text.
                    None => shown += 1,
                }
            }
            other => shown += other.len_utf16(),
        }
    }
    match open.pop() {
        Some(top) => Err(format!(
            "Can't find end tag corresponding to start tag \"{top}\""
        )),
        None => Ok(shown),
    }
}

fn is_entity(name: &str) -> bool {
    match name.strip_prefix('#') {
        Some(hex) if hex.starts_with(['x', 'X']) => {
            hex.len() > 1 && hex[1..].chars().all(|c| c.is_ascii_hexdigit())
        }
        Some(dec) => !dec.is_empty() && dec.chars().all(|c| c.is_ascii_digit()),
        None => matches!(name, "lt" | "gt" | "amp" | "quot"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2(s: &str) -> Result<usize, String> {
        markdown_v2(s)
    }

    #[test]
    fn markdown_v2_counts_shown_text_and_refuses_reserved_characters() {
        assert_eq!(v2("*alice* from 203\\.0\\.113\\.7"), Ok(22));
        assert_eq!(v2("__u__ _i_ ~s~ ||sp|| `a\\`b`"), Ok(12));
        assert_eq!(v2("[open](https://t.me/x_(y\\))"), Ok(4));
        assert_eq!(v2("```rust\nfn x()```"), Ok(6));
        assert_eq!(v2(">quoted\n>again"), Ok(12));
        assert_eq!(v2("from 203.0.113.7"), Err(reserved('.')));
        assert_eq!(v2("a-b"), Err(reserved('-')));
        assert_eq!(v2("x >y"), Err(reserved('>')));
        assert_eq!(
            v2("ok *bold"),
            Err("Can't find end of Bold entity at byte offset 3".into())
        );
        assert_eq!(
            v2("*a _b* c_"),
            Err("Can't find end of Italic entity at byte offset 3".into())
        );
        assert_eq!(
            v2("`code"),
            Err("Can't find end of Code entity at byte offset 0".into())
        );
    }

    #[test]
    fn legacy_markdown_reserves_only_its_markers() {
        assert_eq!(markdown_legacy("*alice* at 1.2.3.4 - ok"), Ok(21));
        assert_eq!(markdown_legacy("[here](https://x.org) \\_"), Ok(6));
        assert_eq!(
            markdown_legacy("snake_case"),
            Err("Can't find end of the entity starting at byte offset 5".into())
        );
    }

    #[test]
    fn html_allows_telegrams_tags_and_entities_only() {
        assert_eq!(html("<b>alice</b> &lt;3 &amp; <a href=\"x\">y</a>"), Ok(12));
        assert_eq!(html("Tom & Jerry"), Ok(11));
        assert_eq!(
            html("<div>x</div>"),
            Err("Unsupported start tag \"div\" at byte offset 0".into())
        );
        assert_eq!(
            html("<b>x</i>"),
            Err("Can't find end tag corresponding to start tag \"b\"".into())
        );
        assert_eq!(
            html("x</b>"),
            Err("Unexpected end tag at byte offset 1".into())
        );
        assert_eq!(
            html("<b>open"),
            Err("Can't find end tag corresponding to start tag \"b\"".into())
        );
    }

    #[test]
    fn plain_text_is_measured_in_utf16() {
        assert_eq!(displayed_len("a😀", None), Ok(3));
        let err = displayed_len("1.2", Some("MarkdownV2")).expect_err("reserved");
        assert!(
            err.description
                .starts_with("Bad Request: can't parse entities: ")
        );
    }
}
