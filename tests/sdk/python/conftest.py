"""Pulumi's Python SDK mocks backed by the real provider, for the generated Python SDK (sdk/python, `pulumi_sophia`).

`pulumi.runtime.set_mocks` stands in for the engine's resource monitor. The mock forwards every `SecretHash` it is
asked to register to the built `pulumi-resource-sophia` (Check, then Create, through the launcher in
tests/python/conftest.py, the way the engine drives it), so the outputs the SDK resolves are the provider's, not
values the test made up. Kubernetes objects (the README example) are echoed back with a name, as an engine would.
Every registration is recorded, wire form included, so tests can check what was sent as a secret.
"""

import importlib.util
import pathlib
import sys

import pulumi
import pytest
from google.protobuf import json_format
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

ROOT = pathlib.Path(__file__).resolve().parents[3]

# The provider launcher and its reference fingerprint live with the provider's own tests; loaded under other names so
# pytest's `conftest` modules do not collide.
_spec = importlib.util.spec_from_file_location("sophia_provider_harness", ROOT / "tests" / "python" / "conftest.py")
harness = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)
# test_provider.py (for its independent reference_fingerprint) imports its own conftest by that name.
_spec = importlib.util.spec_from_file_location("sophia_provider_tests", ROOT / "tests" / "python" / "test_provider.py")
provider_tests = importlib.util.module_from_spec(_spec)
_ours = sys.modules.get("conftest")
sys.modules["conftest"] = harness
try:
    _spec.loader.exec_module(provider_tests)
finally:
    if _ours is not None:
        sys.modules["conftest"] = _ours

PROJECT = "secrethash-python"
STACK = "dev"


def is_wire_secret(value):
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


class Registration:
    def __init__(self, args, outputs):
        self.typ, self.name, self.inputs, self.outputs = args.typ, args.name, args.inputs, outputs


class ProviderBackedMocks(pulumi.runtime.Mocks):
    """Registers SecretHash resources with the real provider; everything else is echoed back."""

    def __init__(self, provider):
        self.provider = provider
        self.registered = []

    def new_resource(self, args):
        if args.typ == "sophia:index:SecretHash":
            urn = f"urn:pulumi:{STACK}::{PROJECT}::{args.typ}::{args.name}"
            news = harness.to_struct(args.inputs)
            olds = harness.to_struct({})
            check = self.provider.call(
                "Check", provider_pb2.CheckRequest(urn=urn, name=args.name, type=args.typ, news=news, olds=olds)
            )
            assert not check.failures, check.failures
            created = self.provider.call(
                "Create", provider_pb2.CreateRequest(urn=urn, name=args.name, type=args.typ, properties=check.inputs)
            )
            # The provider's own wire form (secrets as signature objects) is what the engine would hand back to the
            # SDK. Hand-made secret objects are no substitute: one whose signature is not among the SDK's constants
            # fails the SDK with "Unrecognized signature when unmarshalling resource property".
            id_, outputs = created.id, json_format.MessageToDict(created.properties)
        else:
            outputs = dict(args.inputs)
            metadata = dict(outputs.get("metadata") or {})
            metadata.setdefault("name", f"{args.name}-generated")
            outputs["metadata"] = metadata
            id_ = f"default/{metadata['name']}"
        self.registered.append(Registration(args, outputs))
        return id_, outputs

    def call(self, args):
        raise AssertionError(f"unexpected invoke {args.token}")

    def only(self, typ):
        found = [r for r in self.registered if r.typ == typ]
        assert len(found) == 1, f"{typ}: {len(found)} registrations"
        return found[0]


@pytest.fixture
def mocks():
    provider = harness.Provider()
    try:
        provider.configure(harness.HASH_KEY)
        m = ProviderBackedMocks(provider)
        pulumi.runtime.set_mocks(m, project=PROJECT, stack=STACK, preview=False)
        yield m
    finally:
        provider.stop()
