package haproxyagent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
)

// RecheckInterval is how often the binds of frontends left out are tried again: when the port
// is free again (the process that held it went), the frontend is loaded with one reload.
const RecheckInterval = 30 * time.Second

// Agent keeps one HAProxy (master-worker mode) in step with a configuration directory.
//
// The live directory always holds a configuration the running HAProxy started from, with the
// runtime changes applied since: a restart of HAProxy, or of the pod (through Install), serves
// again. A new configuration is promoted to it only once HAProxy has loaded it.
type Agent struct {
	// ConfigDir is the mounted configuration (the operator's ConfigMaps, *.cfg files).
	ConfigDir string
	// LiveDir is the directory HAProxy runs from (haproxy -f LiveDir): the last configuration
	// that was applied, so that a reload or a restart starts from it.
	LiveDir string
	// HAProxy is the haproxy binary that validates a configuration before a reload.
	HAProxy string
	Runtime Runtime
	// PIDFile holds the master's PID (haproxy -p): a reload falls back to SIGUSR2 when the
	// master CLI does not answer.
	PIDFile string
	Log     logr.Logger
	Metrics *Metrics
	// BindProbe tries a bind a new configuration asks for before HAProxy is asked to reload
	// (nil: TryBind, on the host the agent shares with HAProxy).
	BindProbe BindProbe
	// Reporter is told of every problem once, to attribute it upstream (nil: the log only).
	Reporter Reporter

	mu        sync.Mutex
	live      Config
	liveFiles []File   // the files in LiveDir
	liveSum   string   // their checksum
	certSum   string   // checksum of the certificate files the live configuration names
	seenSum   string   // the last desired configuration handled (applied or refused)
	seenCert  string   // the certificates' checksum when it was handled
	seenFiles []string // the certificate files it names
	// refused is the shape (every section but the servers' addresses and states, and the
	// certificates) of a configuration HAProxy would not take; a desired configuration of the
	// same shape is not tried again, only its servers are applied.
	refused   string
	refusedAs Problem
	leftOut   []LeftOut // frontends of the desired configuration not loaded: their bind fails
	recheckAt time.Time
	pending   string // why the desired configuration is not the running one; "" when it is
	ready     bool
	loaded    bool
	lastFail  string
}

// Outcome is what one Sync did.
type Outcome struct {
	// Changed is false when the desired configuration was already applied (or refused).
	Changed bool
	// Reload is why HAProxy was reloaded, "" when the change was applied at runtime.
	Reload string
	// Commands is the number of Runtime API commands sent.
	Commands int
	// Refused is set when HAProxy would not take the desired configuration (haproxy -c, or
	// the reload failed): the last one that started keeps serving, with the servers updated.
	Refused bool
	// LeftOut are the frontends loaded without: their binds fail on this host.
	LeftOut []LeftOut
	// Problems are new problems to report upstream (each is reported once).
	Problems []Problem
}

// ReadDir reads the *.cfg files of a directory, following the kubelet's symlinks and skipping
// its ..data bookkeeping. It reads twice and returns ok=false when the two reads differ (the
// kubelet swapped the files in between).
func ReadDir(dir string) ([]File, bool, error) {
	read := func() ([]File, error) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		var files []File
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, "..") || !strings.HasSuffix(name, ".cfg") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				return nil, err
			}
			files = append(files, File{Name: name, Data: string(data)})
		}
		return files, nil
	}
	a, err := read()
	if err != nil {
		return nil, false, err
	}
	b, err := read()
	if err != nil {
		return nil, false, err
	}
	return a, Checksum(a) == Checksum(b), nil
}

// Install validates the configuration directory and copies it to the live directory: what an
// init container does before HAProxy starts. Frontends whose binds fail on this host are left
// out (and logged), so that one of them cannot keep HAProxy from starting for every tenant.
func (a *Agent) Install(ctx context.Context) error {
	files, ok, err := ReadDir(a.ConfigDir)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s changed while it was read", a.ConfigDir)
	}
	if len(files) == 0 {
		return fmt.Errorf("no *.cfg files in %s", a.ConfigDir)
	}
	left := checkNewBinds(nil, Binds(files), a.bindProbe())
	for _, l := range left {
		a.Log.Error(errors.New(l.Reason), "frontend left out: HAProxy could not bind it", "where", l.Where(), "exposure", l.Owner, "tenant", l.Tenant)
	}
	effective := withoutFrontends(files, left)
	if err := a.validate(ctx, a.LiveDir+".next", effective); err != nil {
		return err
	}
	return swap(a.LiveDir+".next", a.LiveDir)
}

// Ready reports whether HAProxy runs the desired configuration and its Runtime API answers.
func (a *Agent) Ready() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.pending != "":
		return errors.New(a.pending)
	case !a.ready && a.lastFail == "":
		return errors.New("not synced yet")
	case !a.ready:
		return errors.New(a.lastFail)
	}
	return nil
}

// Handled is the checksum of the last configuration the agent applied or refused.
func (a *Agent) Handled() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seenSum
}

// Run syncs every interval until ctx ends.
func (a *Agent) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	last := ""
	for {
		// A failure is logged when it starts or changes, not on every tick it lasts.
		out, err := a.Sync(ctx)
		if err != nil && ctx.Err() == nil {
			if err.Error() != last {
				a.Log.Error(err, "sync failed; retrying every interval")
			}
			last = err.Error()
		} else if err == nil && last != "" {
			a.Log.Info("sync works again")
			last = ""
		}
		if a.Reporter != nil {
			for _, p := range out.Problems {
				a.Reporter.Report(ctx, p)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sync compares the configuration directory with what runs and applies the difference: at
// runtime when only servers' addresses and states differ, by a validated reload otherwise.
//
// A configuration HAProxy cannot take costs at most one attempt: a frontend whose bind fails
// on this host is left out before the reload (every other frontend is loaded); one that
// haproxy -c refuses, or whose reload fails, is not tried again until its shape changes, and
// the running configuration gets its servers meanwhile.
func (a *Agent) Sync(ctx context.Context) (Outcome, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.loaded {
		if err := a.loadLive(); err != nil {
			return Outcome{}, a.fail("read", err)
		}
	}
	files, ok, err := ReadDir(a.ConfigDir)
	if err != nil {
		return Outcome{}, a.fail("read", err)
	}
	if !ok || len(files) == 0 {
		return Outcome{}, nil // the kubelet is swapping the files, or the volume is not there yet
	}
	sum := Checksum(files)
	if a.seenSum == "" && sum == a.liveSum {
		// Started (or restarted) on what HAProxy already runs: the live directory is kept
		// equal to the running state, so there is nothing to apply.
		a.seenSum, a.seenCert, a.seenFiles = sum, a.certSum, a.live.Files
		a.Metrics.Applied(sum)
		a.setPending("")
	}
	// Nothing new (the common tick): no parse, only the certificates' content is checked, and
	// now and then whether a frontend left out could bind now.
	if sum == a.seenSum && fileSum(a.seenFiles) == a.seenCert && !a.recheckDue() {
		if err := a.probe(ctx); err != nil {
			return Outcome{}, err
		}
		return Outcome{}, nil
	}
	start := time.Now()
	out := Outcome{Changed: true}
	out.LeftOut = checkNewBinds(Binds(a.liveFiles), Binds(files), a.bindProbe())
	effective := withoutFrontends(files, out.LeftOut)
	desired := Parse(effective)
	certSum := fileSum(desired.Files)
	out.Problems = a.noteLeftOut(out.LeftOut)
	out.Reload = ReloadReason(a.live, desired)
	if out.Reload == "" && certSum != a.certSum {
		out.Reload = ReasonCertificate
	}
	shape := shapeOf(desired, certSum)
	if out.Reload != "" && shape == a.refused {
		// HAProxy did not take this shape before: no new attempt, the servers only.
		n, err := a.applyServersOnly(ctx, desired, effective)
		out.Commands, out.Refused = n, true
		a.seenSum, a.seenCert, a.seenFiles = sum, certSum, desired.Files
		return out, err
	}
	if out.Reload == "" {
		n, reason, err := a.applyRuntime(ctx, desired)
		out.Commands = n
		if err != nil {
			a.Log.Info("the Runtime API could not apply the change; reloading instead", "reason", reason, "error", err.Error())
			out.Reload = reason
		} else {
			if err := a.writeLive(effective); err != nil {
				return out, a.fail("write", err)
			}
			if n > 0 {
				a.Metrics.RuntimeUpdates.Inc()
				a.Metrics.RuntimeCommands.Add(float64(n))
			}
		}
	}
	if out.Reload != "" {
		next := a.LiveDir + ".next"
		if err := a.validate(ctx, next, effective); err != nil {
			var invalid *InvalidError
			if !errors.As(err, &invalid) {
				return out, a.fail("write", err)
			}
			p := Problem{Reason: ProblemInvalid, Message: err.Error(), Binds: changedBinds(a.live, desired, effective)}
			return a.refuse(ctx, out, p, "validate", shape, sum, certSum, desired, effective)
		}
		// The new files become the live ones for the reload; the previous ones wait beside
		// them until HAProxy has loaded the new ones, and come back if it did not.
		prev := a.LiveDir + ".prev"
		if err := promote(next, a.LiveDir, prev); err != nil {
			return out, a.fail("write", err)
		}
		if err := a.reload(ctx); err != nil {
			if rerr := promote(prev, a.LiveDir, ""); rerr != nil {
				return out, a.fail("write", fmt.Errorf("putting back the live configuration after a failed reload: %w", rerr))
			}
			if errors.Is(err, errReloadFailed) {
				p := Problem{Reason: ProblemReloadFailed, Message: err.Error(), Binds: changedBinds(a.live, desired, effective)}
				return a.refuse(ctx, out, p, "reload", shape, sum, certSum, desired, effective)
			}
			return out, a.fail("reload", err)
		}
		_ = os.RemoveAll(prev)
		a.Metrics.Reloads.WithLabelValues(out.Reload).Inc()
		a.Log.Info("reloaded HAProxy", "reason", out.Reload, "checksum", sum)
	} else {
		a.Log.Info("applied at runtime, no reload", "commands", out.Commands, "checksum", sum)
	}
	a.setLive(effective, desired, certSum)
	a.refused, a.refusedAs = "", Problem{}
	a.seenSum, a.seenCert, a.seenFiles = sum, certSum, desired.Files
	a.Metrics.Applied(sum)
	a.Metrics.ApplySeconds.Observe(time.Since(start).Seconds())
	a.setPending(describeLeftOut(out.LeftOut))
	// Ready means the next node change can be applied without a reload.
	if err := a.probe(ctx); err != nil {
		a.Log.Info("applied, but not ready: the master CLI does not answer", "error", err.Error())
	}
	return out, nil
}

// refuse records that HAProxy would not take the desired configuration: said once (a log line,
// the failure counted, a problem to report), not tried again while its shape stays, and the
// servers applied to the configuration that runs.
func (a *Agent) refuse(ctx context.Context, out Outcome, p Problem, stage, shape, sum, certSum string, desired Config, effective []File) (Outcome, error) {
	a.refused, a.refusedAs = shape, p
	a.Metrics.Failures.WithLabelValues(stage).Inc()
	a.Log.Error(errors.New(p.Message), "HAProxy did not take the new configuration; the last one that started keeps serving and gets the servers' changes; not tried again until the configuration changes",
		"checksum", sum, "changed", wheres(p.Binds))
	out.Refused = true
	out.Problems = append(out.Problems, p)
	a.seenSum, a.seenCert, a.seenFiles = sum, certSum, desired.Files
	n, err := a.applyServersOnly(ctx, desired, effective)
	out.Commands += n
	return out, err
}

// applyServersOnly applies the servers of desired to the running configuration, for the
// backends whose slots are the same in both, and writes them into the live files.
func (a *Agent) applyServersOnly(ctx context.Context, desired Config, effective []File) (int, error) {
	a.setPending("the desired configuration is not running: " + a.refusedAs.Message)
	same := map[string]bool{}
	for h, body := range desired.Sections {
		if backend, ok := strings.CutPrefix(h, "backend "); ok && a.live.Sections[h] == body {
			same[backend] = true
		}
	}
	var servers []Server
	for _, s := range desired.Servers {
		if same[s.Backend] {
			servers = append(servers, s)
		}
	}
	// The live files hold the servers that run: nothing to ask HAProxy when they are the same.
	liveServers := map[string]Server{}
	for _, s := range a.live.Servers {
		liveServers[s.Key()] = s
	}
	if !slices.ContainsFunc(servers, func(s Server) bool { return liveServers[s.Key()] != s }) {
		return 0, nil
	}
	running, err := a.Runtime.ServersState(ctx)
	if err != nil {
		return 0, a.fail("runtime", fmt.Errorf("the master CLI does not answer: %w", err))
	}
	cmds, err := Commands(servers, running)
	if err != nil {
		return 0, a.fail("runtime", err)
	}
	if len(cmds) > 0 {
		if err := a.Runtime.Apply(ctx, cmds); err != nil {
			return len(cmds), a.fail("runtime", err)
		}
		a.Metrics.RuntimeUpdates.Inc()
		a.Metrics.RuntimeCommands.Add(float64(len(cmds)))
		a.Log.Info("applied the servers' changes at runtime to the configuration that runs", "commands", len(cmds))
	}
	files := withServers(a.liveFiles, effective, same)
	if Checksum(files) != a.liveSum {
		if err := a.writeLive(files); err != nil {
			return len(cmds), a.fail("write", err)
		}
		a.setLive(files, Parse(files), a.certSum)
	}
	return len(cmds), nil
}

func (a *Agent) setLive(files []File, c Config, certSum string) {
	a.liveFiles, a.live, a.liveSum, a.certSum = files, c, Checksum(files), certSum
}

func (a *Agent) setPending(why string) {
	a.pending = why
	a.Metrics.DesiredRunning(why == "", len(a.leftOut))
}

// recheckDue reports whether a frontend left out should be tried again now.
func (a *Agent) recheckDue() bool {
	if len(a.leftOut) == 0 || time.Now().Before(a.recheckAt) {
		return false
	}
	a.recheckAt = time.Now().Add(RecheckInterval)
	probe := a.bindProbe()
	for _, l := range a.leftOut {
		if probe(l.Addr) == nil {
			a.Log.Info("a frontend left out can bind now; loading it", "where", l.Where())
			return true
		}
	}
	return false
}

// noteLeftOut logs, counts and returns as problems the frontends left out that were not left
// out before; the ones that still are stay quiet.
func (a *Agent) noteLeftOut(left []LeftOut) []Problem {
	before := map[string]bool{}
	for _, l := range a.leftOut {
		before[l.String()] = true
	}
	var problems []Problem
	for _, l := range left {
		if before[l.String()] {
			continue
		}
		a.Metrics.Failures.WithLabelValues("bind").Inc()
		a.Log.Error(errors.New(l.Reason), "frontend left out: HAProxy could not bind it; every other frontend is loaded",
			"where", l.Where(), "exposure", l.Owner, "tenant", l.Tenant)
		problems = append(problems, Problem{Reason: ProblemBindRefused,
			Message: fmt.Sprintf("HAProxy cannot bind %s on %s: %s; frontend %s (%s:%d) is left out until the port is free or the configuration changes",
				l.Addr, hostname(), l.Reason, l.Frontend, l.File, l.Line),
			Binds: []Bind{l.Bind}})
	}
	if len(left) > 0 && len(a.leftOut) == 0 {
		a.recheckAt = time.Now().Add(RecheckInterval)
	}
	a.leftOut = left
	return problems
}

func describeLeftOut(left []LeftOut) string {
	if len(left) == 0 {
		return ""
	}
	parts := make([]string, len(left))
	for i, l := range left {
		parts[i] = l.String()
	}
	return "frontends left out, their binds fail: " + strings.Join(parts, "; ")
}

func (a *Agent) bindProbe() BindProbe {
	if a.BindProbe != nil {
		return a.BindProbe
	}
	return TryBind
}

func hostname() string {
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "this host"
}

// probe checks that the Runtime API still answers, for readiness.
func (a *Agent) probe(ctx context.Context) error {
	if _, _, err := a.Runtime.Reloads(ctx); err != nil {
		return a.fail("runtime", fmt.Errorf("the master CLI does not answer: %w", err))
	}
	a.ready, a.lastFail = true, ""
	return nil
}

func (a *Agent) fail(stage string, err error) error {
	a.Metrics.Failures.WithLabelValues(stage).Inc()
	a.ready, a.lastFail = false, stage+": "+err.Error()
	return err
}

// loadLive reads the configuration HAProxy was started from.
func (a *Agent) loadLive() error {
	files, _, err := ReadDir(a.LiveDir)
	if err != nil {
		return fmt.Errorf("reading the live configuration %s (run the agent with --install first): %w", a.LiveDir, err)
	}
	c := Parse(files)
	a.setLive(files, c, fileSum(c.Files))
	a.loaded = true
	return nil
}

// applyRuntime takes the running servers to the desired ones and checks that they got there.
func (a *Agent) applyRuntime(ctx context.Context, desired Config) (int, string, error) {
	// The master CLI may be restarting (during a reload) or not yet up: a few tries first.
	var running map[string]ServerState
	var err error
	for try := range 5 {
		if running, err = a.Runtime.ServersState(ctx); err == nil {
			break
		}
		if try < 4 {
			select {
			case <-ctx.Done():
				return 0, ReasonRuntimeUnreachable, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if err != nil {
		return 0, ReasonRuntimeUnreachable, err
	}
	cmds, err := Commands(desired.Servers, running)
	if err != nil {
		return 0, ReasonRuntimeFailed, err
	}
	if len(cmds) == 0 {
		return 0, "", nil
	}
	if err := a.Runtime.Apply(ctx, cmds); err != nil {
		return len(cmds), ReasonRuntimeUnreachable, err
	}
	after, err := a.Runtime.ServersState(ctx)
	if err != nil {
		return len(cmds), ReasonRuntimeUnreachable, err
	}
	if left, _ := Commands(desired.Servers, after); len(left) > 0 {
		return len(cmds), ReasonRuntimeFailed, fmt.Errorf("still to do after applying: %s", strings.Join(left[:min(3, len(left))], "; "))
	}
	return len(cmds), "", nil
}

// InvalidError is a configuration haproxy -c refused.
type InvalidError struct{ Output string }

func (e *InvalidError) Error() string { return "haproxy -c refused the configuration: " + e.Output }

// validate writes the files into dir and checks them there with haproxy -c.
func (a *Agent) validate(ctx context.Context, dir string, files []File) error {
	if err := writeFiles(dir, files); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, a.HAProxy, "-c", "-f", dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(dir)
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return &InvalidError{Output: strings.TrimSpace(out.String())}
		}
		return fmt.Errorf("running %s -c: %w", a.HAProxy, err)
	}
	return nil
}

// writeLive replaces the live files after a runtime change, so that the next reload or restart
// starts from what runs.
func (a *Agent) writeLive(files []File) error {
	next := a.LiveDir + ".next"
	if err := writeFiles(next, files); err != nil {
		return err
	}
	return swap(next, a.LiveDir)
}

func writeFiles(dir string, files []File) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), []byte(f.Data), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// swap makes next the live directory; the previous one is removed.
func swap(next, live string) error {
	old := live + ".old"
	if err := promote(next, live, old); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// promote makes next the live directory and keeps the previous one as keep ("" drops it).
func promote(next, live, keep string) error {
	if keep == "" {
		keep = live + ".old"
		defer os.RemoveAll(keep)
	}
	if err := os.RemoveAll(keep); err != nil {
		return err
	}
	if err := os.Rename(live, keep); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.Rename(next, live)
}

// errReloadFailed is a reload the master counted as failed: the new configuration passed
// haproxy -c but could not start (a bind, a resource); the running worker keeps serving.
var errReloadFailed = errors.New("HAProxy could not start the configuration that haproxy -c accepted (its reason is in the haproxy container's log); the previous worker keeps serving")

// reload asks the master CLI to reload and waits until the master counts it; without the
// master CLI it signals the master (SIGUSR2) from its PID file.
func (a *Agent) reload(ctx context.Context) error {
	before, failedBefore, err := a.Runtime.Reloads(ctx)
	if err != nil {
		a.Log.Info("the master CLI does not answer; reloading with SIGUSR2", "error", err.Error())
		return a.signalReload()
	}
	if err := a.Runtime.Reload(ctx); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		now, failed, err := a.Runtime.Reloads(ctx)
		switch {
		case err != nil:
			// The master re-executes itself on reload; its CLI is back in a moment.
		case failed > failedBefore:
			return errReloadFailed
		case now > before:
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("the master did not report the reload within 30s")
}

func (a *Agent) signalReload() error {
	if a.PIDFile == "" {
		return errors.New("neither the master CLI nor a PID file to reload HAProxy with")
	}
	data, err := os.ReadFile(a.PIDFile)
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0]))
	if err != nil || pid <= 1 {
		return fmt.Errorf("PID file %s: %q is not a PID", a.PIDFile, data)
	}
	return syscall.Kill(pid, syscall.SIGUSR2)
}

// fileSum is a checksum of the named files' content; a file that cannot be read counts as
// empty (haproxy -c reports it on the reload it causes).
func fileSum(paths []string) string {
	h := sha256.New()
	for _, p := range slices.Sorted(slices.Values(paths)) {
		data, _ := os.ReadFile(p)
		h.Write([]byte(p))
		h.Write([]byte{0})
		h.Write(data)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}
