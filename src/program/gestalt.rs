//! The adapter over `pulumi_gestalt_rust` 0.0.12: the only module that touches gestalt. Entry point: [`execute`]
//! registers a [`super::Plan`]; [`Engine`], [`Resource`] and [`Deferred`] are the small surface it uses.
//!
//! gestalt speaks the engine's `ResourceMonitor` protocol: it registers the root `pulumi:pulumi:Stack`
//! (`RegisterResource`, `custom: false`), then each resource (`RegisterResource`, `custom: true`,
//! `acceptSecrets: true`, `provider` = `urn::id`), and at the end `RegisterResourceOutputs` on the stack. It never
//! calls `SupportsFeature`, `Invoke` (unless asked), `RegisterPackage` or the `Engine` service's `Log`. Its gaps, and
//! what this adapter does about each (each has a test):
//!
//! 1. **No dependencies.** It sends no `dependencies`/`propertyDependencies`/`parent`; the only option is
//!    `provider`. Work-around: [`Engine::register`]'s `after` list holds the registration back until those
//!    resources are registered, so the engine sees the Namespace before every Secret and Deployment in it, and the
//!    Secret before the Deployment that mounts it (creation order is right). Still different from a first-class
//!    SDK: the engine does not know the edges, so `pulumi destroy` and `--target` do not order or include
//!    dependents (destroy may delete the Namespace, which cascades in the cluster, alongside its Secrets and
//!    Deployments), and the dependency graph in the state is flat.
//! 2. **A nested unknown is sent as `null`** (only a top-level unknown becomes the unknown sentinel), and an unknown
//!    output read back arrives as the sentinel string. Work-around: [`Deferred::map`] turns a value that is unknown
//!    anywhere (gestalt's "nothing", the sentinel string, or [`Value::Unknown`] inside) into a whole-field unknown, so
//!    in preview the Deployment's entire `spec` is unknown rather than carrying a `null` annotation. Still different:
//!    a preview diff shows `spec` as computed instead of naming only the annotation.
//! 3. **Secretness of nested values is dropped**: only a top-level field's secret flag is sent. Work-around:
//!    [`to_pulumi`] hoists any nested secret to the whole top-level field (over-marks, never under-marks).
//! 4. **Integers are `i32`** (an `i64` that does not fit panics; outputs with larger whole numbers saturate).
//!    Work-around: [`to_pulumi`] sends whole numbers in `i32` range as integers and others as `f64` (exact to
//!    2^53); the catalog bounds replicas and ports.
//! 5. **Panics** on missing engine variables, an unreachable engine, a rejected registration, or a URN missing
//!    outside preview. Work-around: [`super::EngineEnv`] checks variables and reachability first with a clear
//!    message; every call into gestalt goes through one function that catches its panic and returns it as an
//!    [`EngineError`] (exit 1), and [`raised_by_gestalt`] lets the program's panic hook stay quiet for those while
//!    reporting any other panic as a bug.
//! 6. Also: no `PULUMI_PARALLEL` (all registrations run concurrently), no assets/archives (hence
//!    `pulumiservice:api/esc:Environment` whose `yaml` is a string), no aliases, `protect`, `ignoreChanges`,
//!    `retainOnDelete`, component resources or `Engine.Log` messages, and `add_export` blocks until its value
//!    resolves (so all stack outputs go through one export, resolved concurrently).

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;

use futures::future::join_all;
use pulumi_gestalt_model::{Output, PulumiValue, PulumiValueContent, ResolvedOutput};
use pulumi_gestalt_rust::{
    CompositeOutput, Context, CustomResourceOptions, RegisterResourceRequest,
    ResourceRequestObjectField,
};

use super::{
    DEPLOYMENT_TYPE, ESC_ENVIRONMENT_TYPE, KUBERNETES_PROVIDER, NAMESPACE_TYPE, Plan,
    SECRET_HASH_TYPE, SECRET_TYPE, SOPHIA_PROVIDER,
};
use crate::k8s::Provenance;
use crate::k8s::objects::deployment_inputs;
use crate::provider::secret_hash::PROVENANCE;
use crate::value::Value;

/// Pulumi's wire sentinel for an unknown value.
pub const UNKNOWN_SENTINEL: &str = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/// Version requested for our provider plugin.
pub const SOPHIA_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Name of the single stack output holding per service `{fingerprint, keys}`.
pub const SERVICES_OUTPUT: &str = "services";

/// A top-level input field as gestalt sends it: whole-field secret and unknown flags, integers as `i32`.
///
/// Nested secrets make the whole field secret (gestalt drops nested secret flags); a nested unknown makes the whole
/// field unknown (gestalt would send it as `null`).
pub fn to_pulumi(value: &Value) -> PulumiValue {
    let (mut secret, mut unknown) = (false, false);
    let content = convert(value, &mut secret, &mut unknown);
    if unknown {
        return PulumiValue {
            content: PulumiValueContent::Nothing,
            secret,
            dependencies: Default::default(),
        };
    }
    PulumiValue {
        content,
        secret,
        dependencies: Default::default(),
    }
}

fn plain(content: PulumiValueContent) -> PulumiValue {
    PulumiValue {
        content,
        secret: false,
        dependencies: Default::default(),
    }
}

fn convert(value: &Value, secret: &mut bool, unknown: &mut bool) -> PulumiValueContent {
    match value {
        Value::Null => PulumiValueContent::None,
        Value::Bool(b) => PulumiValueContent::Boolean(*b),
        Value::Number(n) => match n.as_i64().and_then(|i| i32::try_from(i).ok()) {
            Some(i) => PulumiValueContent::Integer(i),
            None => PulumiValueContent::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) if s == UNKNOWN_SENTINEL => {
            *unknown = true;
            PulumiValueContent::Nothing
        }
        Value::String(s) => PulumiValueContent::String(s.clone()),
        Value::Array(items) => PulumiValueContent::Array(
            items
                .iter()
                .map(|v| plain(convert(v, secret, unknown)))
                .collect(),
        ),
        Value::Object(map) => PulumiValueContent::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), plain(convert(v, secret, unknown))))
                .collect(),
        ),
        Value::Secret(inner) => {
            *secret = true;
            convert(inner.expose(), secret, unknown)
        }
        Value::Unknown => {
            *unknown = true;
            PulumiValueContent::Nothing
        }
    }
}

/// A value read back from the engine as our [`Value`]: gestalt's "nothing" and the unknown sentinel become
/// [`Value::Unknown`], secret flags become [`Value::Secret`].
pub fn from_pulumi(value: &PulumiValue) -> Value {
    let inner = match &value.content {
        PulumiValueContent::Nothing => Value::Unknown,
        PulumiValueContent::None => Value::Null,
        PulumiValueContent::Boolean(b) => Value::Bool(*b),
        PulumiValueContent::Integer(i) => Value::Number((*i).into()),
        PulumiValueContent::Number(n) => serde_json::Number::from_f64(*n)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        PulumiValueContent::String(s) if s == UNKNOWN_SENTINEL => Value::Unknown,
        PulumiValueContent::String(s) => Value::String(s.clone()),
        PulumiValueContent::Array(items) => Value::Array(items.iter().map(from_pulumi).collect()),
        PulumiValueContent::Object(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), from_pulumi(v)))
                .collect(),
        ),
    };
    if value.secret {
        Value::secret(inner)
    } else {
        inner
    }
}

/// The engine connection failed: gestalt panicked inside one of its calls (a rejected registration, a URN missing
/// outside preview, an engine that went away). The message is gestalt's, which carries the engine's answer and never
/// an input value (gestalt's messages name types, URNs and gRPC statuses).
#[derive(Debug, thiserror::Error)]
#[error("the Pulumi engine connection failed: {message}")]
pub(crate) struct EngineError {
    message: String,
}

/// Whether a panic at `file` was raised inside gestalt's own code (its crates' sources), so it is an engine failure
/// that [`EngineError`] reports, not a bug of this program.
pub(crate) fn raised_by_gestalt(file: &str) -> bool {
    file.contains("pulumi_gestalt_") || file.contains("pulumi-gestalt")
}

/// Runs one call into gestalt, which panics where it meets an engine error, as a `Result`. Only gestalt calls go
/// through here: a panic anywhere else is a bug and is left to the program's panic hook.
fn engine_call<T>(call: impl FnOnce() -> T) -> Result<T, EngineError> {
    std::panic::catch_unwind(AssertUnwindSafe(call)).map_err(|payload| EngineError {
        message: super::panic_message(&*payload).to_owned(),
    })
}

/// A value that resolves later (a resource output, or something computed from one).
#[derive(Clone)]
pub struct Deferred(Output<PulumiValue>);

impl Deferred {
    /// A value known now.
    pub fn known(value: &Value) -> Deferred {
        let pv = to_pulumi(value);
        if matches!(pv.content, PulumiValueContent::Nothing) {
            return Deferred(if pv.secret {
                Output::new_nothing().secret()
            } else {
                Output::new_nothing()
            });
        }
        Deferred(Output::new(pv))
    }

    /// Applies `f` once the value is known; if it is unknown anywhere, the result is a whole unknown (gap 2).
    pub fn map(&self, f: impl Fn(&Value) -> Value + Send + Sync + 'static) -> Deferred {
        Deferred(self.0.and_then(move |pv| {
            let value = from_pulumi(&pv);
            if value.contains_unknown() {
                return Output::new_nothing();
            }
            Deferred::known(&f(&value)).0
        }))
    }

    /// Combines named values into one object; unknown if any part is unknown. Parts resolve concurrently.
    pub fn object(parts: Vec<(String, Deferred)>) -> Deferred {
        Deferred(Output::from_resolved_future(async move {
            let resolved = join_all(parts.iter().map(|(_, d)| d.0.resolve())).await;
            let mut map = BTreeMap::new();
            for ((name, _), r) in parts.iter().zip(resolved) {
                let Some(pv) = r.value else {
                    return ResolvedOutput {
                        value: None,
                        secret: r.secret,
                        dependencies: Default::default(),
                    };
                };
                let mut value = from_pulumi(&pv);
                if r.secret {
                    value = Value::secret(value);
                }
                map.insert(name.clone(), value);
            }
            let pv = to_pulumi(&Value::Object(map));
            let secret = pv.secret;
            let value = (!matches!(pv.content, PulumiValueContent::Nothing)).then_some(pv);
            ResolvedOutput {
                value,
                secret,
                dependencies: Default::default(),
            }
        }))
    }

    /// Combines named values into one object of the parts that resolve known and not null, leaving the others out;
    /// never unknown. For optional outputs: gestalt reads an output the resource does not have as unknown in a
    /// preview and as null otherwise, so without this a state from a provider version without the output would make a
    /// preview see a change the update does not make.
    pub fn present(parts: Vec<(String, Deferred)>) -> Deferred {
        Deferred(Output::from_resolved_future(async move {
            let resolved = join_all(parts.iter().map(|(_, d)| d.0.resolve())).await;
            let mut map = BTreeMap::new();
            for ((name, _), r) in parts.iter().zip(resolved) {
                let Some(pv) = r.value else { continue };
                let value = from_pulumi(&pv);
                if value.contains_unknown() || *value.unwrap_secret().0 == Value::Null {
                    continue;
                }
                let value = if r.secret {
                    Value::secret(value)
                } else {
                    value
                };
                map.insert(name.clone(), value);
            }
            let pv = to_pulumi(&Value::Object(map));
            ResolvedOutput {
                secret: pv.secret,
                value: Some(pv),
                dependencies: Default::default(),
            }
        }))
    }

    /// Holds this value back until every gate resolves (gap 1).
    fn gated(self, gates: Vec<Output<String>>) -> Deferred {
        if gates.is_empty() {
            return self;
        }
        let inner = self.0;
        Deferred(Output::from_resolved_future(async move {
            // Wait for the resources this one depends on (gap 1), ignoring their values: a URN is known even in
            // preview, but the wait must not turn this value unknown either way.
            join_all(gates.iter().map(Output::resolve)).await;
            inner.resolve().await
        }))
    }
}

/// A registered resource.
pub struct Resource(CompositeOutput);

impl Resource {
    /// One output property.
    pub fn field(&self, name: &str) -> Result<Deferred, EngineError> {
        engine_call(|| Deferred(self.0.get_field::<PulumiValue>(name)))
    }
}

/// The engine connection.
pub struct Engine {
    ctx: Context,
}

impl Engine {
    /// Connects to the engine (the variables must have been checked: see [`super::EngineEnv`]).
    pub fn connect() -> Result<Engine, EngineError> {
        Ok(Engine {
            ctx: engine_call(Context::new)?,
        })
    }

    /// Registers a custom resource. `provider` becomes the `provider` option; `after` holds the registration back
    /// until those resources are registered (gestalt cannot send dependencies, gap 1).
    pub fn register(
        &self,
        type_: &str,
        name: &str,
        version: &str,
        inputs: Vec<(String, Deferred)>,
        provider: Option<&Resource>,
        after: &[&Resource],
    ) -> Result<Resource, EngineError> {
        engine_call(|| {
            let gates: Vec<Output<String>> = after.iter().map(|r| r.0.get_urn()).collect();
            let mut inputs = inputs;
            if let Some(first) = inputs.first_mut() {
                first.1 = first.1.clone().gated(gates);
            }
            let outputs: Vec<(String, Output<PulumiValue>)> =
                inputs.into_iter().map(|(k, d)| (k, d.0)).collect();
            let fields: Vec<ResourceRequestObjectField<'_>> = outputs
                .iter()
                .map(|(name, output)| ResourceRequestObjectField {
                    name: name.clone(),
                    value: output,
                })
                .collect();
            let options = provider.map(|p| CustomResourceOptions {
                provider: Some(p.0.get_provider_id()),
            });
            Resource(self.ctx.register_resource(RegisterResourceRequest {
                type_: type_.to_owned(),
                name: name.to_owned(),
                version: version.to_owned(),
                object: &fields,
                options,
            }))
        })
    }

    /// Adds a stack output; blocks until `value` resolves (gestalt's behaviour).
    pub fn export(&self, name: &str, value: &Deferred) -> Result<(), EngineError> {
        engine_call(|| self.ctx.add_export(name, &value.0))
    }

    /// Waits for every registration and sends the stack outputs.
    pub fn finish(&self) -> Result<(), EngineError> {
        engine_call(|| self.ctx.finish())
    }
}

fn known_inputs(inputs: &BTreeMap<String, Value>) -> Vec<(String, Deferred)> {
    inputs
        .iter()
        .map(|(k, v)| (k.clone(), Deferred::known(v)))
        .collect()
}

/// Registers everything in `plan`: providers, ESC environments (Pulumi Cloud mode), the stack's Namespace (unless a
/// system one), and per service its Secret, SecretHash and Deployment (Secrets and Deployments held back until the
/// Namespace is registered); then the `services` stack output.
pub fn execute(plan: &Plan) -> Result<(), EngineError> {
    let engine = Engine::connect()?;
    let kubernetes = engine.register(
        KUBERNETES_PROVIDER,
        "kubernetes",
        "",
        known_inputs(&plan.kubernetes_provider),
        None,
        &[],
    )?;
    let sophia = engine.register(
        SOPHIA_PROVIDER,
        "sophia",
        SOPHIA_VERSION,
        known_inputs(&plan.sophia_provider),
        None,
        &[],
    )?;
    for (name, inputs) in &plan.environments {
        engine.register(
            ESC_ENVIRONMENT_TYPE,
            name,
            "",
            known_inputs(inputs),
            None,
            &[],
        )?;
    }
    let namespace = plan
        .objects
        .namespace_inputs()
        .map(|inputs| {
            engine.register(
                NAMESPACE_TYPE,
                &plan.objects.namespace,
                "",
                known_inputs(&inputs),
                Some(&kubernetes),
                &[],
            )
        })
        .transpose()?;
    // Everything namespaced waits for the Namespace (gap 1): the engine would otherwise create them concurrently and
    // the API server rejects objects in a namespace that does not exist yet.
    let in_namespace: Vec<&Resource> = namespace.iter().collect();
    let mut exports = Vec::with_capacity(plan.objects.services.len());
    for service in &plan.objects.services {
        let secret = engine.register(
            SECRET_TYPE,
            &service.name,
            "",
            known_inputs(&service.secret_inputs()),
            Some(&kubernetes),
            &in_namespace,
        )?;
        let hash = engine.register(
            SECRET_HASH_TYPE,
            &service.name,
            SOPHIA_VERSION,
            known_inputs(&service.hash_inputs(&plan.objects.provenance)),
            Some(&sophia),
            &[],
        )?;
        let fingerprint = hash.field("hash")?;
        // The record of the last secret change: the provider changes these outputs only with the content, so the
        // template below changes exactly when the fingerprint does. A state without them (from a provider version that
        // did not record provenance) stamps no record, in preview and update alike.
        let change = Deferred::present(
            PROVENANCE
                .iter()
                .map(|name| Ok(((*name).to_owned(), hash.field(name)?)))
                .collect::<Result<_, EngineError>>()?,
        );
        let stamp = Deferred::object(vec![
            ("hash".to_owned(), fingerprint.clone()),
            ("change".to_owned(), change),
        ]);
        // Everything but `spec` is known now; `spec` waits for the provider's hash and record (and is a whole unknown
        // when the hash is, gap 2).
        let base = service.deployment_inputs("", &Provenance::default());
        let mut inputs: Vec<(String, Deferred)> = base
            .iter()
            .filter(|(k, _)| *k != "spec")
            .map(|(k, v)| (k.clone(), Deferred::known(v)))
            .collect();
        // Only the Deployment is captured: the closure must not hold another copy of the secret data.
        let deployment = service.deployment.clone();
        inputs.push((
            "spec".to_owned(),
            stamp.map(move |stamp| {
                let part = |name: &str| stamp.as_object().and_then(|o| o.get(name));
                let hash = part("hash").and_then(Value::as_str).unwrap_or_default();
                let change = part("change")
                    .and_then(Value::as_object)
                    .map(Provenance::from_hash_outputs)
                    .unwrap_or_default();
                deployment_inputs(&deployment, hash, &change)
                    .remove("spec")
                    .unwrap_or(Value::Null)
            }),
        ));
        engine.register(
            DEPLOYMENT_TYPE,
            &service.name,
            "",
            inputs,
            Some(&kubernetes),
            &[in_namespace.as_slice(), &[&secret]].concat(),
        )?;
        let keys = Value::Array(service.fingerprint.keys.iter().map(Value::string).collect());
        exports.push((
            service.name.clone(),
            fingerprint.map(move |hash| {
                Value::Object(BTreeMap::from([
                    ("fingerprint".to_owned(), hash.clone()),
                    ("keys".to_owned(), keys.clone()),
                ]))
            }),
        ));
    }
    engine.export(SERVICES_OUTPUT, &Deferred::object(exports))?;
    engine.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_panics_inside_gestalt_are_engine_failures() {
        assert!(raised_by_gestalt(
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/pulumi_gestalt_grpc_connection-0.0.12/src/pulumi_state.rs"
        ));
        assert!(!raised_by_gestalt("src/program/gestalt.rs"));
        assert!(!raised_by_gestalt(
            "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/serde_json-1.0.0/src/value.rs"
        ));
        let failed = engine_call(|| -> u8 { panic!("engine said {}", "no") }).unwrap_err();
        assert_eq!(
            failed.to_string(),
            "the Pulumi engine connection failed: engine said no"
        );
        assert_eq!(engine_call(|| 7).unwrap(), 7);
    }

    #[test]
    fn nested_secrets_make_the_whole_field_secret() {
        let v = Value::Object(BTreeMap::from([(
            "a".into(),
            Value::secret(Value::string("x")),
        )]));
        let pv = to_pulumi(&v);
        assert!(pv.secret);
        assert!(!to_pulumi(&Value::from_json(&json!({"a": "x"}))).secret);
    }

    #[test]
    fn a_nested_unknown_makes_the_whole_field_unknown_not_null() {
        let v = Value::Object(BTreeMap::from([("a".into(), Value::Unknown)]));
        assert_eq!(to_pulumi(&v).content, PulumiValueContent::Nothing);
        let sentinel = Value::from_json(&json!({"spec": {"x": UNKNOWN_SENTINEL}}));
        assert_eq!(to_pulumi(&sentinel).content, PulumiValueContent::Nothing);
        assert_eq!(
            from_pulumi(&plain(PulumiValueContent::String(UNKNOWN_SENTINEL.into()))),
            Value::Unknown
        );
    }

    #[test]
    fn integers_outside_i32_go_as_floats_instead_of_panicking() {
        assert_eq!(
            to_pulumi(&Value::from_json(&json!(3))).content,
            PulumiValueContent::Integer(3)
        );
        assert_eq!(
            to_pulumi(&Value::from_json(&json!(3_000_000_000u64))).content,
            PulumiValueContent::Number(3e9)
        );
        assert_eq!(
            to_pulumi(&Value::from_json(&json!(1.5))).content,
            PulumiValueContent::Number(1.5)
        );
    }

    #[test]
    fn values_round_trip() {
        let v = Value::from_json(&json!({"a": [1, true, null, "s"], "b": {"c": 2.5}}));
        assert_eq!(from_pulumi(&to_pulumi(&v)), v);
        let s = Value::secret(Value::string("k"));
        assert_eq!(from_pulumi(&to_pulumi(&s)), s);
    }

    #[test]
    fn map_turns_unknown_inputs_into_a_whole_unknown() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let unknown = Deferred(Output::new(plain(PulumiValueContent::String(
            UNKNOWN_SENTINEL.into(),
        ))));
        let mapped = unknown.map(|_| Value::from_json(&json!({"template": "x"})));
        assert!(rt.block_on(mapped.0.resolve()).value.is_none());
        let missing = Deferred(Output::new_nothing()).map(|_| Value::Null);
        assert!(rt.block_on(missing.0.resolve()).value.is_none());
        let known = Deferred::known(&Value::string("h"))
            .map(|h| Value::from_json(&json!({"a": h.as_str()})));
        let pv = rt.block_on(known.0.resolve()).value.unwrap();
        assert_eq!(from_pulumi(&pv), Value::from_json(&json!({"a": "h"})));
        let parts = vec![
            ("x".to_owned(), Deferred::known(&Value::string("1"))),
            ("y".to_owned(), unknown),
        ];
        assert!(
            rt.block_on(Deferred::object(parts).0.resolve())
                .value
                .is_none()
        );
    }

    #[test]
    fn present_leaves_out_unknown_and_null_parts_and_is_never_unknown() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let parts = vec![
            ("by".to_owned(), Deferred::known(&Value::string("alice"))),
            ("missing".to_owned(), Deferred(Output::new_nothing())),
            ("null".to_owned(), Deferred::known(&Value::Null)),
            (
                "sentinel".to_owned(),
                Deferred(Output::new(plain(PulumiValueContent::String(
                    UNKNOWN_SENTINEL.into(),
                )))),
            ),
        ];
        let pv = rt
            .block_on(Deferred::present(parts).0.resolve())
            .value
            .unwrap();
        assert_eq!(from_pulumi(&pv), Value::from_json(&json!({"by": "alice"})));
        let empty = rt
            .block_on(Deferred::present(Vec::new()).0.resolve())
            .value
            .unwrap();
        assert_eq!(from_pulumi(&empty), Value::from_json(&json!({})));
    }
}
