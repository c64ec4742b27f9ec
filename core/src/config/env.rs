//! Environment overrides: `TGATE_<SECTION>__<KEY>` replaces `<key>` in
//! `[<section>]`, and `TGATE_ROUTERS__<NAME>__<KEY>` replaces `<key>` of the
//! `[[routers]]` entry whose name, upper-cased with `-` and `.` turned into
//! `_`, is `<NAME>` (router `office-2.lan` is `OFFICE_2_LAN`). Sections, keys
//! and router names match case-insensitively. Only existing routers can be
//! changed this way; a router's `name` cannot be.
//!
//! Only variables that start with `TGATE_` and contain `__` are considered,
//! so `TGATE_CONFIG` (the file's path) is not an override; `TGATE_TEST_*` is
//! left to the test suites. A variable that matches no key is a problem, not
//! something to ignore: a typo in a deployment's environment would otherwise
//! leave the file's value in force without anyone noticing.

use std::collections::BTreeMap;

use super::problems::{Problem, did_you_mean};

/// A router's name as it appears in an environment variable.
pub fn router_env_name(name: &str) -> String {
    name.to_ascii_uppercase().replace(['-', '.'], "_")
}

/// Where the reader of a table looks for overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Scope {
    /// A top-level section: `server`, `telegram`, …
    Section(&'static str),
    /// One router, by its environment name.
    Router(String),
    /// Nothing in the environment applies (a router whose name is unusable).
    Nowhere,
}

#[derive(Debug)]
enum Target {
    Section(String),
    Router(String),
    Malformed(&'static str),
}

#[derive(Debug)]
struct Override {
    var: String,
    target: Target,
    key: String,
    value: String,
    /// Paths of the tables that took this override.
    used_by: Vec<String>,
}

/// One override found for a key: the variable's name and its text.
pub(super) struct Hit {
    pub var: String,
    pub value: String,
}

#[derive(Debug, Default)]
pub(super) struct Env {
    overrides: Vec<Override>,
}

impl Env {
    pub fn new(vars: &[(String, String)]) -> Self {
        let overrides = vars
            .iter()
            .filter_map(|(var, value)| {
                let rest = var.strip_prefix("TGATE_")?;
                if !rest.contains("__") || rest.starts_with("TEST_") {
                    return None;
                }
                let (target, key) = parse_target(rest);
                Some(Override {
                    var: var.clone(),
                    target,
                    key,
                    value: value.clone(),
                    used_by: Vec::new(),
                })
            })
            .collect();
        Self { overrides }
    }

    /// The overrides for `key` in the table at `path`, marked as used. More
    /// than one hit means the same key was set twice with different casing.
    pub fn take(&mut self, scope: &Scope, key: &str, path: &str) -> Vec<Hit> {
        let mut hits = Vec::new();
        for o in &mut self.overrides {
            let matches = match (&o.target, scope) {
                (Target::Section(s), Scope::Section(want)) => s == want,
                (Target::Router(r), Scope::Router(want)) => r == want,
                _ => false,
            };
            if matches && o.key == key {
                if !o.used_by.iter().any(|p| p == path) {
                    o.used_by.push(path.to_owned());
                }
                hits.push(Hit {
                    var: o.var.clone(),
                    value: o.value.clone(),
                });
            }
        }
        hits
    }

    /// Problems with the overrides that nothing took, or that more than one
    /// router took. `known` holds each section's keys (routers' under
    /// `"routers"`) and `routers` the environment names of the routers in
    /// the file.
    pub fn leftovers(
        &self,
        known: &BTreeMap<&'static str, Vec<&'static str>>,
        routers: &[String],
    ) -> Vec<Problem> {
        let mut problems = Vec::new();
        for o in &self.overrides {
            if o.used_by.len() > 1 {
                problems.push(Problem::new(
                    &o.var,
                    format!(
                        "matches more than one router ({}); give them names that differ \
                         after upper-casing and turning - and . into _",
                        o.used_by.join(", ")
                    ),
                ));
            }
            if !o.used_by.is_empty() {
                continue;
            }
            let message = match &o.target {
                Target::Malformed(why) => why.to_string(),
                Target::Section(section) => match known.get(section.as_str()) {
                    Some(keys) if *section != "routers" => unknown_key(&o.key, section, keys),
                    _ => {
                        let sections: Vec<&str> = known.keys().copied().collect();
                        let mut m = format!("unknown section {section:?}");
                        if let Some(s) = did_you_mean(section, &sections) {
                            m.push_str(&format!("; did you mean {}?", s.to_ascii_uppercase()));
                        }
                        m
                    }
                },
                Target::Router(_) if o.key == "name" => {
                    "a router's name cannot be set from the environment".to_owned()
                }
                Target::Router(name) if !routers.contains(name) => format!(
                    "no router in the config file is named like {name:?} (the name is \
                     upper-cased, with - and . written as _)"
                ),
                Target::Router(_) => unknown_key(
                    &o.key,
                    "routers",
                    known.get("routers").map(Vec::as_slice).unwrap_or_default(),
                ),
            };
            problems.push(Problem::new(&o.var, message));
        }
        problems
    }
}

fn parse_target(rest: &str) -> (Target, String) {
    let parts: Vec<&str> = rest.split("__").collect();
    if parts.iter().any(|p| p.is_empty()) {
        return (Target::Malformed(SHAPE), String::new());
    }
    let section = parts[0].to_ascii_lowercase();
    let key = parts[parts.len() - 1].to_ascii_lowercase();
    match (section.as_str(), parts.len()) {
        ("routers", 2) => (Target::Malformed(SHAPE), key),
        ("routers", _) => (
            Target::Router(parts[1..parts.len() - 1].join("__").to_ascii_uppercase()),
            key,
        ),
        (_, 2) => (Target::Section(section), key),
        _ => (Target::Malformed(SHAPE), key),
    }
}

const SHAPE: &str = "expected TGATE_<SECTION>__<KEY> or TGATE_ROUTERS__<NAME>__<KEY>";

fn unknown_key(key: &str, section: &str, keys: &[&str]) -> String {
    let mut m = format!("unknown key {key:?} in [{section}]");
    if let Some(k) = did_you_mean(key, keys) {
        m.push_str(&format!("; did you mean {}?", k.to_ascii_uppercase()));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Env {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::new(&vars)
    }

    #[test]
    fn router_names_become_env_names() {
        assert_eq!(router_env_name("office-2.lan"), "OFFICE_2_LAN");
        assert_eq!(router_env_name("Main_1"), "MAIN_1");
    }

    #[test]
    fn only_tgate_variables_with_a_double_underscore_count() {
        let e = env(&[
            ("TGATE_CONFIG", "/etc/tgate.toml"),
            ("TGATE_TEST_DATABASE__URL", "postgres://x"),
            ("PATH", "/bin"),
            ("HOME__X", "y"),
            ("TGATE_TELEGRAM__TOKEN", "1:a"),
        ]);
        assert_eq!(e.overrides.len(), 1);
    }

    #[test]
    fn sections_keys_and_router_names_match_case_insensitively() {
        let mut e = env(&[
            ("TGATE_policy__Max_Strikes", "5"),
            ("TGATE_ROUTERS__office_2__HOST", "192.0.2.9"),
        ]);
        let hits = e.take(&Scope::Section("policy"), "max_strikes", "policy");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].value, "5");
        let hits = e.take(
            &Scope::Router("OFFICE_2".into()),
            "host",
            "routers[office-2]",
        );
        assert_eq!(hits[0].var, "TGATE_ROUTERS__office_2__HOST");
        assert!(e.leftovers(&BTreeMap::new(), &[]).is_empty());
    }

    #[test]
    fn unused_overrides_are_problems_naming_the_variable() {
        let e = env(&[
            ("TGATE_POLICY__MAX_STRIKE", "5"),
            ("TGATE_POLICE__MAX_STRIKES", "5"),
            ("TGATE_ROUTERS__BRANCH__HOST", "h"),
            ("TGATE_ROUTERS__HOST", "h"),
            ("TGATE_A__B__C", "x"),
        ]);
        let mut known = BTreeMap::new();
        known.insert("policy", vec!["max_strikes"]);
        known.insert("routers", vec!["host"]);
        let problems = e.leftovers(&known, &["OFFICE".to_owned()]);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 5, "{text:#?}");
        assert!(text[0].contains("did you mean MAX_STRIKES"), "{text:#?}");
        assert!(text[1].contains("did you mean POLICY"), "{text:#?}");
        assert!(text[2].starts_with("TGATE_ROUTERS__BRANCH__HOST: no router"));
        assert!(text[3].contains("expected TGATE_"));
        assert!(text[4].contains("expected TGATE_"));
    }
}
