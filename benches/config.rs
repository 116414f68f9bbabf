//! Stack configuration benchmarks: opening a passphrase stack with 200 `secure:` values (one key derivation, then
//! 200 AES-256-GCM decryptions) against the key derivation alone, which is nearly all of the cost.
//!
//! ```sh
//! cargo bench --bench config
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sophia::config::StackConfig;
use sophia::config::passphrase::{self, Crypter};
use sophia::secret::SecretString;

const PASS: &str = "bench-passphrase";
const VALUES: usize = 200;

/// A project directory holding `Pulumi.bench.yaml` with `VALUES` secure values (half top-level, half nested).
fn stack_with_secrets() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Pulumi.yaml"), "name: bench\n").unwrap();
    let (crypter, state) = Crypter::new_state(&SecretString::new(PASS));
    let mut text = format!("encryptionsalt: {state}\nconfig:\n");
    for i in 0..VALUES / 2 {
        text.push_str(&format!(
            "  bench:key-{i:03}:\n    secure: {}\n",
            crypter.encrypt(&format!("value-{i}"))
        ));
    }
    text.push_str("  bench:nested:\n");
    for i in 0..VALUES / 2 {
        text.push_str(&format!(
            "    k{i:03}:\n      secure: {}\n",
            crypter.encrypt(&format!("nested-{i}"))
        ));
    }
    std::fs::write(dir.path().join("Pulumi.bench.yaml"), text).unwrap();
    dir
}

fn config(c: &mut Criterion) {
    let dir = stack_with_secrets();
    let pass = SecretString::new(PASS);
    let mut group = c.benchmark_group("stack_config");
    group.sample_size(10);
    group.bench_function("load_200_secure_values", |b| {
        b.iter(|| {
            let config =
                StackConfig::load_with_passphrase(dir.path(), "bench", Some(&pass)).unwrap();
            assert_eq!(config.values.len(), VALUES / 2 + 1);
            black_box(config)
        })
    });
    group.bench_function("kdf_alone_ring", |b| {
        b.iter(|| black_box(passphrase::derive_key(&pass, b"8bytes!!")))
    });
    group.bench_function("kdf_alone_pbkdf2_crate", |b| {
        b.iter(|| {
            let mut key = [0u8; 32];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                PASS.as_bytes(),
                b"8bytes!!",
                passphrase::ITERATIONS,
                &mut key,
            );
            black_box(key)
        })
    });
    group.finish();

    // With the key derived, what the 200 decryptions and the YAML cost on their own.
    let key = passphrase::derive_key(&pass, b"8bytes!!");
    let crypter = Crypter::from_key(key);
    let ciphertexts: Vec<String> = (0..VALUES)
        .map(|i| crypter.encrypt(&format!("value-{i}")))
        .collect();
    c.bench_function("stack_config/decrypt_200_values_with_derived_key", |b| {
        b.iter(|| {
            ciphertexts
                .iter()
                .map(|ct| crypter.decrypt(ct).unwrap().len())
                .sum::<usize>()
        })
    });
}

criterion_group!(benches, config);
criterion_main!(benches);
