#!/usr/bin/env python3
"""Writes proto/pulumi.fds.bin: a FileDescriptorSet of Pulumi's gRPC protocol, taken from the PyPI `pulumi` wheel.

The wheel's generated `pulumi/runtime/proto/*_pb2.py` modules embed serialized file descriptors. We gather the ones
the project uses (provider, resource monitor, engine) with their dependencies, and `build.rs` compiles the set with
`tonic-prost-build` (no protoc, no copied repository). The wheel version is pinned in requirements-test.txt; rerun
this script after changing it:

    .venv/bin/python scripts/gen-proto-descriptors.py
"""
import importlib
import pathlib
import sys

from google.protobuf import descriptor_pb2, descriptor_pool

ROOTS = ["provider_pb2", "resource_pb2", "engine_pb2"]


def main() -> None:
    for name in ROOTS:
        importlib.import_module(f"pulumi.runtime.proto.{name}")
    pool = descriptor_pool.Default()
    seen, ordered = set(), []

    def visit(file_name: str) -> None:
        if file_name in seen:
            return
        seen.add(file_name)
        fd = pool.FindFileByName(file_name)
        for dep in fd.dependencies:
            visit(dep.name)
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        ordered.append(proto)

    for name in ROOTS:
        visit(f"pulumi/{name.removesuffix('_pb2')}.proto")
    fds = descriptor_pb2.FileDescriptorSet(file=ordered)
    out = pathlib.Path(__file__).resolve().parent.parent / "proto" / "pulumi.fds.bin"
    out.write_bytes(fds.SerializeToString(deterministic=True))
    from importlib.metadata import version
    print(f"wrote {out} from pulumi {version('pulumi')}: {', '.join(f.name for f in ordered)}", file=sys.stderr)


if __name__ == "__main__":
    main()
