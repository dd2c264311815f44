// Package jobargs names Hearth's job queues and holds the arguments of every River job kind. It is a
// leaf: anything that enqueues work imports it without pulling in the workers.
package jobargs

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

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

// TemplateVersionImport runs terraform init and plan on a template version's source and reports
// its parameters, variables, resources, agents and apps. Provisioner workers run it.
type TemplateVersionImport struct {
	VersionID string `json:"version_id"`
}

// Kind implements river.JobArgs.
func (TemplateVersionImport) Kind() string { return "template_version_import" }

// WorkspaceBuild runs a workspace build (start, stop or delete): terraform plan and apply from the
// previous build's state. Provisioner workers run it.
type WorkspaceBuild struct {
	BuildID string `json:"build_id"`
}

// Kind implements river.JobArgs.
func (WorkspaceBuild) Kind() string { return "workspace_build" }

// ProvisionerKinds are the job kinds provisioner workers run.
var ProvisionerKinds = []string{TemplateVersionImport{}.Kind(), WorkspaceBuild{}.Kind()}

// QueueProvisioner is the queue of untagged provisioner jobs; a tagged job's queue adds its tags
// (ProvisionerQueue).
const QueueProvisioner = "provisioner"

// MaxProvisionerTags bounds a worker's tags: it claims from every non-empty subset of them.
const MaxProvisionerTags = 6

// ProvisionerQueue names the queue of provisioner jobs with tags: provisioner for untagged jobs, else
// provisioner- and a hash of the sorted tags (River allows only letters, digits, _ and - in names).
// Jobs carry their tags in their metadata too, for listing (ProvisionerMetadata).
func ProvisionerQueue(tags map[string]string) string {
	if len(tags) == 0 {
		return QueueProvisioner
	}
	sum := sha256.Sum256([]byte(TagLabel(tags)))
	return QueueProvisioner + "-" + hex.EncodeToString(sum[:10])
}

// TagLabel writes tags as k=v pairs sorted by key, joined by commas: region=eu,zone=a.
func TagLabel(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + tags[k]
	}
	return strings.Join(parts, ",")
}

// ProvisionerMetadata is the metadata a provisioner job is inserted with.
type ProvisionerMetadata struct {
	Tags map[string]string `json:"tags"`
}

// ProvisionerQueues lists the queues a worker with tags claims from, most specific first. The rule: a
// job goes to a worker that has all of the job's tags (the worker may have more); an untagged job
// goes only to untagged workers.
func ProvisionerQueues(tags map[string]string) []string {
	if len(tags) == 0 {
		return []string{QueueProvisioner}
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var subsets []map[string]string
	for mask := 1; mask < 1<<len(keys); mask++ {
		s := map[string]string{}
		for i, k := range keys {
			if mask&(1<<i) != 0 {
				s[k] = tags[k]
			}
		}
		subsets = append(subsets, s)
	}
	slices.SortStableFunc(subsets, func(a, b map[string]string) int { return len(b) - len(a) })
	out := make([]string, len(subsets))
	for i, s := range subsets {
		out[i] = ProvisionerQueue(s)
	}
	return out
}

// ReapProvisionerLeases ends provisioner jobs whose worker stopped heartbeating.
type ReapProvisionerLeases struct{}

// Kind implements river.JobArgs.
func (ReapProvisionerLeases) Kind() string { return "reap_provisioner_leases" }

// WorkspaceAutostop stops a workspace at its deadline. There is one for each start build (unique by
// its arguments); a deadline moved later by activity or an extension snoozes it, and anything that
// changed the workspace since (a stop, another start, a deletion) makes it do nothing.
type WorkspaceAutostop struct {
	WorkspaceID string `json:"workspace_id"`
	BuildID     string `json:"build_id"`
}

// Kind implements river.JobArgs.
func (WorkspaceAutostop) Kind() string { return "workspace_autostop" }

// WorkspaceAutostart starts a stopped workspace at one occurrence of its autostart schedule (At, Unix
// seconds), then schedules the next; a schedule changed since makes it do nothing.
type WorkspaceAutostart struct {
	WorkspaceID string `json:"workspace_id"`
	At          int64  `json:"at"`
}

// Kind implements river.JobArgs.
func (WorkspaceAutostart) Kind() string { return "workspace_autostart" }

// ReconcileSchedules looks for schedules whose jobs went missing (periodic, on the leader).
type ReconcileSchedules struct{}

// Kind implements river.JobArgs.
func (ReconcileSchedules) Kind() string { return "reconcile_schedules" }

// ReconcilePrebuilds keeps every preset's pool of prebuilt workspaces at its size (periodic, on the
// leader).
type ReconcilePrebuilds struct{}

// Kind implements river.JobArgs.
func (ReconcilePrebuilds) Kind() string { return "reconcile_prebuilds" }

// WorkspacePolicies applies templates' dormancy and failure policies (periodic, on the leader): it
// makes unused workspaces dormant, and catches dormant deletions and failure stops whose jobs went
// missing.
type WorkspacePolicies struct{}

// Kind implements river.JobArgs.
func (WorkspacePolicies) Kind() string { return "workspace_policies" }

// WorkspaceDormantDelete deletes a workspace that has been dormant for its template's time to
// deletion. DormantAt (Unix seconds) is the dormancy it was queued for: one that ended since (the
// workspace was made active, perhaps dormant again later) makes it do nothing.
type WorkspaceDormantDelete struct {
	WorkspaceID string `json:"workspace_id"`
	DormantAt   int64  `json:"dormant_at"`
}

// Kind implements river.JobArgs.
func (WorkspaceDormantDelete) Kind() string { return "workspace_dormant_delete" }

// WorkspaceFailureStop stops a workspace whose start build failed, after its template's failure TTL;
// any build since makes it do nothing.
type WorkspaceFailureStop struct {
	WorkspaceID string `json:"workspace_id"`
	BuildID     string `json:"build_id"`
}

// Kind implements river.JobArgs.
func (WorkspaceFailureStop) Kind() string { return "workspace_failure_stop" }

// Retention deletes what is kept only for a while: old build logs, expired tokens, old audit
// entries, uploads no version uses and workers long gone (periodic, on the leader).
type Retention struct{}

// Kind implements river.JobArgs.
func (Retention) Kind() string { return "retention" }
