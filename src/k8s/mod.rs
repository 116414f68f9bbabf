//! Typed Kubernetes objects a stack declares: one Secret and one Deployment per service. (Skeleton: issue #5.)
