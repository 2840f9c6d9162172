//! The id of a response the JSON parser refused — nested deeper than it
//! follows (128 levels), or broken after its id — found by scanning the
//! text instead of parsing it. A response that names its request but cannot
//! be read then ends that call at once, as a protocol error, instead of
//! leaving it to time out.

/// The non-negative integer `id` of the top-level object in `line`, when
/// it has one and no `method` (a request or notification from the server is
/// not an answer to mcpstorm). Linear in the line's length, whatever its depth.
pub fn response_id(line: &[u8]) -> Option<u64> {
    let start = line.iter().position(|b| !b.is_ascii_whitespace())?;
    if line[start] != b'{' {
        return None;
    }
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    // The last string that ended at depth 1, and where its text lies.
    let mut string_start = 0;
    let mut last_string: Option<(usize, usize)> = None;
    let mut id = None;
    let mut i = start;
    while i < line.len() {
        let byte = line[i];
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_string = false;
                    if depth == 1 {
                        last_string = Some((string_start, i));
                    }
                }
                _ => {}
            }
            i += 1;
            continue;
        }
        match byte {
            b'"' => {
                in_string = true;
                string_start = i + 1;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 1 => last_string = None,
            // A string followed by `:` at depth 1 is a key of the object.
            b':' if depth == 1 => match last_string.map(|(s, e)| &line[s..e]) {
                Some(b"method") => return None,
                Some(b"id") if id.is_none() => id = Some(leading_integer(&line[i + 1..])),
                _ => {}
            },
            _ => {}
        }
        i += 1;
    }
    id.flatten()
}

/// The integer a JSON value starts with (after whitespace), if it is one.
fn leading_integer(text: &[u8]) -> Option<u64> {
    let text = &text[text.iter().position(|b| !b.is_ascii_whitespace())?..];
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let after = text.get(digits).copied();
    if digits == 0 || digits > 19 || after.is_some_and(|b| b == b'.' || b == b'e' || b == b'E') {
        return None;
    }
    std::str::from_utf8(&text[..digits]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(levels: usize) -> String {
        format!("{}1{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn the_id_is_found_at_any_depth() {
        let line = format!(
            r#"{{"jsonrpc":"2.0","result":{{"x":{}}},"id":42}}"#,
            deep(5000)
        );
        assert!(serde_json::from_str::<serde_json::Value>(&line).is_err());
        assert_eq!(response_id(line.as_bytes()), Some(42));
        let first = format!(r#"  {{"id" : 7, "result": {}}}"#, deep(300));
        assert_eq!(response_id(first.as_bytes()), Some(7));
    }

    #[test]
    fn only_a_top_level_integer_id_of_a_response_counts() {
        // Nested ids, ids in strings, requests from the server: none.
        assert_eq!(response_id(br#"{"result":{"id":3}}"#), None);
        assert_eq!(response_id(br#"{"result":"\"id\":3"}"#), None);
        assert_eq!(
            response_id(br#"{"id":3,"method":"ping","params":[[[[1]]]]}"#),
            None
        );
        assert_eq!(response_id(br#"{"id":"3","result":{}}"#), None);
        assert_eq!(response_id(br#"{"id":3.5,"result":{}}"#), None);
        assert_eq!(response_id(br#"[{"id":3}]"#), None);
        assert_eq!(
            response_id(br#"{"id":99999999999999999999999,"result":1}"#),
            None
        );
        // A string value before the id must not be taken for a key.
        assert_eq!(
            response_id(br#"{"jsonrpc":"2.0","id":12,"error":{}}"#),
            Some(12)
        );
    }
}
