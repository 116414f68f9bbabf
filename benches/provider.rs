//! Provider benchmarks.
//!
//! `cargo bench --bench provider` runs criterion: the service called in-process (no network) and one Diff round
//! trip over loopback gRPC.
//!
//! `SOPHIA_BENCH_LATENCY=1 cargo bench --bench provider` instead runs the latency harness whose figures go in
//! `BENCHMARKS.md`: exec → port printed for the built binary (and for Pulumi's Python dynamic provider,
//! `python -u -m pulumi.dynamic`, as Pulumi's `pulumi-resource-pulumi-python` runs it, when `.venv` exists), Diff and Create p50/p99 over 10,000 sequential loopback calls,
//! and throughput with 1,000 calls in flight.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use prost_types::value::Kind;
use sophia::proto::pulumirpc::{
    self, resource_provider_client::ResourceProviderClient,
    resource_provider_server::ResourceProvider,
};
use sophia::provider::{SophiaProvider, spawn_local, wire};
use tonic::Request;
use tonic::transport::Channel;

const URN: &str = "urn:pulumi:dev::sophia-secrets::sophia:index:SecretHash::api";

fn val(fields: Vec<(String, prost_types::Value)>) -> prost_types::Value {
    prost_types::Value {
        kind: Some(Kind::StructValue(prost_types::Struct {
            fields: fields.into_iter().collect(),
        })),
    }
}

/// A typical service: eight secret env vars of realistic sizes.
fn inputs(rotated: bool) -> prost_types::Struct {
    let data = (0..8)
        .map(|i| {
            let v = if rotated && i == 3 {
                "rotated".to_owned()
            } else {
                format!("secret-value-{i}-{}", "x".repeat(40))
            };
            (format!("KEY_{i}"), wire::string(v))
        })
        .collect();
    let fields = [
        ("data".to_owned(), wire::secret(val(data))),
        ("scope".to_owned(), wire::string("sophia/api")),
    ];
    prost_types::Struct {
        fields: fields.into_iter().collect(),
    }
}

fn configure_req() -> pulumirpc::ConfigureRequest {
    let args = [(
        "hashKey".to_owned(),
        wire::secret(wire::string("bench-hash-key-0123456789abcdef")),
    )];
    pulumirpc::ConfigureRequest {
        args: Some(prost_types::Struct {
            fields: args.into_iter().collect(),
        }),
        ..Default::default()
    }
}

fn create_req() -> pulumirpc::CreateRequest {
    pulumirpc::CreateRequest {
        urn: URN.into(),
        name: "api".into(),
        properties: Some(inputs(false)),
        ..Default::default()
    }
}

fn diff_req(olds: &prost_types::Struct) -> pulumirpc::DiffRequest {
    pulumirpc::DiffRequest {
        id: "api".into(),
        urn: URN.into(),
        olds: Some(olds.clone()),
        news: Some(inputs(true)),
        ..Default::default()
    }
}

fn in_process(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = SophiaProvider::new(0);
    rt.block_on(provider.configure(Request::new(configure_req())))
        .unwrap();
    let olds = rt
        .block_on(provider.create(Request::new(create_req())))
        .unwrap()
        .into_inner()
        .properties
        .unwrap();
    let check_req = pulumirpc::CheckRequest {
        urn: URN.into(),
        news: Some(inputs(false)),
        ..Default::default()
    };

    let mut group = c.benchmark_group("provider/in-process");
    group.bench_function("check", |b| {
        b.iter(|| {
            rt.block_on(provider.check(Request::new(check_req.clone())))
                .unwrap()
        })
    });
    group.bench_function("create", |b| {
        b.iter(|| {
            rt.block_on(provider.create(Request::new(create_req())))
                .unwrap()
        })
    });
    group.bench_function("diff", |b| {
        b.iter(|| {
            rt.block_on(provider.diff(Request::new(diff_req(&olds))))
                .unwrap()
        })
    });
    group.finish();
}

async fn loopback() -> (
    ResourceProviderClient<Channel>,
    prost_types::Struct,
    tokio::sync::oneshot::Sender<()>,
) {
    let (addr, stop) = spawn_local(SophiaProvider::new(0)).await.unwrap();
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = ResourceProviderClient::new(channel);
    client.configure(configure_req()).await.unwrap();
    let olds = client
        .create(create_req())
        .await
        .unwrap()
        .into_inner()
        .properties
        .unwrap();
    (client, olds, stop)
}

fn over_loopback(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (client, olds, _stop) = rt.block_on(loopback());
    c.bench_function("provider/loopback/diff", |b| {
        b.iter(|| {
            let mut client = client.clone();
            rt.block_on(client.diff(diff_req(&olds))).unwrap()
        })
    });
}

criterion_group!(benches, in_process, over_loopback);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name}: n={} p50={:?} p99={:?} min={:?} max={:?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples[0],
        samples[samples.len() - 1]
    );
}

/// Time from exec to the port line on stdout, `runs` times.
fn startup(name: &str, program: &str, args: &[&str], runs: usize) {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let mut child = match Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(err) => {
                println!("{name}: not run ({err})");
                return;
            }
        };
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        samples.push(started.elapsed());
        assert!(
            line.trim().parse::<u16>().is_ok(),
            "{name}: first line {line:?} is not a port"
        );
        let _ = child.kill();
        let _ = child.wait();
    }
    report(name, samples);
}

fn latency_harness() {
    let bin = env!("CARGO_BIN_EXE_pulumi-resource-sophia");
    startup(
        "startup/pulumi-resource-sophia (exec to port)",
        bin,
        &["--logtostderr", "-v=1", "127.0.0.1:1"],
        100,
    );
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    if std::path::Path::new(python).exists() {
        startup(
            "startup/python -u -m pulumi.dynamic (exec to port)",
            python,
            &["-u", "-m", "pulumi.dynamic", "127.0.0.1:1"],
            20,
        );
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (mut client, olds, _stop) = loopback().await;
        for (name, create) in [("loopback/diff", false), ("loopback/create", true)] {
            for _ in 0..500 {
                client.diff(diff_req(&olds)).await.unwrap(); // warm-up
            }
            let mut samples = Vec::with_capacity(10_000);
            for _ in 0..10_000 {
                let started = Instant::now();
                if create {
                    client.create(create_req()).await.unwrap();
                } else {
                    client.diff(diff_req(&olds)).await.unwrap();
                }
                samples.push(started.elapsed());
            }
            report(name, samples);
        }

        // Throughput: 10,000 Diffs with 1,000 in flight at any time, over one HTTP/2 connection.
        let total = 10_000usize;
        let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(1000));
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(total);
        for _ in 0..total {
            let permit = in_flight.clone().acquire_owned().await.unwrap();
            let mut client = client.clone();
            let req = diff_req(&olds);
            tasks.push(tokio::spawn(async move {
                let resp = client.diff(req).await;
                drop(permit);
                resp.is_ok()
            }));
        }
        let mut ok = 0;
        for t in tasks {
            ok += usize::from(t.await.unwrap());
        }
        let elapsed = started.elapsed();
        println!(
            "loopback/diff throughput, 1,000 in flight: {ok}/{total} ok in {elapsed:?} = {:.0} calls/s",
            total as f64 / elapsed.as_secs_f64()
        );
    });
}

/// Under `cargo test --all-targets -- --test-threads=2` (the project's test command) a bench runs without `--bench`
/// and with libtest flags criterion rejects: run each operation once instead, so the bench stays compiled and working.
fn smoke() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = SophiaProvider::new(0);
    rt.block_on(provider.configure(Request::new(configure_req())))
        .unwrap();
    let olds = rt
        .block_on(provider.create(Request::new(create_req())))
        .unwrap()
        .into_inner()
        .properties
        .unwrap();
    let diff = rt
        .block_on(provider.diff(Request::new(diff_req(&olds))))
        .unwrap()
        .into_inner();
    assert_eq!(diff.detailed_diff.len(), 1, "one key changed");
    println!("provider bench: smoke run ok (use `cargo bench` to measure)");
}

fn main() {
    if std::env::var_os("SOPHIA_BENCH_LATENCY").is_some() {
        latency_harness();
        return;
    }
    if !std::env::args().any(|a| a == "--bench") {
        smoke();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
