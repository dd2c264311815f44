package provisioner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/hearthdev/hearth/client"
	"github.com/hearthdev/hearth/internal/archive"
	"github.com/hearthdev/hearth/internal/coderprovider"
)

// minTerraform is the oldest Terraform that works: terraform_data arrived in 1.4.
var minTerraform = version.Must(version.NewVersion("1.4.0"))

// Runner runs Terraform for jobs, each in a fresh directory.
type Runner struct {
	// Terraform is the terraform (or tofu) binary.
	Terraform string
	// Mirrors are provider filesystem mirrors, searched in order; with none, providers come from
	// their registries.
	Mirrors []string
	// Direct lets providers that no mirror has come from their registries (a connected deployment);
	// without it, with mirrors, every provider must be in one.
	Direct bool
	// WorkDir holds the jobs' directories.
	WorkDir string
	// InitCache holds what terraform init made for each template version (see initcache.go); empty:
	// every job runs init.
	InitCache string
	// AccessURL is the control plane's URL, given to templates as the agent URL.
	AccessURL string
	// ServerURL is the control plane's URL as this worker reaches it: Terraform finds the module
	// registry there.
	ServerURL string
}

// FindTerraform returns path, or terraform from PATH, after checking its version.
func FindTerraform(ctx context.Context, path string) (string, error) {
	if path == "" {
		p, err := exec.LookPath("terraform")
		if err != nil {
			return "", errors.New("terraform not found on PATH; install Terraform 1.4 or newer or pass --terraform-path")
		}
		path = p
	}
	tf, err := tfexec.NewTerraform(os.TempDir(), path)
	if err != nil {
		return "", fmt.Errorf("terraform %s: %w", path, err)
	}
	_ = tf.SetEnv(map[string]string{"PATH": os.Getenv("PATH"), "TF_CLI_CONFIG_FILE": os.DevNull})
	v, _, err := tf.Version(ctx, true)
	if err != nil {
		return "", fmt.Errorf("terraform %s: %w", path, err)
	}
	if v.LessThan(minTerraform) {
		return "", fmt.Errorf("terraform %s is version %s; Hearth needs 1.4 or newer", path, v)
	}
	return path, nil
}

// logFunc receives the lines a job prints.
type logFunc func(stage, level, line string)

// job is one Terraform run's directory and configuration.
type job struct {
	r     *Runner
	dir   string // the job's directory: source, CLI config, plan
	tmp   string // its TMPDIR
	src   string
	key   string // the init cache's key of the job
	entry string // its init cache entry, once there is one
	tf    *tfexec.Terraform
	log   logFunc
	grace time.Duration
	// errs are the last error lines Terraform printed, for the job's error message; diags its
	// diagnostics in -json output, for the job's result.
	mu    sync.Mutex
	errs  []string
	diags []client.ProvisionerDiagnostic
}

// maxDiagnostics bounds the diagnostics a job reports.
const maxDiagnostics = 50

// TerraformError is a failed Terraform stage, with the diagnostics Terraform gave.
type TerraformError struct {
	msg         string
	err         error
	Diagnostics []client.ProvisionerDiagnostic
}

func (e *TerraformError) Error() string { return e.msg }
func (e *TerraformError) Unwrap() error { return e.err }

// diagnostic records one of Terraform's diagnostics.
func (x *job) diagnostic(d *tfjson.Diagnostic) {
	if d == nil || d.Summary == "" {
		return
	}
	out := client.ProvisionerDiagnostic{Severity: client.ProvisionerDiagnosticSeverityError, Summary: d.Summary}
	if d.Severity == tfjson.DiagnosticSeverityWarning {
		out.Severity = client.ProvisionerDiagnosticSeverityWarning
	}
	if d.Detail != "" {
		out.Detail = &d.Detail
	}
	if d.Range != nil && d.Range.Filename != "" {
		file, line, col := d.Range.Filename, int64(d.Range.Start.Line), int64(d.Range.Start.Column)
		out.File, out.Line, out.Column = &file, &line, &col
	}
	x.mu.Lock()
	if len(x.diags) < maxDiagnostics {
		x.diags = append(x.diags, out)
	}
	x.mu.Unlock()
}

// logError records an error line for the job's error message, keeping the last few.
func (x *job) logError(line string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if line = strings.TrimSpace(line); line != "" {
		x.errs = append(x.errs, line)
		if len(x.errs) > 5 {
			x.errs = x.errs[1:]
		}
	}
}

// stageError says which Terraform stage failed and, when Terraform said why, why.
func (x *job) stageError(ctx context.Context, stage string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("terraform %s was interrupted: %w", stage, context.Cause(ctx))
	}
	x.mu.Lock()
	why := strings.Join(x.errs, "; ")
	x.errs = nil
	diags := x.diags
	x.diags = nil
	x.mu.Unlock()
	code := strings.TrimSpace(err.Error())
	msg := fmt.Sprintf("terraform %s failed: %s", stage, code)
	if why != "" {
		msg = fmt.Sprintf("terraform %s failed: %s (%s)", stage, why, code)
	}
	if h := hint(why); h != "" {
		msg = h + " — " + msg
	}
	return &TerraformError{msg: msg, err: err, Diagnostics: diags}
}

func (r *Runner) prepare(j *client.ProvisionerJob, log logFunc) (*job, error) {
	if err := os.MkdirAll(r.WorkDir, 0o700); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(r.WorkDir, fmt.Sprintf("job-%d-", j.Id))
	if err != nil {
		return nil, err
	}
	x := &job{r: r, dir: dir, src: filepath.Join(dir, "src"), log: log, grace: time.Duration(j.CancelGraceSeconds) * time.Second}
	if err := os.Mkdir(x.src, 0o700); err != nil {
		return x, err
	}
	// Terraform's plugins listen on unix sockets in TMPDIR, whose paths may be at most 107 bytes: a
	// job directory under a long work directory would not do, so TMPDIR is short, of its own.
	if x.tmp, err = os.MkdirTemp("", tmpPrefix); err != nil {
		return x, err
	}
	if err := os.WriteFile(filepath.Join(dir, tmpName), []byte(x.tmp), 0o600); err != nil {
		return x, err
	}
	log("setup", "info", fmt.Sprintf("extracting the template (%d bytes)", len(j.Template.Archive)))
	if err := archive.Extract(j.Template.Archive, string(j.Template.ContentType), x.src); err != nil {
		return x, err
	}
	x.key = r.initKey(j)
	cliConfig := filepath.Join(dir, "terraform.rc")
	if err := os.WriteFile(cliConfig, []byte(r.cliConfig()+r.moduleConfig(j)), 0o600); err != nil {
		return x, err
	}
	exe, err := writeWrapper(dir, r.Terraform)
	if err != nil {
		return x, err
	}
	if exe == "" {
		log("setup", "warn", "the work directory does not allow running programs (noexec): Terraform runs without the "+
			"watchdog that ends what it started if this worker dies")
		exe = r.Terraform
	}
	if x.tf, err = tfexec.NewTerraform(x.src, exe); err != nil {
		return x, err
	}
	if err := x.tf.SetEnv(x.env()); err != nil {
		return x, err
	}
	if x.grace > 0 {
		// A cancelled context sends Terraform SIGINT; after the grace period it is killed.
		if err := x.tf.SetWaitDelay(x.grace); err != nil {
			return x, err
		}
	}
	return x, nil
}

// cleanup ends whatever the job's Terraform runs left running in their process groups and removes
// the job's directory (its source, plan and state: the result, if any, is in the outbox by now).
func (x *job) cleanup() {
	if x != nil && x.dir != "" {
		if n := killLeftovers(x.dir); n > 0 {
			x.log("cleanup", "warn", fmt.Sprintf("killed %d process(es) that Terraform started and left running", n))
		}
		_ = os.RemoveAll(x.dir)
		if x.tmp != "" {
			_ = os.RemoveAll(x.tmp)
		}
	}
}

// tmpPrefix names a job's TMPDIR (under the system's), and tmpName the file in the job's directory
// that says which it is, for the sweep after a crash.
const (
	tmpPrefix = "hearth-job-"
	tmpName   = "tmpdir"
)

// sweep cleans up the job directories a previous run of the worker left behind (it died, or was
// killed, mid-job): what their Terraform runs left running is killed and the directories go, with
// the state and plans in them. It returns how many directories and processes it found.
func (r *Runner) sweep() (dirs, procs int) {
	entries, _ := os.ReadDir(r.WorkDir)
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "job-") {
			continue
		}
		dir := filepath.Join(r.WorkDir, e.Name())
		procs += killLeftovers(dir)
		if tmp, err := os.ReadFile(filepath.Join(dir, tmpName)); err == nil &&
			strings.HasPrefix(filepath.Base(string(tmp)), tmpPrefix) && filepath.Dir(string(tmp)) == filepath.Clean(os.TempDir()) {
			_ = os.RemoveAll(string(tmp))
		}
		_ = os.RemoveAll(dir)
		dirs++
	}
	return dirs, procs
}

// cliConfig is the Terraform CLI configuration every job runs with: providers from the mirrors, and
// those no mirror has from their registries only when Direct is set.
func (r *Runner) cliConfig() string {
	if len(r.Mirrors) == 0 {
		return "# no provider mirror: providers come from their registries\n"
	}
	var b strings.Builder
	b.WriteString("provider_installation {\n")
	var mirrored []string
	for _, m := range r.Mirrors {
		fmt.Fprintf(&b, "  filesystem_mirror {\n    path = %q\n  }\n", m)
		mirrored = append(mirrored, mirroredProviders(m)...)
	}
	if r.Direct {
		quoted := make([]string, len(mirrored))
		for i, p := range mirrored {
			quoted[i] = fmt.Sprintf("%q", p)
		}
		fmt.Fprintf(&b, "  direct {\n    exclude = [%s]\n  }\n", strings.Join(quoted, ", "))
	}
	b.WriteString("}\n")
	return b.String()
}

// moduleConfig points Terraform's module registry of each host the server serves modules of at the
// server, with the job's token as the credentials (the file is the job's own, mode 0600).
func (r *Runner) moduleConfig(j *client.ProvisionerJob) string {
	if r.ServerURL == "" || len(j.ModuleHosts) == 0 {
		return ""
	}
	var b strings.Builder
	base := strings.TrimSuffix(r.ServerURL, "/") + "/api/v2/module-registry/"
	for _, h := range j.ModuleHosts {
		fmt.Fprintf(&b, "host %q {\n  services = {\n    \"modules.v1\" = %q\n  }\n}\n", h, base+h+"/")
		fmt.Fprintf(&b, "credentials %q {\n  token = %q\n}\n", h, j.Token)
	}
	return b.String()
}

// mirroredProviders lists host/namespace/type for every provider in a filesystem mirror.
func mirroredProviders(mirror string) []string {
	matches, _ := filepath.Glob(filepath.Join(mirror, "*", "*", "*"))
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		rel, err := filepath.Rel(mirror, m)
		if err == nil {
			out = append(out, filepath.ToSlash(rel))
		}
	}
	return out
}

// env is the job's whole environment: nothing of the worker's own (no HEARTH_* or CODER_*, no
// credentials) leaks into templates.
func (x *job) env() map[string]string {
	env := map[string]string{
		"HOME":               x.dir,
		"TMPDIR":             x.tmp,
		"TF_CLI_CONFIG_FILE": filepath.Join(x.dir, "terraform.rc"),
		"CHECKPOINT_DISABLE": "1",
		"CODER_AGENT_URL":    x.r.AccessURL,
	}
	for _, k := range []string{"PATH", "LANG", "LC_ALL", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"} {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}
	return env
}

// Import runs init and plan on a template version and reports what it found.
func (r *Runner) Import(ctx context.Context, j *client.ProvisionerJob, log logFunc) (*client.ProvisionerImportResult, error) {
	x, err := r.prepare(j, log)
	defer x.cleanup()
	if err != nil {
		return nil, err
	}
	if err := x.init(ctx); err != nil {
		return nil, err
	}
	plan, err := x.plan(ctx, j.Variables, importEnv(j), false)
	if err != nil {
		return nil, err
	}
	x.saveReferences(coderprovider.ConfigReferences(plan))
	res := coderprovider.ParseImport(plan)
	if err := coderprovider.CheckPresets(res); err != nil {
		log("plan", "error", err.Error())
		return nil, err
	}
	return res, nil
}

// Build runs a workspace build: plan (a destroy plan for delete) and apply, from the previous
// build's state, with the environment the coder provider reads. When apply fails after changing
// something, the state it left is returned with the error, so the server keeps it.
func (r *Runner) Build(ctx context.Context, j *client.ProvisionerJob, log logFunc) (*client.ProvisionerBuildResult, []byte, error) {
	if j.Build == nil {
		return nil, nil, errors.New("the job has no build")
	}
	x, err := r.prepare(j, log)
	defer x.cleanup()
	if err != nil {
		return nil, nil, err
	}
	stateFile := filepath.Join(x.src, "terraform.tfstate")
	if j.Build.State != nil && len(*j.Build.State) > 0 {
		if err := os.WriteFile(stateFile, *j.Build.State, 0o600); err != nil {
			return nil, nil, err
		}
	}
	if err := x.init(ctx); err != nil {
		return nil, nil, err
	}
	destroy := j.Build.Transition == client.ProvisionerBuildJobTransitionDelete
	var applyErr error
	refs, known := x.cachedReferences()
	if known {
		// One Terraform run: apply plans and applies, without a plan file to write and show.
		applyErr = x.planAndApply(ctx, j.Variables, j.Build.Env, destroy)
	} else {
		plan, err := x.plan(ctx, j.Variables, j.Build.Env, destroy)
		if err != nil {
			return nil, nil, err
		}
		refs = coderprovider.ConfigReferences(plan)
		x.saveReferences(refs)
		applyErr = x.apply(ctx)
	}
	state, err := os.ReadFile(stateFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	if applyErr != nil {
		return nil, state, applyErr
	}
	st, err := coderprovider.ReadState(state) // nil when nothing was ever created
	if err != nil {
		return nil, state, x.stageError(ctx, "apply", err)
	}
	return &client.ProvisionerBuildResult{State: orEmpty(state), Resources: coderprovider.ParseBuildReferences(st, refs, string(j.Build.Transition))}, nil, nil
}

func orEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (x *job) apply(ctx context.Context) error {
	w, flush := x.jsonLines("apply")
	errOut, flushErr := x.lines("apply", "error")
	x.tf.SetStderr(errOut)
	err := x.tf.ApplyJSON(ctx, w, tfexec.DirOrPlan(filepath.Join(x.dir, "plan.tfplan")))
	flush()
	flushErr()
	x.tf.SetStderr(io.Discard)
	if err != nil {
		return x.stageError(ctx, "apply", err)
	}
	return nil
}

// planAndApply runs apply without a plan file: Terraform plans and applies in one run. Its output
// is logged as the plan stage until the plan's summary, then as the apply stage (data sources are
// read, as apply_start messages, during the plan).
func (x *job) planAndApply(ctx context.Context, vars []client.ProvisionerVariable, env map[string]string, destroy bool) error {
	if err := x.setBuildEnv(env); err != nil {
		return err
	}
	opts := []tfexec.ApplyOption{tfexec.Destroy(destroy)}
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v.Name+"="+v.Value))
	}
	stage := "plan"
	x.log(stage, "info", "planning and applying in one Terraform run")
	w, flush := x.jsonStages(func(msgType, operation string) string {
		switch {
		case msgType == "change_summary" && operation == "plan":
			defer func() { stage = "apply" }()
		case msgType == "change_summary", msgType == "outputs": // no plan summary: nothing to change
			stage = "apply"
		}
		return stage
	})
	errOut, flushErr := x.lines("apply", "error")
	x.tf.SetStderr(errOut)
	err := x.tf.ApplyJSON(ctx, w, opts...)
	flush()
	flushErr()
	x.tf.SetStderr(io.Discard)
	if err != nil {
		return x.stageError(ctx, stage, err)
	}
	return nil
}

func (x *job) init(ctx context.Context) error {
	if x.useInitCache() {
		x.log("init", "info", "providers and modules as an earlier job of this template version installed them (init skipped)")
		return nil
	}
	// With -json (Terraform 1.9 and newer), a template's mistakes come as diagnostics with their file
	// and line; older ones print text.
	errOut, flushErr := x.lines("init", "error")
	x.tf.SetStderr(errOut)
	w, flush := x.jsonLines("init")
	err := x.tf.InitJSON(ctx, w, tfexec.Upgrade(false))
	flush()
	var old *tfexec.ErrVersionMismatch
	if errors.As(err, &old) {
		out, flushOut := x.lines("init", "info")
		x.tf.SetStdout(out)
		err = x.tf.Init(ctx, tfexec.Upgrade(false))
		flushOut()
	}
	flushErr()
	x.tf.SetStdout(io.Discard)
	x.tf.SetStderr(io.Discard)
	if err != nil {
		return x.stageError(ctx, "init", err)
	}
	x.saveInitCache()
	return nil
}

// importEnv is what an import's plan runs with: a start of a workspace that does not exist yet.
func importEnv(j *client.ProvisionerJob) map[string]string {
	return map[string]string{"CODER_WORKSPACE_TRANSITION": "start", "CODER_WORKSPACE_TEMPLATE_ID": j.TemplateVersionId,
		"CODER_WORKSPACE_TEMPLATE_NAME": "import", "CODER_WORKSPACE_TEMPLATE_VERSION": j.TemplateVersionId}
}

// setBuildEnv adds a build's environment (what the coder provider reads) to the job's.
func (x *job) setBuildEnv(env map[string]string) error {
	if len(env) == 0 {
		return nil
	}
	merged := x.env()
	for k, v := range env {
		merged[k] = v
	}
	return x.tf.SetEnv(merged)
}

func (x *job) plan(ctx context.Context, vars []client.ProvisionerVariable, env map[string]string, destroy bool) (*tfjson.Plan, error) {
	if err := x.setBuildEnv(env); err != nil {
		return nil, err
	}
	planFile := filepath.Join(x.dir, "plan.tfplan")
	opts := []tfexec.PlanOption{tfexec.Out(planFile), tfexec.Destroy(destroy)}
	for _, v := range vars {
		opts = append(opts, tfexec.Var(v.Name+"="+v.Value))
	}
	w, flush := x.jsonLines("plan")
	errOut, flushErr := x.lines("plan", "error")
	x.tf.SetStderr(errOut)
	_, err := x.tf.PlanJSON(ctx, w, opts...)
	flush()
	flushErr()
	x.tf.SetStderr(io.Discard)
	if err != nil {
		return nil, x.stageError(ctx, "plan", err)
	}
	plan, err := x.tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		return nil, x.stageError(ctx, "plan", err)
	}
	return plan, nil
}

// lines turns a stream into log lines of one stage and level.
func (x *job) lines(stage, level string) (io.Writer, func()) {
	return lineWriter(func(line string) {
		if level == "error" {
			x.logError(line)
		}
		x.log(stage, level, line)
	})
}

// jsonLines turns Terraform's -json output into log lines of one stage, with Terraform's own levels.
func (x *job) jsonLines(stage string) (io.Writer, func()) {
	return x.jsonStages(func(string, string) string { return stage })
}

// jsonStages turns Terraform's -json output into log lines with Terraform's own levels, in the stage
// stageOf gives for each message (by its type and, for a change summary, its operation).
func (x *job) jsonStages(stageOf func(msgType, operation string) string) (io.Writer, func()) {
	return lineWriter(func(line string) {
		var m struct {
			Level      string             `json:"@level"`
			Message    string             `json:"@message"`
			Type       string             `json:"type"`
			Diagnostic *tfjson.Diagnostic `json:"diagnostic"`
			Changes    struct {
				Operation string `json:"operation"`
			} `json:"changes"`
		}
		if json.Unmarshal([]byte(line), &m) != nil || m.Message == "" {
			x.log(stageOf("", ""), "info", line)
			return
		}
		stage := stageOf(m.Type, m.Changes.Operation)
		if m.Type == "version" {
			return
		}
		if m.Type == "diagnostic" {
			x.diagnostic(m.Diagnostic)
		}
		level := m.Level
		switch level {
		case "trace", "debug", "info", "warn", "error":
		default:
			level = "info"
		}
		if level == "error" {
			x.logError(m.Message)
		}
		x.log(stage, level, m.Message)
	})
}

// lineWriter calls fn for every line written; flush ends a last unterminated line.
func lineWriter(fn func(string)) (io.Writer, func()) {
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fn(strings.TrimRight(sc.Text(), "\r"))
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	return pw, func() {
		_ = pw.Close()
		wg.Wait()
	}
}
