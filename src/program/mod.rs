//! The Pulumi program `pulumi up` runs per stack, on `pulumi_gestalt_rust` behind one adapter. (Skeleton: issue #5.)
