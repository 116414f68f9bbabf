// Keyed, deterministic fingerprints of secret content, so rotating one secret rolls exactly the workloads that use it and reveals nothing about any value.
package sophia
