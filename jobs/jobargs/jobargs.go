// Package jobargs names Hearth's job queues and holds the arguments of every River job kind. It is a
// leaf: anything that enqueues work imports it without pulling in the workers.
package jobargs

// Queues. Provisioner queues are worked by provisioner workers through the API, never by a River
// client directly; lifecycle and maintenance are worked by the server's River client.
const (
	// QueueLifecycle runs autostart, autostop and the lifecycle reconciler.
	QueueLifecycle = "lifecycle"
	// QueueMaintenance runs dormancy, auto-delete, retention and orphan clean-up.
	QueueMaintenance = "maintenance"
)

// QueueHeartbeat records that the deployment's queue works jobs; the health check reads its time.
type QueueHeartbeat struct{}

// Kind implements river.JobArgs.
func (QueueHeartbeat) Kind() string { return "queue_heartbeat" }

// RotateSigningKeys rotates the ticket signing key when it is old enough.
type RotateSigningKeys struct{}

// Kind implements river.JobArgs.
func (RotateSigningKeys) Kind() string { return "rotate_signing_keys" }
