//! The OpenAPI document against the running server: every documented
//! operation is called once with a valid example, and the answer's status
//! and JSON body must be what the document says for that operation.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{ADMIN_TG, ADMIN_TOKEN, Harness, Options, SERVICE_TOKEN, TOKEN, up_body};
use serde_json::{Value, json};

struct Example {
    path: String,
    token: Option<&'static str>,
    body: Option<Value>,
    /// The documented status this example answers, when it is not a success
    /// by the harness's nature (it has no Telegram bot).
    expect: Option<&'static str>,
}

fn ex(path: impl Into<String>, token: Option<&'static str>, body: Option<Value>) -> Example {
    Example {
        path: path.into(),
        token,
        body,
        expect: None,
    }
}

/// Turns `/v1/admin/bans/7` back into `/v1/admin/bans/{id}` using the
/// document's templates, to check an example's path is documented.
fn template_of<'a>(paths: &'a BTreeSet<String>, concrete: &str) -> Option<&'a String> {
    let path = concrete.split('?').next().unwrap();
    let parts: Vec<&str> = path.split('/').collect();
    paths.iter().find(|t| {
        let tparts: Vec<&str> = t.split('/').collect();
        tparts.len() == parts.len()
            && tparts
                .iter()
                .zip(&parts)
                .all(|(t, p)| (t.starts_with('{') && t.ends_with('}')) || t == p)
    })
}

/// A schema whose `#/components/...` references resolve against the document.
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    if let Value::Object(map) = &mut root {
        map.insert("components".into(), doc["components"].clone());
    } else {
        root = json!({ "allOf": [schema], "components": doc["components"] });
    }
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("schema {schema}: {e}"))
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let h = Harness::start(Options {
        compat: true,
        ..Default::default()
    })
    .await;
    let resp = h
        .http
        .get(format!("{}/openapi.json", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for s in ["router_token", "service_token", "admin_token"] {
        assert!(schemes.contains_key(s), "security scheme {s}");
    }

    // State the examples act on: owned accounts, pending sessions, a ban.
    h.enroll("alice", 4242).await;
    h.enroll("bob", 4343).await;
    h.enroll("carol", 4444).await;
    h.enroll("dave", 4545).await;
    h.enroll("frank", 4747).await;
    h.enroll("henry", 4848).await;
    h.enroll("ivan", 4949).await;
    let mut pending = BTreeMap::new();
    for (user, caller, remote) in [
        ("bob", "203.0.113.20", "10.10.0.20"),
        ("carol", "203.0.113.21", "10.10.0.21"),
        ("dave", "203.0.113.22", "10.10.0.22"),
        ("ivan", "203.0.113.23", "10.10.0.23"),
    ] {
        let (status, body) = h.post("/v1/events/up", up_body(user, caller, remote)).await;
        assert_eq!(status, 202, "{body}");
        pending.insert(user, body["session"].as_str().unwrap().to_owned());
    }
    let (status, ban) = h
        .admin(
            "POST",
            "/v1/admin/bans",
            Some(json!({"address": "198.51.100.9", "duration": "1h", "reason": "to lift"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = h
        .admin(
            "POST",
            "/v1/admin/bans",
            Some(json!({"address": "198.51.100.77", "duration": "1h", "reason": "for the bot"})),
        )
        .await;
    assert_eq!(status, 201);
    let invite = tgate_core::enroll::create_invite(
        h.store().as_ref(),
        &common::office(),
        &"erin".parse().unwrap(),
        "test",
        std::time::Duration::from_secs(600),
    )
    .await
    .unwrap();

    let (a, s, r) = (Some(ADMIN_TOKEN), Some(SERVICE_TOKEN), Some(TOKEN));
    let examples: BTreeMap<&str, Example> = BTreeMap::from([
        (
            "event_up",
            ex(
                "/v1/events/up",
                r,
                Some(up_body("alice", "203.0.113.7", "10.10.0.5")),
            ),
        ),
        (
            "event_down",
            ex(
                "/v1/events/down",
                r,
                Some(json!({"user": "alice", "remote_address": "10.10.0.5"})),
            ),
        ),
        (
            "compat_connect",
            ex(
                "/clients/connect/",
                None,
                Some(json!({
            "name": "frank", "chat_id": "", "source_ip": "10.10.0.30",
            "destination_ip": "10.10.0.1", "caller_id": "203.0.113.30"})),
            ),
        ),
        (
            "compat_disconnect",
            ex(
                "/clients/disconnect/",
                None,
                Some(json!({"name": "frank", "source_ip": "10.10.0.30"})),
            ),
        ),
        (
            "session_confirm",
            ex(
                format!("/v1/sessions/{}/confirm", pending["bob"]),
                s,
                Some(json!({"telegram_user_id": 4343})),
            ),
        ),
        (
            "session_deny",
            ex(
                format!("/v1/sessions/{}/deny", pending["carol"]),
                s,
                Some(json!({"telegram_user_id": 4444})),
            ),
        ),
        (
            "enroll",
            ex(
                "/v1/enroll",
                s,
                Some(json!({"code": invite.code, "telegram_user_id": 4646, "language": "en"})),
            ),
        ),
        ("user_status", ex("/v1/users/4242", s, None)),
        (
            "user_language",
            ex(
                "/v1/users/4242/language",
                s,
                Some(json!({"language": "ru"})),
            ),
        ),
        ("healthz", ex("/healthz", None, None)),
        ("readyz", ex("/readyz", None, None)),
        ("metrics", ex("/metrics", None, None)),
        ("openapi", ex("/openapi.json", None, None)),
        (
            "admin_list_bans",
            ex("/v1/admin/bans?active=true&limit=10", a, None),
        ),
        (
            "admin_add_ban",
            ex(
                "/v1/admin/bans",
                a,
                Some(json!({"address": "198.51.100.0/24", "duration": "30m", "reason": "example"})),
            ),
        ),
        (
            "admin_lift_ban",
            ex(format!("/v1/admin/bans/{}", ban["id"]), a, None),
        ),
        (
            "admin_list_sessions",
            ex("/v1/admin/sessions?state=pending", a, None),
        ),
        (
            "admin_kick_session",
            ex(
                format!("/v1/admin/sessions/{}/kick", pending["dave"]),
                a,
                None,
            ),
        ),
        (
            "admin_list_accounts",
            ex("/v1/admin/accounts?router=office", a, None),
        ),
        (
            "admin_create_account",
            ex(
                "/v1/admin/accounts",
                a,
                Some(json!({"router": "office", "account": "gina"})),
            ),
        ),
        (
            "admin_invite",
            ex(
                "/v1/admin/accounts/office/gina/invite",
                a,
                Some(json!({"ttl": "2h"})),
            ),
        ),
        (
            "admin_remove_owner",
            ex("/v1/admin/accounts/office/henry/owner", a, None),
        ),
        (
            "admin_lock_account",
            ex("/v1/admin/accounts/office/henry/lock", a, None),
        ),
        (
            "admin_unlock_account",
            ex("/v1/admin/accounts/office/henry/unlock", a, None),
        ),
        ("admin_list_routers", ex("/v1/admin/routers", a, None)),
        (
            "admin_audit_log",
            ex("/v1/admin/audit?actor=admin-api&limit=5", a, None),
        ),
        (
            "bot_list_bans",
            ex("/v1/bot/bans?offset=0&limit=5", s, None),
        ),
        (
            "bot_add_ban",
            ex(
                "/v1/bot/bans",
                s,
                Some(json!({"network": "192.0.2.0/24", "duration": "2h", "reason": "scanner"})),
            ),
        ),
        (
            "bot_lift_bans",
            ex("/v1/bot/bans?network=198.51.100.77", s, None),
        ),
        ("bot_list_sessions", ex("/v1/bot/sessions?limit=5", s, None)),
        (
            "bot_kick",
            ex("/v1/bot/kick", s, Some(json!({"target": "ivan"}))),
        ),
        (
            "bot_invite",
            Example {
                expect: Some("503"),
                ..ex(
                    "/v1/bot/invites",
                    s,
                    Some(json!({"router": "office", "account": "jane"})),
                )
            },
        ),
        (
            "bot_list_accounts",
            ex("/v1/bot/accounts?offset=1", s, None),
        ),
        ("bot_list_routers", ex("/v1/bot/routers", s, None)),
    ]);

    let paths: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let mut documented = BTreeSet::new();
    // The order the document lists operations in, which is not the order
    // they depend on each other; the examples above do not depend on order
    // except kick/confirm/deny, which each have their own session.
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {template} has no operationId"));
            documented.insert(id.to_owned());
            let example = examples
                .get(id)
                .unwrap_or_else(|| panic!("documented operation {id} has no example"));
            assert_eq!(
                template_of(&paths, &example.path),
                Some(template),
                "example of {id} is not on its documented path"
            );
            let mut req = h.http.request(
                method.to_uppercase().parse().unwrap(),
                format!("{}{}", h.base, example.path),
            );
            if let Some(t) = example.token {
                req = req.bearer_auth(t);
            }
            // The bot's endpoints act for this admin; the others ignore it.
            req = req.header("x-telegram-user", ADMIN_TG);
            if let Some(b) = &example.body {
                req = req
                    .header("content-type", "application/json")
                    .body(b.to_string());
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16().to_string();
            let content_type = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            let text = resp.text().await.unwrap();
            let documented_response = op["responses"].get(&status).unwrap_or_else(|| {
                panic!("{id} answered {status}, which is not documented: {text}")
            });
            if content_type.starts_with("application/json") {
                let schema = &documented_response["content"]["application/json"]["schema"];
                assert!(
                    !schema.is_null(),
                    "{id} {status}: JSON answer, no JSON schema documented"
                );
                let body: Value = serde_json::from_str(&text).unwrap();
                let v = validator(&doc, schema);
                let errors: Vec<String> = v.iter_errors(&body).map(|e| e.to_string()).collect();
                assert!(
                    errors.is_empty(),
                    "{id} {status}: {body} does not fit its schema: {errors:?}"
                );
            }
            match example.expect {
                // The example is meant to succeed.
                None => assert!(status.starts_with('2'), "{id} answered {status}: {text}"),
                Some(want) => assert_eq!(status, want, "{id}: {text}"),
            }
        }
    }
    let extra: Vec<&&str> = examples
        .keys()
        .filter(|k| !documented.contains(**k))
        .collect();
    assert!(
        extra.is_empty(),
        "examples for undocumented operations: {extra:?}"
    );
}

#[tokio::test]
async fn error_answers_fit_the_documented_error_schema() {
    let h = Harness::start(Options::default()).await;
    let doc: Value = h
        .http
        .get(format!("{}/openapi.json", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let cases = [
        (
            "post",
            "/v1/admin/bans",
            "/v1/admin/bans",
            Some(ADMIN_TOKEN),
            json!({"address": "x"}),
            "422",
        ),
        (
            "post",
            "/v1/admin/bans",
            "/v1/admin/bans",
            None,
            json!({}),
            "401",
        ),
        (
            "delete",
            "/v1/admin/bans/{id}",
            "/v1/admin/bans/424242",
            Some(ADMIN_TOKEN),
            Value::Null,
            "404",
        ),
        (
            "post",
            "/v1/events/up",
            "/v1/events/up",
            Some(TOKEN),
            json!({"user": "alice"}),
            "422",
        ),
    ];
    for (method, template, path, token, body, want) in cases {
        let (status, reply) = h
            .call(
                &method.to_uppercase(),
                path,
                token,
                (!body.is_null()).then_some(body),
            )
            .await;
        assert_eq!(status.to_string(), want, "{path}: {reply}");
        let schema = &doc["paths"][template][method]["responses"][want]["content"]["application/json"]
            ["schema"];
        let v = validator(&doc, schema);
        assert!(v.is_valid(&reply), "{path} {want}: {reply}");
    }
}
