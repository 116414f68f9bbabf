"""The provider driven by Pulumi's own generated gRPC client, replaying what the engine sends.

Run with `scripts/test.sh` (or `.venv/bin/python -m pytest tests/python` after `cargo build --bins`).
"""

import hashlib
import hmac
import threading
from concurrent import futures

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from google.rpc import status_pb2
from pulumi.runtime import rpc
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc, provider_pb2
from pulumi.runtime.proto.provider_pb2 import DiffResponse, PropertyDiff

from conftest import HASH_KEY, TYPE, URN, Provider, from_struct, secret, to_struct

# Secret plaintext used throughout; no response may contain these bytes (outside the inputs Check echoes back).
OPENAI = "sk-live-PLAINTEXT-openai-7f3a9c"
DB = "postgres://sophia:hunter2-PLAINTEXT@db:5432/app"
SERP = "serp-PLAINTEXT-41"
DATA = {"OPENAI_API_KEY": OPENAI, "DATABASE_URL": DB}
SECRETS = [OPENAI, DB, SERP, "rotated-PLAINTEXT-value", HASH_KEY, "another-hash-key-PLAINTEXT-xyz"]


def reference_fingerprint(key, scope, data):
    """An independent implementation of the documented encoding: u64 big-endian length before every part."""

    def lp(b):
        return len(b).to_bytes(8, "big") + b

    def mac(parts):
        return "hmac-sha256:" + hmac.new(key.encode(), b"".join(lp(p) for p in parts), hashlib.sha256).hexdigest()

    names = sorted(data, key=lambda s: s.encode())
    parts = [b"sophia/secret-content/v1", scope.encode(), len(data).to_bytes(8, "big")]
    for k in names:
        parts += [k.encode(), data[k].encode()]
    per_key = {k: mac([b"sophia/secret-key/v1", scope.encode(), k.encode(), data[k].encode()]) for k in names}
    return mac(parts), per_key


def outputs(resp):
    return from_struct(resp.properties)


def is_unknown(v):
    return isinstance(v, str) and len(v) == 36 and v.count("-") == 4 and v != ""


def diff(p, old_data, new_data, old_scope="", new_scope=None, old_resp=None):
    old = old_resp or p.create(old_data, scope=old_scope)
    news = {"data": secret(new_data)}
    if new_scope is not None:
        news["scope"] = new_scope
    old_inputs = {"data": secret(old_data), "scope": old_scope}
    req = provider_pb2.DiffRequest(
        id="api", urn=URN, name="api", type=TYPE, olds=old.properties, news=to_struct(news), old_inputs=to_struct(old_inputs)
    )
    return p.call("Diff", req)


def kinds(resp):
    return {path: PropertyDiff.Kind.Name(d.kind) for path, d in resp.detailedDiff.items()}


def assert_no_plaintext(p):
    """Searches every recorded response; Check/CheckConfig/Read echo inputs by protocol, which must be secret-wrapped."""
    for method, resp in p.responses:
        if method in ("Check", "CheckConfig", "Read") and resp.HasField("inputs"):
            echoed = from_struct(resp.inputs)
            for name in ("data", "hashKey"):
                if name in echoed:
                    assert echoed[name].get(rpc._special_sig_key) == rpc._special_secret_sig, f"{method} {name} not secret"
            rest = type(resp)()
            rest.CopyFrom(resp)
            rest.ClearField("inputs")
            resp = rest
        raw = resp.SerializeToString()
        for s in SECRETS:
            assert s.encode() not in raw, f"{method} response contains a secret value"


# --- launch and metadata -------------------------------------------------------------------------------------------


def test_launch_handshake_plugin_info_schema(provider):
    hs = provider.call("Handshake", provider_pb2.ProviderHandshakeRequest(engine_address=provider.engine))
    assert hs.accept_secrets and hs.accept_resources
    info = provider.call("GetPluginInfo")
    assert info.version == "0.1.0"
    import json

    schema = json.loads(provider.call("GetSchema", provider_pb2.GetSchemaRequest(version=0)).schema)
    assert schema["name"] == "sophia"
    assert schema["config"]["variables"]["hashKey"]["secret"] is True
    res = schema["resources"][TYPE]
    assert res["inputProperties"]["data"] == {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "secret": True,
        "description": res["inputProperties"]["data"]["description"],
    }
    assert res["inputProperties"]["scope"]["type"] == "string"
    assert set(res["properties"]) >= {"hash", "keys", "keyHashes"}
    assert res["requiredInputs"] == ["data"]


def test_sigterm_stops_gracefully_and_logs_no_values():
    p = Provider()
    p.configure()
    p.create(DATA)
    code, _, err = p.stop()
    assert code == 0, err
    assert b"Create" in err  # -v=9 logs RPC names...
    for s in SECRETS:
        assert s.encode() not in err  # ...never values


# --- provider configuration ----------------------------------------------------------------------------------------


def check_config(p, news):
    return p.call("CheckConfig", provider_pb2.CheckRequest(urn="urn:pulumi:dev::p::pulumi:providers:sophia::default", news=to_struct(news)))


def test_check_config_missing_short_good_unknown(provider):
    missing = check_config(provider, {"version": "0.1.0"})
    assert [f.property for f in missing.failures] == ["hashKey"]
    assert "sophia:hashKey" in missing.failures[0].reason and "pulumi config set --secret" in missing.failures[0].reason
    short = check_config(provider, {"hashKey": secret("PLAINTEXT-short")})
    assert [f.property for f in short.failures] == ["hashKey"]
    assert "at least 16 bytes" in short.failures[0].reason and "PLAINTEXT" not in short.failures[0].reason
    good = check_config(provider, {"hashKey": HASH_KEY, "version": "0.1.0"})
    assert not good.failures
    assert from_struct(good.inputs)["hashKey"] == secret(HASH_KEY), "the key comes back marked secret"
    assert not check_config(provider, {"hashKey": rpc.UNKNOWN}).failures
    assert_no_plaintext(provider)


def test_configure_without_key_fails_with_engine_detail(provider):
    with pytest.raises(grpc.RpcError) as err:
        provider.call("Configure", provider_pb2.ConfigureRequest(args=to_struct({}), acceptSecrets=True))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "sophia:hashKey" in err.value.details()
    details = dict(err.value.trailing_metadata())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(details)
    missing = provider_pb2.ConfigureErrorMissingKeys()
    assert status.details[0].Unpack(missing)
    assert missing.missingKeys[0].name == "sophia:hashKey"
    with pytest.raises(grpc.RpcError) as err:
        provider.call("Configure", provider_pb2.ConfigureRequest(args=to_struct({"hashKey": secret("PLAINTEXT-short")})))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "PLAINTEXT" not in err.value.details()
    # Resource operations before a good Configure say so.
    with pytest.raises(grpc.RpcError) as err:
        provider.create(DATA)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_configure_flags_and_legacy_variables(provider):
    resp = provider.call("Configure", provider_pb2.ConfigureRequest(variables={"sophia:config:hashKey": HASH_KEY}))
    assert resp.acceptSecrets and resp.supportsPreview and resp.acceptResources
    expected, _ = reference_fingerprint(HASH_KEY, "", DATA)
    assert outputs(provider.create(DATA))["hash"] == expected


def test_diff_config(provider):
    def diff_config(old, new):
        req = provider_pb2.DiffRequest(olds=to_struct({"hashKey": secret(old)}), old_inputs=to_struct({"hashKey": secret(old)}), news=to_struct({"hashKey": secret(new)}))
        return provider.call("DiffConfig", req)

    assert diff_config(HASH_KEY, HASH_KEY).changes == DiffResponse.DIFF_NONE
    changed = diff_config(HASH_KEY, "another-hash-key-PLAINTEXT-xyz")
    assert changed.changes == DiffResponse.DIFF_SOME and not changed.replaces
    assert kinds(changed) == {"hashKey": "UPDATE"}
    assert_no_plaintext(provider)


# --- Check ---------------------------------------------------------------------------------------------------------


def check(p, news):
    return p.call("Check", provider_pb2.CheckRequest(urn=URN, name="api", type=TYPE, news=news, olds=to_struct({})))


def test_check_good_inputs_come_back_secret(configured):
    resp = check(configured, to_struct({"data": DATA, "scope": "sophia/api"}))  # data sent without the secret mark
    assert not resp.failures
    echoed = from_struct(resp.inputs)
    assert echoed["data"] == secret(DATA) and echoed["scope"] == "sophia/api"
    # The derived per-key fingerprints join the inputs, so the engine's diff display can compare them key by key.
    assert echoed["keyHashes"] == reference_fingerprint(HASH_KEY, "sophia/api", DATA)[1]
    resp = check(configured, to_struct({"data": secret({"A": rpc.UNKNOWN})}))
    assert not resp.failures


@pytest.mark.parametrize(
    "news, prop, words",
    [
        ({"data": ["a", "b"]}, "data", "expected a map of string to string, got array"),
        ({"data": "PLAINTEXT-str"}, "data", "got string"),
        ({"data": secret({"PORT": 5432})}, 'data["PORT"]', "expected a string, got number"),
        ({"data": {"A": {"nested": "x"}}}, 'data["A"]', "got object"),
        ({"data": {"A": None}}, 'data["A"]', "got null"),
        ({}, "data", "missing required property"),
        ({"data": {}, "scope": 3}, "scope", "expected a string"),
        ({"data": {}, "Scope": "x"}, "Scope", "did you mean `scope`"),
        ({"data": {"A": {rpc._special_sig_key: rpc._special_asset_sig, "path": "/etc/passwd"}}}, 'data["A"]', "asset"),
        ({"data": {"A": {rpc._special_sig_key: "not-a-signature"}}}, 'data["A"]', "signature"),
        ({"data": {"A": {rpc._special_sig_key: rpc._special_secret_sig}}}, 'data["A"]', "no \"value\""),
    ],
)
def test_check_rejects_bad_inputs_by_property(configured, news, prop, words):
    resp = check(configured, to_struct(news))
    assert [f.property for f in resp.failures] == [prop]
    assert words in resp.failures[0].reason
    assert not resp.HasField("inputs"), "failed inputs are not echoed"
    assert b"PLAINTEXT" not in resp.SerializeToString()


def test_malformed_struct_is_a_failure_not_a_crash(configured):
    news = struct_pb2.Struct()
    news.fields["data"].struct_value.fields["A"].CopyFrom(struct_pb2.Value())  # a Value with no kind at all
    resp = check(configured, news)
    assert resp.failures and resp.failures[0].property == 'data["A"]' and "no kind" in resp.failures[0].reason
    with pytest.raises(grpc.RpcError) as err:
        configured.call("Create", provider_pb2.CreateRequest(urn=URN, name="api", type=TYPE, properties=news))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and 'data["A"]' in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        configured.call("Create", provider_pb2.CreateRequest(urn=URN.replace("SecretHash", "Other"), properties=to_struct({"data": {}})))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "unknown resource type" in err.value.details()
    # Still serving.
    assert configured.call("GetPluginInfo").version


# --- the engine's sequence -----------------------------------------------------------------------------------------


def test_engine_sequence(configured):
    p = configured
    scope = "sophia/api"
    expected_hash, expected_keys = reference_fingerprint(HASH_KEY, scope, DATA)

    # preview, known inputs: real values, no side effects
    pre = outputs(p.create(DATA, scope=scope, preview=True))
    assert pre == {"hash": expected_hash, "keys": sorted(DATA), "keyHashes": expected_keys, "scope": scope}
    # preview, unknown data: unknown outputs (typed sentinels)
    req = provider_pb2.CreateRequest(urn=URN, name="api", type=TYPE, preview=True, properties=to_struct({"data": secret(rpc.UNKNOWN)}))
    unk = outputs(p.call("Create", req))
    assert unk["hash"] == rpc.UNKNOWN and is_unknown(unk["keys"]) and is_unknown(unk["keyHashes"])
    assert unk["keys"] != unk["keyHashes"], "typed unknowns: array vs object"
    # preview, one value unknown: only that key (and the whole hash) unknown
    part = outputs(p.create({"OPENAI_API_KEY": OPENAI, "NEW": rpc.UNKNOWN}, scope=scope, preview=True))
    assert part["hash"] == rpc.UNKNOWN and part["keys"] == ["NEW", "OPENAI_API_KEY"]
    assert part["keyHashes"] == {"NEW": rpc.UNKNOWN, "OPENAI_API_KEY": expected_keys["OPENAI_API_KEY"]}
    # unknowns outside a preview are an error
    with pytest.raises(grpc.RpcError) as err:
        p.create({"A": rpc.UNKNOWN})
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    # create for real
    created = p.create(DATA, scope=scope)
    assert created.id == "api"
    assert outputs(created) == pre
    assert created.properties.fields["hash"].WhichOneof("kind") == "string_value", "hash is not secret"

    # diffs
    same = diff(p, DATA, DATA, scope, scope, old_resp=created)
    assert same.changes == DiffResponse.DIFF_NONE and not same.detailedDiff and not same.diffs
    shuffled = dict(reversed(list(DATA.items())))
    assert diff(p, DATA, shuffled, scope, scope, old_resp=created).changes == DiffResponse.DIFF_NONE
    changed = diff(p, DATA, {**DATA, "OPENAI_API_KEY": "rotated-PLAINTEXT-value"}, scope, scope, old_resp=created)
    assert changed.changes == DiffResponse.DIFF_SOME and not changed.replaces and not changed.deleteBeforeReplace
    assert kinds(changed) == {'keyHashes["OPENAI_API_KEY"]': "UPDATE"}
    assert list(changed.diffs) == ["keyHashes"]
    added = diff(p, DATA, {**DATA, "SERPAPI_KEY": SERP}, scope, scope, old_resp=created)
    assert kinds(added) == {'keyHashes["SERPAPI_KEY"]': "ADD"}
    removed = diff(p, DATA, {"DATABASE_URL": DB}, scope, scope, old_resp=created)
    assert kinds(removed) == {'keyHashes["OPENAI_API_KEY"]': "DELETE"}
    moved = diff(p, DATA, DATA, scope, "sophia/worker", old_resp=created)
    assert moved.changes == DiffResponse.DIFF_SOME and not moved.replaces
    assert kinds(moved)["scope"] == "UPDATE" and moved.detailedDiff["scope"].inputDiff
    assert set(moved.diffs) == {"scope", "keyHashes"}
    for resp in (changed, added, removed, moved):
        assert resp.hasDetailedDiff
        roots = {path.split("[")[0] for path in resp.detailedDiff}
        assert roots == set(resp.diffs), "diffs agree with detailedDiff"
    unknown_news = diff(p, DATA, {"OPENAI_API_KEY": rpc.UNKNOWN, "DATABASE_URL": DB}, scope, scope, old_resp=created)
    assert kinds(unknown_news) == {'keyHashes["OPENAI_API_KEY"]': "UPDATE"}

    # update (preview, then for real)
    new_data = {**DATA, "OPENAI_API_KEY": "rotated-PLAINTEXT-value"}
    upd = dict(id="api", urn=URN, name="api", type=TYPE, olds=created.properties, news=to_struct({"data": secret(new_data), "scope": scope}))
    up_pre = p.call("Update", provider_pb2.UpdateRequest(**upd, preview=True))
    up = p.call("Update", provider_pb2.UpdateRequest(**upd))
    assert outputs(up_pre) == outputs(up)
    new_hash, new_keys = reference_fingerprint(HASH_KEY, scope, new_data)
    assert outputs(up)["hash"] == new_hash != expected_hash
    assert outputs(up)["keyHashes"]["DATABASE_URL"] == expected_keys["DATABASE_URL"]
    assert outputs(up)["keyHashes"]["OPENAI_API_KEY"] == new_keys["OPENAI_API_KEY"] != expected_keys["OPENAI_API_KEY"]

    # read gives the stored state back; delete and cancel answer OK
    inputs = to_struct({"data": secret(new_data), "scope": scope})
    read = p.call("Read", provider_pb2.ReadRequest(id="api", urn=URN, name="api", type=TYPE, properties=up.properties, inputs=inputs))
    assert read.id == "api" and outputs(read) == outputs(up) and read.inputs == inputs
    gone = p.call("Read", provider_pb2.ReadRequest(id="api", urn=URN, type=TYPE))
    assert gone.id == ""
    p.call("Delete", provider_pb2.DeleteRequest(id="api", urn=URN, name="api", type=TYPE, properties=up.properties))
    p.call("Cancel")

    assert_no_plaintext(p)


def test_provenance_is_no_diff_and_is_recorded_only_with_a_content_change(configured):
    """`changedBy`/`commit`/`escRevision` never make a diff; outputs take them on Create and on an Update that changes
    the content, so a later deploy from another commit keeps the record of the last change."""
    p = configured
    scope = "sophia/api"
    first = {"data": secret(DATA), "scope": scope, "changedBy": "alice", "commit": "c1"}
    checked = check(p, to_struct(first))
    assert not checked.failures
    echoed = from_struct(checked.inputs)
    assert (echoed["changedBy"], echoed["commit"]) == ("alice", "c1"), "provenance inputs pass Check unchanged"
    created = p.call("Create", provider_pb2.CreateRequest(urn=URN, name="api", type=TYPE, properties=to_struct(first)))
    out = outputs(created)
    assert (out["changedBy"], out["commit"]) == ("alice", "c1") and "escRevision" not in out
    assert created.properties.fields["changedBy"].WhichOneof("kind") == "string_value", "provenance is not secret"

    def diff_of(news):
        req = provider_pb2.DiffRequest(id="api", urn=URN, name="api", type=TYPE, olds=created.properties,
                                       old_inputs=to_struct(first), news=to_struct(news))
        return p.call("Diff", req)

    # Another deployer and commit, or none at all: no diff, nothing for the preview to show.
    for news in ({**first, "changedBy": "bob", "commit": "c2", "escRevision": "9"}, {"data": secret(DATA), "scope": scope}):
        resp = diff_of(news)
        assert resp.changes == DiffResponse.DIFF_NONE and not resp.detailedDiff and not resp.diffs
    # A content change is a diff of the content only; provenance is not listed.
    rotated = {**DATA, "OPENAI_API_KEY": "rotated-PLAINTEXT-value"}
    later = {"data": secret(rotated), "scope": scope, "changedBy": "carol", "commit": "c3", "escRevision": "4"}
    assert kinds(diff_of(later)) == {'keyHashes["OPENAI_API_KEY"]': "UPDATE"}

    def update(news, preview=False):
        req = provider_pb2.UpdateRequest(id="api", urn=URN, name="api", type=TYPE, olds=created.properties,
                                         old_inputs=to_struct(first), news=to_struct(news), preview=preview)
        return outputs(p.call("Update", req))

    # The update records the new deployer, commit and revision, in preview as for real.
    assert update(later, preview=True) == update(later)
    up = update(later)
    assert (up["changedBy"], up["commit"], up["escRevision"]) == ("carol", "c3", "4")
    assert up["hash"] == reference_fingerprint(HASH_KEY, scope, rotated)[0]
    # An update whose content is unchanged keeps the stored record, whatever the new inputs say.
    kept = update({**first, "changedBy": "mallory", "commit": "c4"})
    assert (kept["changedBy"], kept["commit"]) == ("alice", "c1") and kept["hash"] == out["hash"]

    # Bad provenance is a failure on its property, never echoing the value.
    bad = check(p, to_struct({"data": secret(DATA), "changedBy": 7, "commit": secret("PLAINTEXT-commit")}))
    assert {(f.property, f.reason.split(":")[0]) for f in bad.failures} == {
        ("changedBy", "expected a string, got number"), ("commit", "must not be secret")}
    assert not bad.HasField("inputs") and b"PLAINTEXT" not in bad.SerializeToString()
    assert_no_plaintext(p)


@pytest.mark.parametrize("method, request_type", [
    ("Invoke", provider_pb2.InvokeRequest), ("Call", provider_pb2.CallRequest), ("Construct", provider_pb2.ConstructRequest),
    ("Parameterize", provider_pb2.ParameterizeRequest), ("GetMapping", provider_pb2.GetMappingRequest),
    ("GetMappings", provider_pb2.GetMappingsRequest),
])
def test_other_rpcs_are_unimplemented(configured, method, request_type):
    with pytest.raises(grpc.RpcError) as err:
        configured.call(method, request_type())
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


# --- the fingerprint's promises, end to end -------------------------------------------------------------------------


def test_deterministic_across_processes_keyed_and_key_sensitive():
    a, b, c = Provider(), Provider(), Provider()
    try:
        a.configure()
        b.configure()
        c.configure("another-hash-key-PLAINTEXT-xyz")
        out_a = outputs(a.create(DATA, scope="s"))
        shuffled = dict(reversed(list(DATA.items())))
        out_b = outputs(b.create(shuffled, scope="s"))
        out_c = outputs(c.create(DATA, scope="s"))
        assert out_a == out_b, "same key, scope and data give the same outputs in another process"
        assert out_a["hash"] == reference_fingerprint(HASH_KEY, "s", DATA)[0]
        # A new hashKey changes every hash.
        assert out_c["hash"] != out_a["hash"]
        assert all(out_c["keyHashes"][k] != out_a["keyHashes"][k] for k in DATA)
        # Not an unkeyed digest of the content in any obvious encoding.
        digest = out_a["hash"].split(":", 1)[1]
        for text in (
            ";".join(f"{k}={DATA[k]}" for k in sorted(DATA)),
            "".join(DATA[k] for k in sorted(DATA)),
            __import__("json").dumps(DATA, sort_keys=True),
        ):
            assert digest != hashlib.sha256(text.encode()).hexdigest()
            assert digest != hashlib.sha1(text.encode()).hexdigest()
        for p in (a, b, c):
            assert_no_plaintext(p)
    finally:
        for p in (a, b, c):
            p.stop()


def test_reloader_collision_does_not_collide(configured):
    one = outputs(configured.create({"a": "b;c=d"}))
    two = outputs(configured.create({"a": "b", "c": "d"}))
    assert one["hash"] != two["hash"]


def test_large_secret_and_many_keys(configured):
    big = "x" * (10 * 1024 * 1024)
    out = outputs(configured.create({"BIG": big}))
    assert out["hash"] == reference_fingerprint(HASH_KEY, "", {"BIG": big})[0]
    many = {f"KEY_{i:04}": f"value-{i}" for i in range(2000)}
    out = outputs(configured.create(many))
    assert len(out["keys"]) == 2000 and out["keys"] == sorted(many)


class FakeEngine(engine_pb2_grpc.EngineServicer):
    """The engine side of `Engine.Log`, served with Pulumi's own generated server stubs."""

    def __init__(self):
        self.logs = []
        self.logged = threading.Event()

    def Log(self, request, context):
        self.logs.append(request)
        self.logged.set()
        return empty_pb2.Empty()


def test_plain_data_warns_through_engine_log_without_values():
    engine = FakeEngine()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    engine_pb2_grpc.add_EngineServicer_to_server(engine, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    p = Provider(engine=f"127.0.0.1:{port}")
    try:
        p.configure()
        assert not check(p, to_struct({"data": secret(DATA)})).failures
        assert not engine.logged.wait(0.5), "secret data is not warned about"
        assert not check(p, to_struct({"data": DATA})).failures
        assert engine.logged.wait(10), "plain data is warned about through Engine.Log"
        log = engine.logs[0]
        assert log.severity == engine_pb2.LogSeverity.WARNING and log.urn == URN
        assert "not marked secret" in log.message
        assert not any(s.encode() in log.SerializeToString() for s in SECRETS)
    finally:
        p.stop()
        server.stop(None)


@pytest.mark.parametrize("method", ["Check", "Create", "Diff", "Configure"])
def test_undecodable_request_is_invalid_argument_and_the_provider_keeps_serving(configured, method):
    raw = configured.channel.unary_unary(
        f"/pulumirpc.ResourceProvider/{method}", request_serializer=lambda b: b, response_deserializer=lambda b: b
    )
    for payload in (b"\xff\xff\xff\xff", b"\x12\x05\x0a\x03abc\xff"):
        with pytest.raises(grpc.RpcError) as err:
            raw(payload, timeout=10)
        # INTERNAL would tell the engine the resource's state is unknown; this is the caller's error.
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
        assert "decode" in err.value.details()
    assert configured.call("GetPluginInfo").version
