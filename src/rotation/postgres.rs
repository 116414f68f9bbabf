//! The `postgres` rotator, ESC's shape: inputs `database: {host, port, database, managingUser: {username,
//! password}}` and `rotateUsers: {username1, username2}`; state and value `{current: {username, password},
//! previous: {username, password}}` with the passwords secret. Each rotation connects as the managing user, sets a
//! fresh password (from the `password` rotator's generator) on the user that is not current, then logs in as that
//! user with it before returning the new state, in which that user is current and the old current one is previous:
//! two credentials stay valid while consumers roll, and rotating twice retires the first rotation's previous one.
//! Without state, `username1` is rotated first and there is no previous credential yet. A rotation that changed the
//! database but whose state was never written converges on rerun: the state still names the same current user, so
//! the same other user is reset again. Passwords reach the server only as SCRAM verifiers (computed here, so no
//! plaintext lands in server logs) and never appear in an error.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;
use tokio_postgres::NoTls;
use zeroize::Zeroizing;

use crate::esc::schema::{Schema, SchemaRef};
use crate::esc::{EscRepr, EscValue, Rotator};

/// Bound on opening one connection (TCP, startup and authentication).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Bound on one statement.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(20);
/// Length of generated passwords: letters and digits only, so they fit unescaped in connection URLs, and 32 of them
/// give about 190 bits.
const PASSWORD_LENGTH: u32 = 32;

/// See the module doc.
#[derive(Debug, Default)]
pub(crate) struct PostgresRotator;

/// A username and its password.
#[derive(Clone)]
struct Credential {
    username: String,
    password: Zeroizing<String>,
}

/// Where to rotate: the server, its database and the user allowed to change passwords.
#[derive(Clone)]
struct Target {
    host: String,
    port: u16,
    database: String,
    managing: Credential,
}

impl Target {
    /// `host:port`, as errors name the server.
    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

fn string_at<'a>(value: &'a EscValue, path: &[&str], field: &str) -> Result<&'a str, String> {
    let mut v = value;
    for key in path {
        v = v
            .get(key)
            .ok_or_else(|| format!("{field} is required (a string)"))?;
    }
    match &v.repr {
        EscRepr::String(s) if !s.is_empty() => Ok(s),
        EscRepr::String(_) => Err(format!("{field} must not be empty")),
        _ => Err(format!("{field} must be a string")),
    }
}

fn port_of(inputs: &EscValue) -> Result<u16, String> {
    const FIELD: &str = "inputs.database.port";
    let text = match inputs
        .get("database")
        .and_then(|d| d.get("port"))
        .map(|v| &v.repr)
    {
        None | Some(EscRepr::Null) => return Ok(5432),
        Some(EscRepr::Number(n)) => n.to_string(),
        Some(EscRepr::String(s)) => s.to_string(),
        Some(_) => return Err(format!("{FIELD} must be a number")),
    };
    match text.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!(
            "{FIELD} must be a port number (1-65535), not {text}"
        )),
    }
}

fn target_of(inputs: &EscValue) -> Result<Target, String> {
    Ok(Target {
        host: string_at(inputs, &["database", "host"], "inputs.database.host")?.to_owned(),
        port: port_of(inputs)?,
        database: string_at(
            inputs,
            &["database", "database"],
            "inputs.database.database",
        )?
        .to_owned(),
        managing: Credential {
            username: string_at(
                inputs,
                &["database", "managingUser", "username"],
                "inputs.database.managingUser.username",
            )?
            .to_owned(),
            password: Zeroizing::new(
                string_at(
                    inputs,
                    &["database", "managingUser", "password"],
                    "inputs.database.managingUser.password",
                )?
                .to_owned(),
            ),
        },
    })
}

fn rotate_users(inputs: &EscValue) -> Result<(String, String), String> {
    let one = string_at(
        inputs,
        &["rotateUsers", "username1"],
        "inputs.rotateUsers.username1",
    )?;
    let two = string_at(
        inputs,
        &["rotateUsers", "username2"],
        "inputs.rotateUsers.username2",
    )?;
    if one == two {
        return Err(format!(
            "inputs.rotateUsers.username1 and username2 are both {one:?}: two different users keep one credential valid while the other is reset"
        ));
    }
    Ok((one.to_owned(), two.to_owned()))
}

/// The state's credential at `key` (`current` or `previous`), if any.
fn state_credential(state: &EscValue, key: &str) -> Result<Option<Credential>, String> {
    match state.get(key).map(|v| &v.repr) {
        None | Some(EscRepr::Null) => Ok(None),
        Some(EscRepr::Object(_)) => Ok(Some(Credential {
            username: string_at(state, &[key, "username"], &format!("state.{key}.username"))?
                .to_owned(),
            password: Zeroizing::new(
                string_at(state, &[key, "password"], &format!("state.{key}.password"))?.to_owned(),
            ),
        })),
        Some(_) => Err(format!(
            "state.{key} must be an object {{username, password}}"
        )),
    }
}

fn credential_value(c: &Credential) -> EscValue {
    let mut password = EscValue::string(&c.password);
    password.make_secret();
    EscValue::object(BTreeMap::from([
        ("username".to_owned(), EscValue::string(&c.username)),
        ("password".to_owned(), password),
    ]))
}

fn state_value(current: &Credential, previous: Option<&Credential>) -> EscValue {
    let mut out = BTreeMap::from([("current".to_owned(), credential_value(current))]);
    if let Some(p) = previous {
        out.insert("previous".to_owned(), credential_value(p));
    }
    EscValue::object(out)
}

/// A fresh password from the `password` rotator's generator (OS CSPRNG).
fn new_password() -> Result<Zeroizing<String>, String> {
    let inputs = EscValue::object(BTreeMap::from([
        (
            "length".to_owned(),
            EscValue::new(EscRepr::Number(PASSWORD_LENGTH.to_string().into())),
        ),
        ("special".to_owned(), EscValue::new(EscRepr::Bool(false))),
    ]));
    super::password::generate(&inputs).map(Zeroizing::new)
}

/// `text` with every occurrence of each secret replaced, so that no error can carry one even if a server echoed it.
fn scrub(text: String, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text, |t, s| t.replace(s, crate::value::REDACTED))
}

/// Opens a connection as `user`; the connection's driver runs on the current runtime until the client drops.
async fn connect(target: &Target, user: &Credential) -> Result<tokio_postgres::Client, String> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(&target.host)
        .port(target.port)
        .dbname(&target.database)
        .user(&user.username)
        .password(user.password.as_bytes())
        .application_name("sophia esc rotate")
        .connect_timeout(CONNECT_TIMEOUT);
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(NoTls))
        .await
        .map_err(|_| format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()))?
        .map_err(|e| error_text(&e))?;
    tokio::spawn(async move {
        // Errors surface through the client's calls; the driver only has to run.
        let _ = connection.await;
    });
    Ok(client)
}

/// A driver error with its cause (the server's message, or the socket's), which says what went wrong.
fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

/// `ALTER ROLE` setting `username`'s password to `verifier`, both quoted (a role name may hold any character).
fn alter_password_statement(username: &str, verifier: &str) -> String {
    format!(
        "ALTER ROLE {} WITH PASSWORD {}",
        postgres_protocol::escape::escape_identifier(username),
        postgres_protocol::escape::escape_literal(verifier)
    )
}

/// Sets `user`'s password on the server as the managing user, then logs in as `user` with it.
async fn reset_and_verify(target: &Target, user: &Credential) -> Result<(), String> {
    let server = format!(
        "postgres {} database {:?}",
        target.address(),
        target.database
    );
    let managing = &target.managing.username;
    let admin = connect(target, &target.managing).await.map_err(|e| {
        format!(
            "{server}: logging in as managing user {managing:?} (inputs.database.managingUser): {e}"
        )
    })?;
    // A SCRAM verifier, not the password, goes over the wire and into any statement log.
    let verifier = postgres_protocol::password::scram_sha_256(user.password.as_bytes());
    let statement = alter_password_statement(&user.username, &verifier);
    tokio::time::timeout(STATEMENT_TIMEOUT, admin.batch_execute(&statement))
        .await
        .map_err(|_| {
            format!(
                "{server}: setting the password of user {:?} as {managing:?}: no answer within {} s",
                user.username,
                STATEMENT_TIMEOUT.as_secs()
            )
        })?
        .map_err(|e| {
            format!(
                "{server}: setting the password of user {:?} as {managing:?}: {}",
                user.username,
                scrub(error_text(&e), &[&verifier])
            )
        })?;
    drop(admin);
    let unverified = |why: String| {
        format!(
            "{server}: the new password of user {:?} was set but logging in with it failed: {why}; the state was not changed, so rotating again resets the same user",
            user.username
        )
    };
    let client = connect(target, user).await.map_err(unverified)?;
    let row = tokio::time::timeout(
        STATEMENT_TIMEOUT,
        client.query_one("SELECT current_user::text", &[]),
    )
    .await
    .map_err(|_| {
        unverified(format!(
            "no answer within {} s",
            STATEMENT_TIMEOUT.as_secs()
        ))
    })?
    .map_err(|e| unverified(error_text(&e)))?;
    let logged_in: String = row.get(0);
    if logged_in != user.username {
        return Err(unverified(format!(
            "the server says the session is {logged_in:?}"
        )));
    }
    Ok(())
}

/// Runs [`reset_and_verify`] on a runtime of its own (the rotator interface is synchronous); on a separate thread
/// when called from inside a runtime, which cannot block on another.
fn reset_and_verify_blocking(target: &Target, user: &Credential) -> Result<(), String> {
    let run =
        || crate::cloud::block_on(reset_and_verify(target, user)).map_err(|e| format!("{e:#}"))?;
    let result = if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(run)
                .join()
                .unwrap_or_else(|_| Err("the rotation thread panicked".to_owned()))
        })
    } else {
        run()
    };
    // Belt and braces: whatever the server or driver said, no password leaves in an error.
    result.map_err(|e| scrub(e, &[&user.password, &target.managing.password]))
}

fn credential_schema() -> serde_json::Value {
    json!({
        "type": "object",
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
        "required": ["username", "password"]
    })
}

impl Rotator for PostgresRotator {
    fn schema(&self) -> (SchemaRef, SchemaRef, SchemaRef) {
        let inputs = Schema::from_json(&json!({
            "type": "object",
            "properties": {
                "database": {
                    "type": "object",
                    "properties": {
                        "host": {"type": "string"},
                        "port": {"anyOf": [{"type": "number"}, {"type": "string"}]},
                        "database": {"type": "string"},
                        "managingUser": credential_schema(),
                        // ESC's rotation connectors (an AWS Lambda in a private network) are a Pulumi Cloud
                        // service; direct connection is what runs here, so a connector is refused in `rotate`.
                        "connector": {"type": "object"}
                    },
                    "required": ["host", "database", "managingUser"]
                },
                "rotateUsers": {
                    "type": "object",
                    "properties": {"username1": {"type": "string"}, "username2": {"type": "string"}},
                    "required": ["username1", "username2"]
                }
            },
            "required": ["database", "rotateUsers"]
        }))
        .expect("static schema");
        let state = Schema::from_json(&json!({
            "type": "object",
            "properties": {"current": credential_schema(), "previous": credential_schema()},
            "required": ["current"]
        }))
        .expect("static schema");
        (inputs, state.clone(), state)
    }

    /// The state's credentials, passwords secret; `{}` before the first rotation (no password is known yet).
    fn open(
        &self,
        _inputs: &EscValue,
        state: &EscValue,
        _context: &EscValue,
    ) -> Result<EscValue, String> {
        match state_credential(state, "current")? {
            Some(current) => Ok(state_value(
                &current,
                state_credential(state, "previous")?.as_ref(),
            )),
            None => Ok(EscValue::object(BTreeMap::new())),
        }
    }

    fn rotate(
        &self,
        inputs: &EscValue,
        state: &EscValue,
        _context: &EscValue,
    ) -> Result<EscValue, String> {
        if inputs
            .get("database")
            .and_then(|d| d.get("connector"))
            .is_some()
        {
            return Err("inputs.database.connector: rotation connectors run in Pulumi Cloud; locally the rotator connects directly (leave connector out, or rotate with --cloud)".into());
        }
        let target = target_of(inputs)?;
        let (one, two) = rotate_users(inputs)?;
        let current = state_credential(state, "current")?;
        let next_user = match &current {
            None => one,
            Some(c) if c.username == one => two,
            Some(c) if c.username == two => one,
            Some(c) => {
                return Err(format!(
                    "state.current.username {:?} is neither inputs.rotateUsers.username1 ({one:?}) nor username2 ({two:?})",
                    c.username
                ));
            }
        };
        let next = Credential {
            username: next_user,
            password: new_password()?,
        };
        reset_and_verify_blocking(&target, &next)?;
        Ok(state_value(&next, current.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(v: serde_json::Value) -> EscValue {
        crate::esc::parse_json_number_preserving(&v.to_string()).unwrap()
    }

    fn inputs(port: serde_json::Value) -> EscValue {
        value(json!({
            "database": {"host": "127.0.0.1", "port": port, "database": "app",
                         "managingUser": {"username": "admin", "password": "admin-secret-pw"}},
            "rotateUsers": {"username1": "app_a", "username2": "app_b"}
        }))
    }

    #[test]
    fn open_returns_the_state_with_passwords_secret() {
        let r = PostgresRotator;
        let state = value(json!({
            "current": {"username": "app_b", "password": "pw-b"},
            "previous": {"username": "app_a", "password": "pw-a"}
        }));
        let out = r
            .open(&inputs(json!(5432)), &state, &EscValue::unknown())
            .unwrap();
        assert_eq!(
            out.to_json(true),
            json!({"current": {"username": "app_b", "password": "[secret]"},
                   "previous": {"username": "app_a", "password": "[secret]"}})
        );
        assert_eq!(out.to_json(false)["previous"]["password"], "pw-a");
        let empty = r
            .open(
                &inputs(json!(5432)),
                &EscValue::new(EscRepr::Null),
                &EscValue::unknown(),
            )
            .unwrap();
        assert_eq!(empty.to_json(false), json!({}));
    }

    #[test]
    fn bad_inputs_and_state_are_refused_naming_the_field_before_any_connection() {
        let r = PostgresRotator;
        let none = EscValue::new(EscRepr::Null);
        let err = r
            .rotate(&inputs(json!(70000)), &none, &EscValue::unknown())
            .unwrap_err();
        assert!(err.contains("inputs.database.port"), "{err}");
        let mut same = inputs(json!(5432)).to_json(false);
        same["rotateUsers"]["username2"] = json!("app_a");
        let err = r
            .rotate(&value(same), &none, &EscValue::unknown())
            .unwrap_err();
        assert!(err.contains("username1 and username2"), "{err}");
        let stranger = value(json!({"current": {"username": "someone", "password": "x"}}));
        let err = r
            .rotate(&inputs(json!(5432)), &stranger, &EscValue::unknown())
            .unwrap_err();
        assert!(err.contains("state.current.username \"someone\""), "{err}");
        assert!(!err.contains("admin-secret-pw"), "{err}");
    }

    #[test]
    fn an_unreachable_server_fails_in_bounded_time_naming_host_and_user_never_a_password() {
        // A port nothing listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let started = std::time::Instant::now();
        let err = PostgresRotator
            .rotate(
                &inputs(json!(port)),
                &EscValue::new(EscRepr::Null),
                &EscValue::unknown(),
            )
            .unwrap_err();
        assert!(started.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(5));
        assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
        assert!(err.contains("managing user \"admin\""), "{err}");
        assert!(!err.contains("admin-secret-pw"), "{err}");
    }

    #[test]
    fn the_statement_quotes_the_role_and_sends_a_verifier_not_the_password() {
        assert_eq!(
            alter_password_statement("app \"b\"; DROP ROLE x", "it's"),
            r#"ALTER ROLE "app ""b""; DROP ROLE x" WITH PASSWORD 'it''s'"#
        );
        let verifier = postgres_protocol::password::scram_sha_256(b"plain-pw");
        assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
        assert!(!alter_password_statement("u", &verifier).contains("plain-pw"));
    }

    #[test]
    fn scrub_removes_every_secret() {
        assert_eq!(
            scrub("a pw b pw".into(), &["pw", ""]),
            "a [secret] b [secret]"
        );
    }
}
