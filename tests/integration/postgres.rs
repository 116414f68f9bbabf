//! A throwaway PostgreSQL server for tests: Debian's `initdb`/`pg_ctl` into a temporary directory, listening on
//! loopback on a free port with SCRAM password authentication for TCP, stopped when dropped. As root it runs the
//! server as the `postgres` OS user (`initdb` refuses root). Without PostgreSQL binaries, [`PgServer::start`]
//! returns `None` with a message (the test is skipped), except under `CI`, where that is a failure.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

/// The superuser the harness creates (tests create their own roles with it).
pub const SUPERUSER: &str = "sophia_test_admin";
const SUPERUSER_PASSWORD: &str = "harness-superuser-pw";
/// Bound on `pg_ctl start` and `stop` waiting for the server.
const PG_CTL_WAIT_SECONDS: &str = "30";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A running server; dropping it stops the server and removes its directory.
pub struct PgServer {
    dir: tempfile::TempDir,
    bindir: PathBuf,
    port: u16,
    as_postgres_user: bool,
    running: bool,
}

/// Where PostgreSQL's server binaries are: `pg_config --bindir` when it has `initdb`, else the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn server_bindir() -> Option<PathBuf> {
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|d| d.join("initdb").is_file()) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding a free loopback port")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl PgServer {
    /// Starts a server, or returns `None` (after saying why) when PostgreSQL is not installed outside CI.
    pub fn start() -> Option<PgServer> {
        let Some(bindir) = server_bindir() else {
            let why = "PostgreSQL server binaries (initdb, pg_ctl) not found via `pg_config --bindir` or \
                       /usr/lib/postgresql/*/bin: install Debian's `postgresql` package";
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("skipping: {why}");
            return None;
        };
        let as_postgres_user = is_root();
        // The postgres user must reach the directory: under /tmp, not a TMPDIR inside root's home.
        let dir = if as_postgres_user {
            tempfile::Builder::new()
                .prefix("sophia-pg-")
                .tempdir_in("/tmp")
        } else {
            tempfile::Builder::new().prefix("sophia-pg-").tempdir()
        }
        .expect("a temporary directory");
        let server = PgServer {
            dir,
            bindir,
            port: 0,
            as_postgres_user,
            running: false,
        };
        std::fs::write(server.pwfile(), SUPERUSER_PASSWORD).unwrap();
        if as_postgres_user {
            let out = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(server.dir.path())
                .output()
                .expect("running chown");
            assert!(
                out.status.success(),
                "chown to the postgres user (does it exist?): {}",
                text(&out.stderr)
            );
        }
        let out = server.pg(
            "initdb",
            &[
                "-D".as_ref(),
                server.data().as_os_str(),
                "-U".as_ref(),
                SUPERUSER.as_ref(),
                "--pwfile".as_ref(),
                server.pwfile().as_os_str(),
                "--auth-local=scram-sha-256".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
                "--no-instructions".as_ref(),
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let mut server = server;
        // Another process can take the free port between choosing and binding it: try a few.
        for attempt in 1..=3 {
            server.port = free_port();
            let options = format!(
                "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} \
                 -c shared_buffers=8MB -c max_connections=20 -c log_statement=all -c fsync=off",
                server.port,
                server.dir.path().display()
            );
            let out = server.pg(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    server.data().as_os_str(),
                    "-l".as_ref(),
                    server.log_path().as_os_str(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    PG_CTL_WAIT_SECONDS.as_ref(),
                    "-o".as_ref(),
                    options.as_ref(),
                    "start".as_ref(),
                ],
            );
            if out.status.success() {
                server.running = true;
                return Some(server);
            }
            let log = server.log();
            assert!(
                attempt < 3 && log.contains("could not bind"),
                "pg_ctl start: {}{}\n{log}",
                text(&out.stdout),
                text(&out.stderr)
            );
        }
        unreachable!("the loop returns or fails")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn pwfile(&self) -> PathBuf {
        self.dir.path().join("superuser-password")
    }
    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The server's log (every statement is logged, so tests can scan it for secrets).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs one of the server binaries, as the `postgres` user when running as root.
    fn pg(&self, program: &str, args: &[&std::ffi::OsStr]) -> Output {
        let program = self.bindir.join(program);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        cmd.args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", program.display()))
    }

    /// Stops the server (fast: it is thrown away), waiting a bounded time.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        self.running = false;
        let data = self.data();
        let out = self.pg(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "-t".as_ref(),
                PG_CTL_WAIT_SECONDS.as_ref(),
                "stop".as_ref(),
            ],
        );
        if !out.status.success() {
            eprintln!("pg_ctl stop: {}", text(&out.stderr));
        }
    }

    /// Logs in as `user` to `database` over TCP: `Ok` or the failure (with its SQLSTATE when the server sent one).
    pub fn login(&self, database: &str, user: &str, password: &str) -> Result<(), LoginError> {
        sophia::cloud::block_on(async {
            let mut config = tokio_postgres::Config::new();
            config
                .host("127.0.0.1")
                .port(self.port)
                .dbname(database)
                .user(user)
                .password(password)
                .connect_timeout(CONNECT_TIMEOUT);
            let connecting =
                tokio::time::timeout(CONNECT_TIMEOUT, config.connect(tokio_postgres::NoTls));
            let (client, connection) = connecting
                .await
                .map_err(|_| LoginError::Other("connect timed out".into()))?
                .map_err(|e| match e.as_db_error() {
                    Some(db) => LoginError::Server {
                        code: db.code().code().to_owned(),
                        message: db.message().to_owned(),
                    },
                    None => LoginError::Other(e.to_string()),
                })?;
            tokio::spawn(connection);
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| LoginError::Other(e.to_string()))?;
            Ok(())
        })
        .expect("a runtime")
    }

    /// Panics unless `user` logs in with `password`.
    pub fn assert_logs_in(&self, database: &str, user: &str, password: &str) {
        if let Err(e) = self.login(database, user, password) {
            panic!("{user} should log in to {database}: {e:?}");
        }
    }

    /// Panics unless the server refuses `user`'s `password` (a wrong password, SQLSTATE 28P01: not some other
    /// failure, which would prove nothing).
    pub fn assert_password_refused(&self, database: &str, user: &str, password: &str) {
        match self.login(database, user, password) {
            Err(LoginError::Server { code, .. }) if code == "28P01" => {}
            other => panic!("{user}'s old password should be refused, got {other:?}"),
        }
    }

    /// Runs SQL as the superuser.
    pub fn execute(&self, sql: &str) {
        let port = self.port;
        sophia::cloud::block_on(async move {
            let mut config = tokio_postgres::Config::new();
            config
                .host("127.0.0.1")
                .port(port)
                .dbname("postgres")
                .user(SUPERUSER)
                .password(SUPERUSER_PASSWORD)
                .connect_timeout(CONNECT_TIMEOUT);
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .expect("superuser login");
            tokio::spawn(connection);
            client
                .batch_execute(sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
        })
        .expect("a runtime");
    }
}

/// Why a login failed.
#[derive(Debug)]
pub enum LoginError {
    /// The server refused, with its SQLSTATE.
    Server {
        /// SQLSTATE (`28P01`: wrong password).
        code: String,
        /// Its message.
        #[allow(dead_code)]
        message: String,
    },
    /// Anything else (no server, timeout).
    Other(#[allow(dead_code)] String),
}

impl std::fmt::Display for LoginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}
