//! `sophia-cloud-double --token TOKEN [--port N] [--org ORG] [--seed DIR]`: the Pulumi Cloud API double
//! ([`sophia::cloud::double`]) as a process on loopback, for Pulumi's own clients. Prints `http://127.0.0.1:PORT` on
//! stdout once listening, serves until killed. Every failure to start (bad arguments, a port in use, an unreadable
//! seed directory) is the caller's to fix: exit 1.

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut port, mut token, mut org, mut seed) = (0u16, None, "sophia".to_owned(), None);
    while let Some(a) = args.next() {
        let v = args.next();
        match (a.as_str(), v) {
            ("--port", Some(v)) => match v.parse() {
                Ok(p) => port = p,
                Err(_) => {
                    eprintln!("sophia-cloud-double: --port {v:?} is not a port number");
                    return std::process::ExitCode::from(1);
                }
            },
            ("--token", Some(v)) => token = Some(v),
            ("--org", Some(v)) => org = v,
            ("--seed", Some(v)) => seed = Some(std::path::PathBuf::from(v)),
            _ => {
                eprintln!(
                    "usage: sophia-cloud-double --token TOKEN [--port N] [--org ORG] [--seed DIR]"
                );
                return std::process::ExitCode::from(1);
            }
        }
    }
    let Some(token) = token else {
        eprintln!("sophia-cloud-double: --token is required");
        return std::process::ExitCode::from(1);
    };
    let double = match sophia::cloud::double::Double::start(port, &token, &org) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("sophia-cloud-double: listening: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    if let Some(dir) = seed
        && let Err(e) = double.seed_dir(&org, &dir)
    {
        eprintln!("sophia-cloud-double: seeding from {}: {e}", dir.display());
        return std::process::ExitCode::from(1);
    }
    println!("{}", double.url());
    loop {
        std::thread::park();
    }
}
