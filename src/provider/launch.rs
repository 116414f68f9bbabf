//! The launch contract Pulumi's engine expects of a provider plugin: bind `127.0.0.1:0`, print the port on the first
//! stdout line and flush before anything slow, accept `--logtostderr`, `-v=N`, `--tracing X` and unknown flags, take
//! the engine address as the last argument, and stop gracefully on SIGTERM/SIGINT. Also the server itself
//! ([`serve_on`]: nodelay sockets, stream limits, decode errors relabelled) and an in-process launcher for tests and
//! benchmarks ([`spawn_local`]).

use std::io::Write;
use std::net::SocketAddr;

use super::SophiaProvider;
use super::error::ServeError;

/// What the engine passes on the command line. Parsing never fails: unknown flags are ignored, as Pulumi expects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LaunchArgs {
    /// The engine's gRPC address (the last positional argument), if given.
    pub engine_address: Option<String>,
    /// `-v=N` (glog verbosity).
    pub verbosity: u8,
    /// `--tracing X`, accepted and unused.
    pub tracing: Option<String>,
}

impl LaunchArgs {
    /// Parses Pulumi's plugin arguments (without the program name).
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Self {
        let mut out = LaunchArgs::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) {
                let (name, value) = match flag.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_owned())),
                    None => (flag, None),
                };
                match name {
                    "v" => {
                        out.verbosity = value.and_then(|v| v.parse().ok()).unwrap_or(out.verbosity)
                    }
                    // `--tracing X` takes the next argument unless given as `--tracing=X`.
                    "tracing" => out.tracing = value.or_else(|| args.next()),
                    _ => {}
                }
            } else {
                out.engine_address = Some(arg);
            }
        }
        out
    }
}

/// Serves on an already-bound listener until `shutdown` resolves.
pub(crate) async fn serve_on(
    provider: SophiaProvider,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    // Nodelay on every accepted socket: with Nagle's algorithm a response split over several writes waits for the
    // client's delayed ACK (~40 ms). `Server::tcp_nodelay` only applies to listeners tonic binds itself.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    tonic::transport::Server::builder()
        // The engine (and our tests) may run 1,000 operations at once over one connection; hyper's default cap
        // of 200 streams would queue the rest.
        .max_concurrent_streams(Some(4096))
        .layer(tower::util::MapResponseLayer::new(relabel_decode_errors))
        .add_service(provider.server())
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(ServeError::Transport)
}

/// tonic answers a request body that is not valid protobuf with `INTERNAL` ("failed to decode Protobuf message"),
/// before any handler runs. Pulumi's engine reads `INTERNAL` from Create/Update as "the resource's state is unknown";
/// a request it cannot decode is the caller's error, so it becomes `INVALID_ARGUMENT`, message unchanged.
fn relabel_decode_errors(
    mut response: tonic::codegen::http::Response<tonic::body::Body>,
) -> tonic::codegen::http::Response<tonic::body::Body> {
    let headers = response.headers();
    let decode_error = headers.get("grpc-status").is_some_and(|s| s == "13")
        && headers.get("grpc-message").is_some_and(|m| {
            let m = m.as_bytes();
            m.starts_with(b"failed to decode Protobuf message")
                || m.starts_with(b"failed%20to%20decode%20Protobuf")
        });
    if decode_error {
        let code = tonic::codegen::http::HeaderValue::from_static("3");
        response.headers_mut().insert("grpc-status", code);
    }
    response
}

/// The launch contract, for `main`: bind, print the port, serve until SIGTERM/SIGINT.
pub fn serve(args: LaunchArgs) -> Result<(), ServeError> {
    // Bind and announce before building the runtime, so the engine learns the port as early as possible.
    let addr = "127.0.0.1:0";
    let listener = std::net::TcpListener::bind(addr).map_err(|source| ServeError::Bind {
        addr: addr.into(),
        source,
    })?;
    let port = listener.local_addr().map_err(ServeError::LocalAddr)?.port();
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{port}")
        .and_then(|()| stdout.flush())
        .map_err(ServeError::AnnouncePort)?;
    drop(stdout);
    // tokio requires a non-blocking socket; failing to switch it is a socket error, not a binding one.
    listener
        .set_nonblocking(true)
        .map_err(ServeError::AdoptListener)?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(async move {
        let listener =
            tokio::net::TcpListener::from_std(listener).map_err(ServeError::AdoptListener)?;
        let provider = SophiaProvider::new(args.verbosity);
        provider.set_engine_address(args.engine_address);
        serve_on(provider, listener, shutdown_signal()).await
    })
}

/// Resolves on SIGTERM or SIGINT (the engine sends SIGTERM, or SIGINT, when it is done with a plugin).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            // Without signal handlers the default action (exit) still applies.
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Binds `127.0.0.1:0` and serves `provider` in the background: for tests and benchmarks.
pub async fn spawn_local(
    provider: SophiaProvider,
) -> std::io::Result<(SocketAddr, tokio::sync::oneshot::Sender<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve_on(provider, listener, async move {
        let _ = stopped.await;
    }));
    Ok((addr, stop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_args_take_pulumi_flags_and_the_last_positional() {
        let args = |a: &[&str]| LaunchArgs::parse(a.iter().map(|s| s.to_string()));
        let parsed = args(&[
            "--logtostderr",
            "-v=9",
            "--tracing",
            "http://t",
            "--unknown-flag",
            "127.0.0.1:5555",
        ]);
        assert_eq!(parsed.engine_address.as_deref(), Some("127.0.0.1:5555"));
        assert_eq!(parsed.verbosity, 9);
        assert_eq!(parsed.tracing.as_deref(), Some("http://t"));
        assert_eq!(args(&[]), LaunchArgs::default());
    }
}
