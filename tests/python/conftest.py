"""Launches the built `pulumi-resource-sophia` the way Pulumi's engine does and hands tests a real client.

The client is Pulumi's own generated stub (`pulumi.runtime.proto.provider_pb2_grpc.ResourceProviderStub`) with the
SDK's channel options; wire constants come from `pulumi.runtime.rpc`. Every response a test receives through
`Provider.call` is recorded so a test can search the serialized bytes for secret plaintext.
"""

import os
import pathlib
import signal
import socket
import subprocess

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("SOPHIA_PROVIDER_BIN", ROOT / "target" / "debug" / "pulumi-resource-sophia"))

HASH_KEY = "test-hash-key-0123456789abcdef"
URN = "urn:pulumi:dev::sophia-secrets::sophia:index:SecretHash::api"
TYPE = "sophia:index:SecretHash"


def secret(value):
    """Pulumi's wire form of a secret."""
    return {rpc._special_sig_key: rpc._special_secret_sig, "value": value}


def to_struct(d):
    s = struct_pb2.Struct()
    s.update(d)
    return s


def from_struct(s):
    from google.protobuf import json_format

    return json_format.MessageToDict(s)


def unused_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Provider:
    """One provider process and a client stub; `call` records serialized responses."""

    def __init__(self, extra_args=(), engine=None):
        assert BIN.exists(), f"{BIN} not built: run `cargo build --bins` first"
        # By default a fake engine address (nothing listens there): the provider must not need it to serve.
        self.engine = engine or f"127.0.0.1:{unused_port()}"
        args = [str(BIN), "--logtostderr", "-v=9", "--tracing", "127.0.0.1:1", "--unknown-flag=x", *extra_args, self.engine]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        assert line.strip().isdigit(), f"first stdout line is not a port: {line!r}"
        self.port = int(line)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=_GRPC_CHANNEL_OPTIONS)
        grpc.channel_ready_future(self.channel).result(timeout=10)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
        self.responses = []

    def call(self, method, request=None):
        response = getattr(self.stub, method)(request if request is not None else empty_pb2.Empty(), timeout=30)
        self.responses.append((method, response))
        return response

    def configure(self, key=HASH_KEY):
        self.call("Handshake", provider_pb2.ProviderHandshakeRequest(engine_address=self.engine))
        args = to_struct({"hashKey": secret(key), "version": "0.1.0"})
        return self.call("Configure", provider_pb2.ConfigureRequest(args=args, acceptSecrets=True, acceptResources=True))

    def create(self, data, scope=None, preview=False, urn=URN):
        props = {"data": secret(data)}
        if scope is not None:
            props["scope"] = scope
        req = provider_pb2.CreateRequest(urn=urn, name=urn.rsplit("::", 1)[1], type=TYPE, properties=to_struct(props), preview=preview)
        return self.call("Create", req)

    def stop(self):
        self.channel.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err


@pytest.fixture
def provider():
    p = Provider()
    yield p
    p.stop()


@pytest.fixture
def configured(provider):
    provider.configure()
    return provider
