// Package chaos holds the fault suite: a test that runs Hearth the way an operator does, as real
// processes (an external PostgreSQL, two server replicas, two provisioner workers with pre-shared
// keys), drives builds and reads at it, and breaks things underneath: it kills a worker mid-apply,
// kills a replica, stops PostgreSQL for longer than a job's lease and cuts a worker off the network.
// Then it checks what Hearth promises (docs/reliability.md): every build ends, no build that applied
// is recorded as failed, none ran twice, no workspace is left mid-build, and nothing is left running
// or on disk.
package chaos
