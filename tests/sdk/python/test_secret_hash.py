"""The generated Python SDK (`pulumi_sophia`, installed from sdk/python) under Pulumi's own mocks, against the real
provider (conftest.py): a `SecretHash` sends `data` as a secret whatever the program passed, its outputs are the
provider's fingerprints with the secretness the schema gives them (`hash`, `keys`, `keyHashes`, `scope`: not secret),
and no plaintext value comes back. The README's Python example (examples/secrethash-python) runs under the same mocks
and puts that hash on its Deployment's pod template.
"""

import json
import runpy

import pulumi
import pulumi_sophia as sophia
from conftest import PROJECT, ROOT, harness, is_wire_secret, provider_tests
from pulumi.runtime import config, rpc

API_KEY = "sdk-PLAINTEXT-api-key-5e1d"
DB_PASSWORD = "sdk-PLAINTEXT-db-password-93c0"
CANARIES = [API_KEY, DB_PASSWORD, harness.HASH_KEY]
EXAMPLE = ROOT / "examples" / "secrethash-python" / "__main__.py"


def resolved(*outputs):
    """Each output's value and whether the SDK holds it as a secret, once the mock registration has finished."""

    async def both(o):
        return await o.future(), await o.is_secret()

    return pulumi.Output.all(*[pulumi.Output.from_input(both(o)) for o in outputs])


def assert_no_plaintext(text, where):
    for value in CANARIES:
        assert value not in text, f"a plaintext secret value reached {where}"


@pulumi.runtime.test
def test_secret_hash_outputs_are_the_providers_with_the_schemas_secretness(mocks):
    data = {"API_KEY": API_KEY, "DB_PASSWORD": DB_PASSWORD}  # plain values: the SDK must send them as a secret
    h = sophia.SecretHash("app", data=data, scope="default/app")

    def check(values):
        (hash_, hash_secret), (keys, keys_secret), (key_hashes, kh_secret), (scope, scope_secret) = values
        want_hash, want_per_key = provider_tests.reference_fingerprint(harness.HASH_KEY, "default/app", data)
        assert hash_ == want_hash and key_hashes == want_per_key
        assert keys == ["API_KEY", "DB_PASSWORD"] and scope == "default/app"
        assert not (hash_secret or keys_secret or kh_secret or scope_secret), "the schema marks no output secret"

        sent = mocks.only("sophia:index:SecretHash")
        assert is_wire_secret(sent.inputs["data"]) and sent.inputs["data"]["value"] == data
        assert sent.inputs["scope"] == "default/app", "scope is not secret"
        assert_no_plaintext(json.dumps(sent.outputs), "the provider's outputs")
        assert_no_plaintext(json.dumps([hash_, keys, key_hashes, scope]), "the SDK's outputs")

    return resolved(h.hash, h.keys, h.key_hashes, h.scope).apply(check)


@pulumi.runtime.test
def test_secret_inputs_and_the_default_scope(mocks):
    # An Output.secret input stays secret; a missing scope is the empty string, per the schema.
    h = sophia.SecretHash("secret-input", sophia.SecretHashArgs(data={"API_KEY": pulumi.Output.secret(API_KEY)}))

    def check(values):
        (hash_, _), (scope, _) = values
        assert hash_ == provider_tests.reference_fingerprint(harness.HASH_KEY, "", {"API_KEY": API_KEY})[0]
        assert scope == ""
        sent = mocks.only("sophia:index:SecretHash")
        assert is_wire_secret(sent.inputs["data"]) and "scope" not in sent.inputs

    return resolved(h.hash, h.scope).apply(check)


def test_missing_data_is_a_type_error_naming_it(mocks):
    try:
        sophia.SecretHash("no-data", scope="x")
    except TypeError as e:
        assert "'data'" in str(e)
    else:
        raise AssertionError("a SecretHash without data was accepted")


def test_the_readme_example_annotates_its_deployment_with_the_hash(mocks):
    # As `pulumi config set --secret apiKey` leaves it for the program.
    config.set_all_config({f"{PROJECT}:apiKey": API_KEY}, [f"{PROJECT}:apiKey"])
    try:
        # The runtime's test wrapper returns once every registration the program started has finished.
        pulumi.runtime.test(lambda: runpy.run_path(str(EXAMPLE), run_name="__main__") and None)()
    finally:
        config.set_all_config({}, [])

    want = provider_tests.reference_fingerprint(harness.HASH_KEY, "default/app", {"API_KEY": API_KEY})[0]
    deployment = mocks.only("kubernetes:apps/v1:Deployment").inputs
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"] == {"sophia.dev/secret-hash": want}
    assert template["spec"]["containers"][0]["envFrom"][0]["secretRef"]["name"] == "app-generated"
    assert is_wire_secret(mocks.only("kubernetes:core/v1:Secret").inputs["stringData"])
    assert is_wire_secret(mocks.only("sophia:index:SecretHash").inputs["data"])
    assert_no_plaintext(json.dumps(deployment), "the Deployment")


def test_the_readme_quotes_the_example():
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0] for b in readme.split("```python\n")[1:]]
    assert EXAMPLE.read_text() in [b for b in blocks if "pulumi_sophia" in b]
