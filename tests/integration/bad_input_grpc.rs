//! The bad-input suite over gRPC: the provider served on loopback (the same server the binary runs) and driven with
//! tonic's generated client as a buggy engine or program would. Each case is one call, and the answer it must get:
//! a gRPC status with a code and a message naming the property, or a `CheckFailure` on the property. No answer may
//! carry [`CANARY`], the value planted in the bad inputs, plain, base64 or hex; after each case the provider must
//! still answer.

use prost_types::value::Kind;
use prost_types::{ListValue, Struct, Value};
use sophia::proto::pulumirpc::{self, resource_provider_client::ResourceProviderClient};
use sophia::provider::wire;
use tonic::Code;
use tonic::transport::Channel;

use super::util::{assert_no_canary, find_canary};

const CANARY: &str = "canary-grpc-input-b8m1";
const KEY: &str = "bad-input-hash-key-0123456789";
const URN: &str = "urn:pulumi:dev::sophia-secrets::sophia:index:SecretHash::api";
const TYPE: &str = "sophia:index:SecretHash";
/// Pulumi's special-object signature key and the secret signature (see the wire module).
const SIG_KEY: &str = "4dabf18193072939515e22adb298388d";
const SECRET_SIG: &str = "1b47061264138c4ac30d75fd1eb44270";

fn s(v: &str) -> Value {
    wire::string(v)
}

fn num(n: f64) -> Value {
    Value {
        kind: Some(Kind::NumberValue(n)),
    }
}

fn boolean(b: bool) -> Value {
    Value {
        kind: Some(Kind::BoolValue(b)),
    }
}

fn list(items: Vec<Value>) -> Value {
    Value {
        kind: Some(Kind::ListValue(ListValue { values: items })),
    }
}

fn obj(fields: Vec<(&str, Value)>) -> Struct {
    Struct {
        fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }
}

fn val(fields: Vec<(&str, Value)>) -> Value {
    Value {
        kind: Some(Kind::StructValue(obj(fields))),
    }
}

/// `{data: secret({K: value}), scope: "ns/api"}` with `value` as given.
fn with_value(value: Value) -> Struct {
    obj(vec![
        ("data", wire::secret(val(vec![("K", value)]))),
        ("scope", s("ns/api")),
    ])
}

/// Good inputs plus one more property.
fn with_extra(name: &str, value: Value) -> Struct {
    let mut st = with_value(s(CANARY));
    st.fields.insert(name.to_owned(), value);
    st
}

/// A Value nested `levels` deep in lists.
fn deep(levels: usize) -> Value {
    (0..levels).fold(s(CANARY), |v, _| list(vec![v]))
}

/// One call to the provider.
enum Rpc {
    Check(Struct),
    CheckAs(&'static str, &'static str, Struct),
    CheckConfig(Struct),
    Configure(Struct),
    Create(Struct),
    Preview(Struct),
    CreateAs(&'static str, &'static str, Struct),
    Diff(Struct, Struct),
    Update(Struct, Struct),
    Read(&'static str, Struct),
    Delete(&'static str, Struct),
    Schema(&'static str),
    Invoke,
}

/// The answer a case must get.
enum Want {
    /// A gRPC error of this code whose message holds the text.
    Status(Code, &'static str),
    /// A successful `Check`/`CheckConfig` whose failures include one on this property, its reason holding the text.
    Failure(&'static str, &'static str),
}

struct Case {
    name: &'static str,
    rpc: fn() -> Rpc,
    want: Want,
}

const CASES: &[Case] = &[
    // Check: the shape and types of the inputs.
    Case {
        name: "data is a number",
        rpc: || Rpc::Check(obj(vec![("data", num(1.0))])),
        want: Want::Failure("data", ""),
    },
    Case {
        name: "data is a string",
        rpc: || Rpc::Check(obj(vec![("data", s(CANARY))])),
        want: Want::Failure("data", ""),
    },
    Case {
        name: "data is a list",
        rpc: || Rpc::Check(obj(vec![("data", list(vec![s(CANARY)]))])),
        want: Want::Failure("data", ""),
    },
    Case {
        name: "data is missing",
        rpc: || Rpc::Check(obj(vec![("scope", s("ns/api"))])),
        want: Want::Failure("data", "missing required property `data`"),
    },
    Case {
        name: "the inputs are empty",
        rpc: || Rpc::Check(obj(vec![])),
        want: Want::Failure("data", "missing required property `data`"),
    },
    Case {
        name: "a data value is a number",
        rpc: || Rpc::Check(with_value(num(5.0))),
        want: Want::Failure("data[\"K\"]", "expected a string, got number"),
    },
    Case {
        name: "a data value is a bool",
        rpc: || Rpc::Check(with_value(boolean(true))),
        want: Want::Failure("data[\"K\"]", "expected a string"),
    },
    Case {
        name: "a data value is a list",
        rpc: || Rpc::Check(with_value(list(vec![s(CANARY)]))),
        want: Want::Failure("data[\"K\"]", "expected a string"),
    },
    Case {
        name: "a data value is an object",
        rpc: || Rpc::Check(with_value(val(vec![("inner", s(CANARY))]))),
        want: Want::Failure("data[\"K\"]", "expected a string"),
    },
    Case {
        name: "a data value is null",
        rpc: || {
            Rpc::Check(with_value(Value {
                kind: Some(Kind::NullValue(0)),
            }))
        },
        want: Want::Failure("data[\"K\"]", "expected a string"),
    },
    Case {
        name: "a data value has no kind",
        rpc: || Rpc::Check(with_value(Value { kind: None })),
        want: Want::Failure("data[\"K\"]", "value has no kind"),
    },
    Case {
        name: "a data value is NaN",
        rpc: || Rpc::Check(with_value(num(f64::NAN))),
        want: Want::Failure("data[\"K\"]", "number is not finite"),
    },
    Case {
        name: "a data value nested 30 lists deep",
        rpc: || Rpc::Check(with_value(deep(30))),
        want: Want::Failure("data[\"K\"]", "expected a string"),
    },
    Case {
        name: "scope is a number",
        rpc: || Rpc::Check(with_extra("scope", num(1.0))),
        want: Want::Failure("scope", "expected a string, got number"),
    },
    Case {
        name: "scope is a list",
        rpc: || Rpc::Check(with_extra("scope", list(vec![s(CANARY)]))),
        want: Want::Failure("scope", "expected a string"),
    },
    Case {
        name: "changedBy is a number",
        rpc: || Rpc::Check(with_extra("changedBy", num(1.0))),
        want: Want::Failure("changedBy", "expected a string"),
    },
    Case {
        name: "commit is a bool",
        rpc: || Rpc::Check(with_extra("commit", boolean(false))),
        want: Want::Failure("commit", "expected a string"),
    },
    Case {
        name: "an unknown property",
        rpc: || Rpc::Check(with_extra("dta", s(CANARY))),
        want: Want::Failure("dta", "unknown property"),
    },
    Case {
        name: "an unknown property holding a secret",
        rpc: || Rpc::Check(with_extra("extra", wire::secret(s(CANARY)))),
        want: Want::Failure("extra", "unknown property"),
    },
    // Check: Pulumi's special objects, malformed.
    Case {
        name: "a secret object without its value",
        rpc: || Rpc::Check(with_value(val(vec![(SIG_KEY, s(SECRET_SIG))]))),
        want: Want::Failure("data[\"K\"]", "malformed secret object"),
    },
    Case {
        name: "a secret whose value has no kind",
        rpc: || {
            Rpc::Check(with_value(val(vec![
                (SIG_KEY, s(SECRET_SIG)),
                ("value", Value { kind: None }),
            ])))
        },
        want: Want::Failure("data[\"K\"]", "no kind"),
    },
    Case {
        name: "a signature that is a number",
        rpc: || {
            Rpc::Check(with_value(val(vec![
                (SIG_KEY, num(1.0)),
                ("value", s(CANARY)),
            ])))
        },
        want: Want::Failure("data[\"K\"]", ""),
    },
    Case {
        name: "an unknown signature",
        rpc: || {
            Rpc::Check(with_value(val(vec![
                (SIG_KEY, s("0000")),
                ("value", s(CANARY)),
            ])))
        },
        want: Want::Failure("data[\"K\"]", "unknown special-object signature"),
    },
    Case {
        name: "an asset as a data value",
        rpc: || {
            Rpc::Check(with_value(val(vec![
                (SIG_KEY, s("c44067f5952c0a294b673a41bacd8c17")),
                ("text", s(CANARY)),
            ])))
        },
        want: Want::Failure("data[\"K\"]", "asset values are not supported"),
    },
    Case {
        name: "a resource reference as scope",
        rpc: || {
            Rpc::Check(with_extra(
                "scope",
                val(vec![
                    (SIG_KEY, s("5cf8f73096256a8f31e491e813e4eb8e")),
                    ("urn", s(URN)),
                ]),
            ))
        },
        want: Want::Failure("scope", "resource reference values are not supported"),
    },
    Case {
        name: "an output value without its signature's parts",
        rpc: || {
            Rpc::Check(with_value(val(vec![
                (SIG_KEY, s("d0e6a833031e9bbcd3f4e8bde6ca49a4")),
                ("secret", s(CANARY)),
            ])))
        },
        want: Want::Failure("data[\"K\"]", "output value"),
    },
    Case {
        name: "a secret wrapping a number",
        rpc: || Rpc::Check(with_value(wire::secret(num(3.0)))),
        want: Want::Failure("data[\"K\"]", "expected a string"),
    },
    Case {
        name: "a Check of another type",
        rpc: || {
            Rpc::CheckAs(
                "urn:pulumi:dev::p::sophia:index:Nope::x",
                "sophia:index:Nope",
                with_value(s(CANARY)),
            )
        },
        want: Want::Status(Code::InvalidArgument, "sophia:index:Nope"),
    },
    // Configuration.
    Case {
        name: "CheckConfig without hashKey",
        rpc: || Rpc::CheckConfig(obj(vec![])),
        want: Want::Failure("hashKey", "missing required configuration key"),
    },
    Case {
        name: "CheckConfig with a short hashKey",
        rpc: || Rpc::CheckConfig(obj(vec![("hashKey", wire::secret(s("cnry-b8m1")))])),
        want: Want::Failure("hashKey", "16 bytes"),
    },
    Case {
        name: "CheckConfig with a numeric hashKey",
        rpc: || Rpc::CheckConfig(obj(vec![("hashKey", num(1234567890123456789.0))])),
        want: Want::Failure("hashKey", "expected a string, got number"),
    },
    Case {
        name: "CheckConfig with a hashKey list",
        rpc: || Rpc::CheckConfig(obj(vec![("hashKey", list(vec![s(CANARY)]))])),
        want: Want::Failure("hashKey", "expected a string"),
    },
    Case {
        name: "Configure without hashKey",
        rpc: || Rpc::Configure(obj(vec![])),
        want: Want::Status(Code::InvalidArgument, "hashKey"),
    },
    Case {
        name: "Configure with a short hashKey",
        rpc: || Rpc::Configure(obj(vec![("hashKey", s("cnry-b8m1"))])),
        want: Want::Status(Code::InvalidArgument, "16 bytes"),
    },
    Case {
        name: "Configure with a hashKey object",
        rpc: || Rpc::Configure(obj(vec![("hashKey", val(vec![("k", s(CANARY))]))])),
        want: Want::Status(Code::InvalidArgument, "expected a string"),
    },
    Case {
        name: "Configure with a hashKey that has no kind",
        rpc: || Rpc::Configure(obj(vec![("hashKey", Value { kind: None })])),
        want: Want::Status(Code::InvalidArgument, "hashKey"),
    },
    // Create, Update, Diff, Read, Delete with inputs Check would have refused.
    Case {
        name: "Create with a data value that has no kind",
        rpc: || Rpc::Create(with_value(Value { kind: None })),
        want: Want::Status(Code::InvalidArgument, "data[\"K\"]"),
    },
    Case {
        name: "Create with a numeric data value",
        rpc: || Rpc::Create(with_value(num(1.0))),
        want: Want::Status(Code::InvalidArgument, "data[\"K\"]"),
    },
    Case {
        name: "Create without data",
        rpc: || Rpc::Create(obj(vec![("scope", s("ns/api"))])),
        want: Want::Status(Code::InvalidArgument, "data"),
    },
    Case {
        name: "Create with an unknown scope outside a preview",
        rpc: || {
            Rpc::Create(obj(vec![
                ("data", val(vec![("K", s(CANARY))])),
                ("scope", s(wire::UNKNOWN)),
            ]))
        },
        want: Want::Status(
            Code::InvalidArgument,
            "unknown values outside a preview: scope",
        ),
    },
    Case {
        name: "Create with an unknown data value outside a preview",
        rpc: || Rpc::Create(with_value(s(wire::UNKNOWN))),
        want: Want::Status(
            Code::InvalidArgument,
            "unknown values outside a preview: data[\"K\"]",
        ),
    },
    Case {
        name: "Update with an unknown data value outside a preview",
        rpc: || Rpc::Update(with_value(s(CANARY)), with_value(s(wire::UNKNOWN))),
        want: Want::Status(
            Code::InvalidArgument,
            "unknown values outside a preview: data[\"K\"]",
        ),
    },
    Case {
        name: "a preview with a numeric data value",
        rpc: || Rpc::Preview(with_value(num(1.0))),
        want: Want::Status(Code::InvalidArgument, "data[\"K\"]"),
    },
    Case {
        name: "Create of another type",
        rpc: || {
            Rpc::CreateAs(
                "urn:pulumi:dev::p::sophia:index:Nope::x",
                "sophia:index:Nope",
                with_value(s(CANARY)),
            )
        },
        want: Want::Status(Code::InvalidArgument, "sophia:index:Nope"),
    },
    Case {
        name: "Update with news of the wrong type",
        rpc: || Rpc::Update(with_value(s(CANARY)), with_value(boolean(true))),
        want: Want::Status(Code::InvalidArgument, "data[\"K\"]"),
    },
    Case {
        name: "Diff with news of the wrong type",
        rpc: || Rpc::Diff(with_value(s(CANARY)), obj(vec![("data", num(1.0))])),
        want: Want::Status(Code::InvalidArgument, "data"),
    },
    Case {
        name: "Diff with olds holding a malformed secret",
        rpc: || {
            Rpc::Diff(
                with_value(val(vec![(SIG_KEY, s(SECRET_SIG))])),
                with_value(s(CANARY)),
            )
        },
        want: Want::Status(Code::InvalidArgument, "data[\"K\"]"),
    },
    // Read hands the engine's stored state back as the live state and Delete needs nothing from it: neither
    // decodes the state, so only the resource type is checked.
    Case {
        name: "Read of another type",
        rpc: || {
            Rpc::Read(
                "urn:pulumi:dev::p::sophia:index:Nope::x",
                with_value(s(CANARY)),
            )
        },
        want: Want::Status(Code::InvalidArgument, "sophia:index:Nope"),
    },
    Case {
        name: "Delete of another type",
        rpc: || {
            Rpc::Delete(
                "urn:pulumi:dev::p::sophia:index:Nope::x",
                with_value(s(CANARY)),
            )
        },
        want: Want::Status(Code::InvalidArgument, "sophia:index:Nope"),
    },
    Case {
        name: "Update with olds holding a value with no kind",
        rpc: || Rpc::Update(with_value(Value { kind: None }), with_value(s(CANARY))),
        want: Want::Status(Code::InvalidArgument, "data[\"K\"]"),
    },
    // Other methods.
    Case {
        name: "GetSchema of an unknown subpackage",
        rpc: || Rpc::Schema("nope"),
        want: Want::Status(Code::InvalidArgument, "subpackage \"nope\""),
    },
    Case {
        name: "Invoke of any function",
        rpc: || Rpc::Invoke,
        want: Want::Status(Code::Unimplemented, "Invoke"),
    },
];

/// How many cases this table holds (counted by the suite's size test).
pub const CASES_COUNT: usize = CASES.len();

fn check_req(urn: &str, ty: &str, news: Struct) -> pulumirpc::CheckRequest {
    pulumirpc::CheckRequest {
        urn: urn.into(),
        r#type: ty.into(),
        news: Some(news),
        ..Default::default()
    }
}

fn create_req(urn: &str, ty: &str, props: Struct, preview: bool) -> pulumirpc::CreateRequest {
    pulumirpc::CreateRequest {
        urn: urn.into(),
        name: "api".into(),
        r#type: ty.into(),
        properties: Some(props),
        preview,
        ..Default::default()
    }
}

/// Makes the call; a successful `Check`/`CheckConfig` answers its failures, any other success none, and the debug
/// rendering of the whole answer comes back for the canary scan.
async fn call(
    c: &mut ResourceProviderClient<Channel>,
    rpc: Rpc,
) -> (Result<Vec<pulumirpc::CheckFailure>, tonic::Status>, String) {
    // A successful answer carries the inputs back (Check) or outputs, which the case then fails on; what a refusal
    // says is what must not hold the value.
    fn done<T>(
        r: Result<tonic::Response<T>, tonic::Status>,
    ) -> (Result<Vec<pulumirpc::CheckFailure>, tonic::Status>, String) {
        let text = r
            .as_ref()
            .err()
            .map(|e| format!("{e:?}"))
            .unwrap_or_default();
        (r.map(|_| Vec::new()), text)
    }
    fn failures(
        r: Result<tonic::Response<pulumirpc::CheckResponse>, tonic::Status>,
    ) -> (Result<Vec<pulumirpc::CheckFailure>, tonic::Status>, String) {
        let r = r.map(|resp| resp.into_inner());
        let text = match &r {
            Ok(resp) if !resp.failures.is_empty() => format!("{resp:?}"),
            Ok(resp) => format!("{:?}", resp.failures),
            Err(e) => format!("{e:?}"),
        };
        (r.map(|resp| resp.failures), text)
    }
    match rpc {
        Rpc::Check(news) => failures(c.check(check_req(URN, TYPE, news)).await),
        Rpc::CheckAs(urn, ty, news) => failures(c.check(check_req(urn, ty, news)).await),
        Rpc::CheckConfig(news) => failures(
            c.check_config(check_req(
                "urn:pulumi:dev::p::pulumi:providers:sophia::default",
                "",
                news,
            ))
            .await,
        ),
        Rpc::Configure(args) => done(
            c.configure(pulumirpc::ConfigureRequest {
                args: Some(args),
                accept_secrets: true,
                ..Default::default()
            })
            .await,
        ),
        Rpc::Create(props) => done(c.create(create_req(URN, TYPE, props, false)).await),
        Rpc::Preview(props) => done(c.create(create_req(URN, TYPE, props, true)).await),
        Rpc::CreateAs(urn, ty, props) => done(c.create(create_req(urn, ty, props, false)).await),
        Rpc::Diff(olds, news) => done(
            c.diff(pulumirpc::DiffRequest {
                id: "api".into(),
                urn: URN.into(),
                olds: Some(olds),
                news: Some(news),
                ..Default::default()
            })
            .await,
        ),
        Rpc::Update(olds, news) => done(
            c.update(pulumirpc::UpdateRequest {
                id: "api".into(),
                urn: URN.into(),
                olds: Some(olds),
                news: Some(news),
                ..Default::default()
            })
            .await,
        ),
        Rpc::Read(urn, props) => done(
            c.read(pulumirpc::ReadRequest {
                id: "api".into(),
                urn: urn.into(),
                properties: Some(props.clone()),
                inputs: Some(props),
                ..Default::default()
            })
            .await,
        ),
        Rpc::Delete(urn, props) => done(
            c.delete(pulumirpc::DeleteRequest {
                id: "api".into(),
                urn: urn.into(),
                properties: Some(props.clone()),
                old_inputs: Some(props),
                ..Default::default()
            })
            .await,
        ),
        Rpc::Schema(sub) => done(
            c.get_schema(pulumirpc::GetSchemaRequest {
                subpackage_name: sub.into(),
                ..Default::default()
            })
            .await,
        ),
        Rpc::Invoke => done(
            c.invoke(pulumirpc::InvokeRequest {
                tok: "sophia:index:nope".into(),
                ..Default::default()
            })
            .await,
        ),
    }
}

/// A provider on loopback, configured with a good key.
async fn configured() -> (
    ResourceProviderClient<Channel>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (mut c, stop) = super::provider::client().await;
    configure(&mut c).await;
    (c, stop)
}

async fn configure(c: &mut ResourceProviderClient<Channel>) {
    c.configure(pulumirpc::ConfigureRequest {
        args: Some(obj(vec![("hashKey", wire::secret(s(KEY)))])),
        accept_secrets: true,
        ..Default::default()
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn bad_input_grpc_cases() {
    let (mut c, _stop) = configured().await;
    let mut failures = Vec::new();
    for case in CASES {
        let (got, text) = call(&mut c, (case.rpc)()).await;
        let what = format!("case `{}`", case.name);
        if let Some(form) = find_canary(&text, CANARY) {
            failures.push(format!(
                "{what}: the answer holds the input value ({form}): {text}"
            ));
        }
        match (&case.want, got) {
            (Want::Status(code, message), Err(status)) => {
                if status.code() != *code || !status.message().contains(message) {
                    failures.push(format!(
                        "{what}: got {:?} {:?}, want {code:?} holding {message:?}",
                        status.code(),
                        status.message()
                    ));
                }
            }
            (Want::Failure(property, reason), Ok(found)) => {
                if !found
                    .iter()
                    .any(|f| f.property == *property && f.reason.contains(reason))
                {
                    failures.push(format!(
                        "{what}: failures {found:?}, want one on {property:?} holding {reason:?}"
                    ));
                }
            }
            (_, got) => failures.push(format!("{what}: got {text}: {got:?}")),
        }
        // A refused call changes nothing: the provider still answers, configured with the good key.
        configure(&mut c).await;
        let info = c.get_plugin_info(()).await;
        assert!(
            info.is_ok(),
            "{what}: the provider stopped answering: {info:?}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A message nested past protobuf's decoding limit is refused as a whole, as a gRPC error, and the provider lives on.
#[tokio::test]
async fn bad_input_grpc_nesting_past_the_decoder_limit_is_an_error() {
    let (mut c, _stop) = configured().await;
    let (got, text) = call(&mut c, Rpc::Check(with_value(deep(150)))).await;
    assert_no_canary("deep nesting", &text, CANARY);
    let status = got.expect_err("a message nested 150 deep decodes");
    assert!(
        matches!(status.code(), Code::Internal | Code::InvalidArgument),
        "{status:?}"
    );
    assert!(c.get_plugin_info(()).await.is_ok());
}
