"""What the pulumiservice provider's Python SDK registers with Pulumi's engine for one resource type.

Usage: python pulumiservice_sdk_probe.py TYPE_TOKEN. Finds the SDK's one resource class with that type token, builds
it with every input its Args class declares (under Pulumi's own mock monitor, which records the registration), and
prints JSON: {"module", "type", "inputs" (wire names sent), "required" (wire names the SDK insists on), "secret"
(inputs whose output the SDK marks secret)}, or {"error": ...} when the SDK has no such class.
"""

import importlib
import inspect
import json
import pkgutil
import sys

import pulumi
import pulumi_pulumiservice

token = sys.argv[1]
# `pulumi.type_token` is the decorator; the module of that name holds the reader.
get_type_token = importlib.import_module("pulumi.type_token").get_type_token
py_to_pulumi_names = importlib.import_module("pulumi._types").input_type_py_to_pulumi_names

classes = []
for info in pkgutil.walk_packages(pulumi_pulumiservice.__path__, "pulumi_pulumiservice."):
    module = importlib.import_module(info.name)
    for _, value in inspect.getmembers(module, inspect.isclass):
        if issubclass(value, pulumi.CustomResource) and get_type_token(value) == token and value not in classes:
            classes.append(value)
if len(classes) != 1:
    print(json.dumps({"error": f"the SDK has {len(classes)} resource classes of type {token}"}))
    sys.exit(0)
resource = classes[0]
args_type = vars(inspect.getmodule(resource))[resource.__name__ + "Args"]
py_to_wire = py_to_pulumi_names(args_type)
params = inspect.signature(args_type.__init__).parameters
required = sorted(py_to_wire[n] for n, p in params.items() if n in py_to_wire and p.default is inspect.Parameter.empty)

registered = []


class Mocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        registered.append(args)
        return [args.name + "-id", args.inputs]

    def call(self, args):
        return {}


pulumi.runtime.set_mocks(Mocks(), preview=False)
secret = []


@pulumi.runtime.test
def register():
    r = resource("probe", **{n: f"probe-{n}" for n in py_to_wire})

    async def note_secrets(_):
        for py, wire in py_to_wire.items():
            out = getattr(r, py, None)
            if isinstance(out, pulumi.Output) and await out.is_secret():
                secret.append(wire)

    return r.urn.apply(lambda u: note_secrets(u))


register()
(reg,) = registered
print(json.dumps({
    "module": resource.__module__,
    "type": reg.typ,
    "inputs": sorted(reg.inputs),
    "required": required,
    "secret": sorted(secret),
}))
