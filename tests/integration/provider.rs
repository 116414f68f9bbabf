//! The provider over loopback gRPC with tonic's generated client: the engine's sequence as data, bad input,
//! a 10 MB Secret, 1,000 concurrent calls, and the binary's launch contract (port on stdout, SIGTERM).

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};

use prost_types::value::Kind;
use sophia::proto::pulumirpc::{
    self, diff_response::DiffChanges, property_diff::Kind as DiffKind,
    resource_provider_client::ResourceProviderClient,
};
use sophia::provider::{MAX_MESSAGE_BYTES, SophiaProvider, spawn_local, wire};
use tonic::transport::Channel;

const KEY: &str = "integration-hash-key-0123456789";
const URN: &str = "urn:pulumi:dev::sophia-secrets::sophia:index:SecretHash::api";
const TYPE: &str = "sophia:index:SecretHash";

fn s(v: &str) -> prost_types::Value {
    wire::string(v)
}

fn obj(fields: &[(&str, prost_types::Value)]) -> prost_types::Struct {
    prost_types::Struct {
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

fn val(s: prost_types::Struct) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::StructValue(s)),
    }
}

/// `{data: secret({k: v...}), scope}` as the engine sends it.
fn inputs(data: &[(&str, &str)], scope: &str) -> prost_types::Struct {
    let map = obj(&data.iter().map(|(k, v)| (*k, s(v))).collect::<Vec<_>>());
    obj(&[("data", wire::secret(val(map))), ("scope", s(scope))])
}

fn str_field(st: &prost_types::Struct, name: &str) -> String {
    match &st.fields[name].kind {
        Some(Kind::StringValue(v)) => v.clone(),
        other => panic!("{name} is not a string: {other:?}"),
    }
}

/// A provider on loopback (unconfigured), with the message limits Pulumi's engine uses.
pub(super) async fn client() -> (
    ResourceProviderClient<Channel>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (addr, stop) = spawn_local(SophiaProvider::new(0)).await.unwrap();
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = ResourceProviderClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    (client, stop)
}

async fn configured() -> (
    ResourceProviderClient<Channel>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (mut c, stop) = client().await;
    let args = obj(&[("hashKey", wire::secret(s(KEY)))]);
    let resp = c
        .configure(pulumirpc::ConfigureRequest {
            args: Some(args),
            accept_secrets: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(resp.accept_secrets && resp.supports_preview && resp.accept_resources);
    (c, stop)
}

fn create_req(props: prost_types::Struct, preview: bool) -> pulumirpc::CreateRequest {
    pulumirpc::CreateRequest {
        urn: URN.into(),
        name: "api".into(),
        r#type: TYPE.into(),
        properties: Some(props),
        preview,
        ..Default::default()
    }
}

fn diff_req(olds: &prost_types::Struct, news: prost_types::Struct) -> pulumirpc::DiffRequest {
    pulumirpc::DiffRequest {
        id: "api".into(),
        urn: URN.into(),
        olds: Some(olds.clone()),
        news: Some(news),
        ..Default::default()
    }
}

fn detailed(resp: &pulumirpc::DiffResponse) -> BTreeMap<String, DiffKind> {
    resp.detailed_diff
        .iter()
        .map(|(k, v)| (k.clone(), DiffKind::try_from(v.kind).unwrap()))
        .collect()
}

/// One step of the lifecycle as data: the new data, and the keys the diff must name.
struct Step {
    data: &'static [(&'static str, &'static str)],
    expect: &'static [(&'static str, DiffKind)],
}

#[tokio::test]
async fn lifecycle_as_data() {
    let (mut c, _stop) = configured().await;
    let base: &[(&str, &str)] = &[
        ("DATABASE_URL", "postgres://db"),
        ("OPENAI_API_KEY", "sk-1"),
    ];
    let created = c
        .create(create_req(inputs(base, "sophia/api"), false))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.id, "api");
    let mut state = created.properties.unwrap();
    let steps = [
        Step {
            data: &[
                ("OPENAI_API_KEY", "sk-1"),
                ("DATABASE_URL", "postgres://db"),
            ],
            expect: &[],
        },
        Step {
            data: &[
                ("DATABASE_URL", "postgres://db"),
                ("OPENAI_API_KEY", "sk-2"),
            ],
            expect: &[("keyHashes[\"OPENAI_API_KEY\"]", DiffKind::Update)],
        },
        Step {
            data: &[
                ("DATABASE_URL", "postgres://db"),
                ("OPENAI_API_KEY", "sk-2"),
                ("SERPAPI_KEY", "s"),
            ],
            expect: &[("keyHashes[\"SERPAPI_KEY\"]", DiffKind::Add)],
        },
        Step {
            data: &[("OPENAI_API_KEY", "sk-2"), ("SERPAPI_KEY", "s")],
            expect: &[("keyHashes[\"DATABASE_URL\"]", DiffKind::Delete)],
        },
    ];
    for (i, step) in steps.iter().enumerate() {
        let news = inputs(step.data, "sophia/api");
        let d = c
            .diff(diff_req(&state, news.clone()))
            .await
            .unwrap()
            .into_inner();
        let want: BTreeMap<String, DiffKind> = step
            .expect
            .iter()
            .map(|(p, k)| (p.to_string(), *k))
            .collect();
        assert_eq!(detailed(&d), want, "step {i}");
        assert!(d.replaces.is_empty() && !d.delete_before_replace);
        let changes = if want.is_empty() {
            DiffChanges::DiffNone
        } else {
            DiffChanges::DiffSome
        };
        assert_eq!(d.changes, changes as i32, "step {i}");
        if !want.is_empty() {
            let update = pulumirpc::UpdateRequest {
                id: "api".into(),
                urn: URN.into(),
                olds: Some(state.clone()),
                news: Some(news),
                ..Default::default()
            };
            state = c
                .update(update)
                .await
                .unwrap()
                .into_inner()
                .properties
                .unwrap();
            let again = c
                .diff(diff_req(&state, inputs(step.data, "sophia/api")))
                .await
                .unwrap()
                .into_inner();
            assert_eq!(
                again.changes,
                DiffChanges::DiffNone as i32,
                "after update {i}"
            );
        }
    }
    // The state never held a value.
    let bytes = prost::Message::encode_to_vec(&state);
    for secret in ["sk-1", "sk-2", "postgres://db"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in state"
        );
    }
}

#[tokio::test]
async fn bad_input_gets_clear_errors_and_the_provider_keeps_serving() {
    let (mut c, _stop) = configured().await;
    let check = |news: prost_types::Struct| pulumirpc::CheckRequest {
        urn: URN.into(),
        news: Some(news),
        ..Default::default()
    };
    let not_map = obj(&[(
        "data",
        prost_types::Value {
            kind: Some(Kind::NumberValue(1.0)),
        },
    )]);
    let resp = c.check(check(not_map)).await.unwrap().into_inner();
    assert_eq!(resp.failures[0].property, "data");
    let no_kind = obj(&[(
        "data",
        val(obj(&[("K", prost_types::Value { kind: None })])),
    )]);
    let resp = c.check(check(no_kind.clone())).await.unwrap().into_inner();
    assert_eq!(resp.failures[0].property, "data[\"K\"]");
    let err = c.create(create_req(no_kind, false)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("data[\"K\"]"), "{}", err.message());
    let unknown_scope = obj(&[("data", val(obj(&[]))), ("scope", s(wire::UNKNOWN))]);
    let err = c
        .create(create_req(unknown_scope.clone(), false))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let preview = c
        .create(create_req(unknown_scope, true))
        .await
        .unwrap()
        .into_inner()
        .properties
        .unwrap();
    assert_eq!(str_field(&preview, "hash"), wire::UNKNOWN);
    let short = obj(&[("hashKey", s("too-short"))]);
    let err = c
        .configure(pulumirpc::ConfigureRequest {
            args: Some(short),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(!err.message().contains("too-short") && err.message().contains("16 bytes"));
    let info = c.get_plugin_info(()).await.unwrap().into_inner();
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn a_ten_megabyte_secret_round_trips() {
    let (mut c, _stop) = configured().await;
    let big = "v".repeat(10 * 1024 * 1024);
    let out = c
        .create(create_req(inputs(&[("BIG", &big)], ""), false))
        .await
        .unwrap()
        .into_inner();
    let props = out.properties.unwrap();
    assert!(str_field(&props, "hash").starts_with("hmac-sha256:"));
    assert!(
        prost::Message::encoded_len(&props) < 1024,
        "outputs do not carry the value"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_calls_all_answer() {
    let (c, _stop) = configured().await;
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let mut c = c.clone();
        tasks.push(tokio::spawn(async move {
            let value = format!("value-{i}");
            let out = c
                .create(create_req(inputs(&[("K", &value)], "s"), i % 2 == 0))
                .await?;
            Ok::<_, tonic::Status>(str_field(&out.into_inner().properties.unwrap(), "hash"))
        }));
    }
    let mut hashes = std::collections::BTreeSet::new();
    for t in tasks {
        hashes.insert(t.await.unwrap().unwrap());
    }
    assert_eq!(hashes.len(), 1000, "every call answered with its own hash");
}

#[test]
fn the_binary_prints_its_port_first_and_stops_on_sigterm() {
    let bin = super::util::bin("pulumi-resource-sophia");
    let mut child = Command::new(bin)
        .args([
            "--logtostderr",
            "-v=9",
            "--tracing",
            "http://127.0.0.1:1",
            "--what-is-this",
            "127.0.0.1:1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("first line is the port");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut c = ResourceProviderClient::new(channel);
        let hs = c
            .handshake(pulumirpc::ProviderHandshakeRequest::default())
            .await
            .unwrap()
            .into_inner();
        assert!(hs.accept_secrets && hs.accept_resources);
        let schema = c
            .get_schema(pulumirpc::GetSchemaRequest::default())
            .await
            .unwrap()
            .into_inner()
            .schema;
        assert!(schema.contains("sophia:index:SecretHash"));
        let err = c
            .invoke(pulumirpc::InvokeRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unimplemented);
    });
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "graceful exit after SIGTERM: {:?}",
        out.status
    );
}

/// Regression: accepted sockets had Nagle's algorithm on, so a response written in parts waited for the client's
/// delayed ACK (~40 ms per call; 10,000 sequential Creates took minutes). 200 sequential calls must take well under
/// 200 × 40 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_calls_do_not_wait_for_delayed_acks() {
    let (mut c, _stop) = configured().await;
    let started = std::time::Instant::now();
    for _ in 0..200 {
        c.create(create_req(inputs(&[("A", "1"), ("B", "2")], "s"), false))
            .await
            .unwrap();
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < std::time::Duration::from_secs(4),
        "200 sequential Creates took {elapsed:?}"
    );
}
