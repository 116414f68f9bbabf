//! The `pulumi-resource-sophia` gRPC provider (`pulumirpc.ResourceProvider`). (Skeleton: issue #4.)
