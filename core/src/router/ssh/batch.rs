//! Several queued commands in one exec (SPEC §6). Opening a channel costs a
//! few round trips to the router, so under load the router's thread runs
//! everything queued behind the command in hand as one script, each command
//! wrapped so that its failure stops only itself:
//!
//! ```text
//! :put "tgate-batch-<nonce> 0"
//! :do { <command 0> } on-error={ :put "tgate-batch-<nonce> 0 failed" }
//! :put "tgate-batch-<nonce> 1"
//! …
//! :put "tgate-batch-<nonce> end"
//! ```
//!
//! The markers cut the output back into each command's own. RouterOS
//! swallows the message of an error caught by `on-error`, so a command that
//! failed in a batch is run again alone to get the router's exact words;
//! an address-list add, whose usual failure is the harmless `already have
//! such entry`, instead counts the entry in the same script, and only an add
//! whose entry is still missing is run again.

use std::fmt::Write as _;

/// One command of a batch.
pub(super) struct Item<'a> {
    pub text: &'a str,
    /// For an add: a `print count-only` of the entry, run when it fails.
    pub probe: Option<&'a str>,
}

/// What one command of a batch came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Part {
    /// It ran; its output as a lone exec would have printed it.
    Ran(String),
    /// It raised an error; the entry count its probe printed, if it has one.
    Failed { present: Option<u64> },
    /// The script stopped before it (or its output cannot be trusted).
    Missing,
}

/// A marker no command output contains: the nonce is fresh for each batch.
pub(super) fn marker(nonce: u64) -> String {
    format!("tgate-batch-{nonce:016x}")
}

/// The script running `items` in order.
pub(super) fn script(marker: &str, items: &[Item<'_>]) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        let _ = writeln!(out, ":put \"{marker} {i}\"");
        let _ = write!(
            out,
            ":do {{ {} }} on-error={{ :put \"{marker} {i} failed\"",
            item.text
        );
        if let Some(probe) = item.probe {
            let _ = write!(out, "; :put [{probe}]");
        }
        out.push_str(" }\n");
    }
    let _ = write!(out, ":put \"{marker} end\"");
    out
}

/// Cuts a batch's output into each command's part. A part is only trusted
/// when the next marker follows it, so output cut short by a dying session
/// is never mistaken for a command's complete silence.
pub(super) fn split(marker: &str, count: usize, output: &str) -> Vec<Part> {
    let mut parts = vec![Part::Missing; count];
    // The command whose output is being read, and what it printed so far.
    let mut current: Option<(usize, String, bool)> = None;
    let mut expected = 0;
    let finish = |parts: &mut Vec<Part>, current: Option<(usize, String, bool)>| {
        if let Some((i, text, failed)) = current {
            parts[i] = if failed {
                Part::Failed {
                    present: text.trim().parse().ok(),
                }
            } else {
                Part::Ran(text)
            };
        }
    };
    for line in output.lines() {
        let line = line.trim_end_matches('\r');
        let Some(rest) = line
            .strip_prefix(marker)
            .and_then(|rest| rest.strip_prefix(' '))
        else {
            if let Some((_, text, _)) = current.as_mut() {
                text.push_str(line);
                text.push('\n');
            }
            continue;
        };
        if rest == "end" {
            finish(&mut parts, current.take());
            return parts;
        }
        if let Some(index) = rest.strip_suffix(" failed") {
            match current.as_mut() {
                Some((i, text, failed)) if index.parse() == Ok(*i) && !*failed => {
                    *failed = true;
                    text.clear();
                }
                _ => return vec![Part::Missing; count],
            }
            continue;
        }
        // Markers out of order: nothing in the output can be placed with
        // certainty, so every command runs again alone.
        if rest.parse() != Ok(expected) || expected >= count {
            return vec![Part::Missing; count];
        }
        finish(&mut parts, current.take());
        current = Some((expected, String::new(), false));
        expected += 1;
    }
    // No end marker: the command in hand may have been cut off, so it
    // stays missing with every one after it.
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &str = "tgate-batch-00000000000000ab";

    #[test]
    fn the_script_wraps_each_command_and_probes_adds() {
        let items = [
            Item {
                text: "/ip firewall address-list remove [find list=\"p\" address=10.0.0.5]",
                probe: None,
            },
            Item {
                text: "/ip firewall address-list add list=\"s\" address=10.0.0.5",
                probe: Some(
                    "/ip firewall address-list print count-only where list=\"s\" and address=10.0.0.5",
                ),
            },
        ];
        assert_eq!(
            script(&marker(0xab), &items),
            format!(
                ":put \"{M} 0\"\n\
                 :do {{ /ip firewall address-list remove [find list=\"p\" address=10.0.0.5] }} on-error={{ :put \"{M} 0 failed\" }}\n\
                 :put \"{M} 1\"\n\
                 :do {{ /ip firewall address-list add list=\"s\" address=10.0.0.5 }} on-error={{ :put \"{M} 1 failed\"; :put [/ip firewall address-list print count-only where list=\"s\" and address=10.0.0.5] }}\n\
                 :put \"{M} end\""
            )
        );
    }

    #[test]
    fn output_is_cut_at_the_markers() {
        let output = format!(
            "{M} 0\r\n{M} 1\r\n 0 D list=x address=1.2.3.4\r\n{M} 2\r\n{M} 2 failed\r\n1\r\n{M} 3\r\n{M} 3 failed\r\n{M} end\r\n"
        );
        assert_eq!(
            split(M, 4, &output),
            vec![
                Part::Ran(String::new()),
                Part::Ran(" 0 D list=x address=1.2.3.4\n".into()),
                Part::Failed { present: Some(1) },
                Part::Failed { present: None },
            ]
        );
    }

    #[test]
    fn a_cut_short_output_trusts_only_what_a_marker_closed() {
        let output = format!("{M} 0\n{M} 1\n 0 list=x");
        assert_eq!(
            split(M, 3, &output),
            vec![Part::Ran(String::new()), Part::Missing, Part::Missing]
        );
        // A parse error stops the whole script: nothing ran.
        assert_eq!(
            split(M, 2, "syntax error (line 3 column 7)\n"),
            vec![Part::Missing, Part::Missing]
        );
    }

    #[test]
    fn markers_out_of_order_trust_nothing() {
        let output = format!("{M} 0\n{M} 2\n{M} end\n");
        assert_eq!(split(M, 3, &output), vec![Part::Missing; 3]);
        let output = format!("{M} 0\n{M} 1 failed\n{M} end\n");
        assert_eq!(split(M, 2, &output), vec![Part::Missing; 2]);
    }

    #[test]
    fn output_resembling_a_marker_of_another_batch_is_output() {
        let other = "tgate-batch-00000000000000ac 1";
        let output = format!("{M} 0\n{other}\n{M} end\n");
        assert_eq!(split(M, 1, &output), vec![Part::Ran(format!("{other}\n"))]);
    }
}
