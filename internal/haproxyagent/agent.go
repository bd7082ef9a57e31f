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

// Agent keeps one HAProxy (master-worker mode) in step with a configuration directory.
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

	mu        sync.Mutex
	live      Config
	liveSum   string   // checksum of the files in LiveDir
	certSum   string   // checksum of the certificate files the live configuration names
	seenSum   string   // the last desired configuration handled (applied or refused)
	seenCert  string   // the certificates' checksum when it was handled
	seenFiles []string // the certificate files it names
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
	// Refused is set when the desired configuration failed validation and was not loaded.
	Refused bool
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
// init container does before HAProxy starts.
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
	return a.validateAndSwap(ctx, files)
}

// Ready reports whether HAProxy runs the live configuration and its Runtime API answers.
func (a *Agent) Ready() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.ready {
		if a.lastFail == "" {
			return errors.New("not synced yet")
		}
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
		if _, err := a.Sync(ctx); err != nil && ctx.Err() == nil {
			if err.Error() != last {
				a.Log.Error(err, "sync failed; retrying every interval")
			}
			last = err.Error()
		} else if err == nil && last != "" {
			a.Log.Info("sync works again")
			last = ""
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
	}
	// Nothing new (the common tick): no parse, only the certificates' content is checked.
	if sum == a.seenSum && fileSum(a.seenFiles) == a.seenCert {
		if err := a.probe(ctx); err != nil {
			return Outcome{}, err
		}
		return Outcome{}, nil
	}
	desired := Parse(files)
	certSum := fileSum(desired.Files)
	start := time.Now()
	out := Outcome{Changed: true}
	out.Reload = ReloadReason(a.live, desired)
	if out.Reload == "" && certSum != a.certSum {
		out.Reload = ReasonCertificate
	}
	if out.Reload == "" {
		n, reason, err := a.applyRuntime(ctx, desired)
		out.Commands = n
		if err != nil {
			a.Log.Info("the Runtime API could not apply the change; reloading instead", "reason", reason, "error", err.Error())
			out.Reload = reason
		} else {
			if err := a.writeLive(files); err != nil {
				return out, a.fail("write", err)
			}
			if n > 0 {
				a.Metrics.RuntimeUpdates.Inc()
				a.Metrics.RuntimeCommands.Add(float64(n))
			}
		}
	}
	if out.Reload != "" {
		if err := a.validateAndSwap(ctx, files); err != nil {
			var invalid *InvalidError
			if errors.As(err, &invalid) {
				a.seenSum, a.seenCert, a.seenFiles = sum, certSum, desired.Files // refused until it changes again; the running one keeps serving
				out.Refused = true
				a.Metrics.Failures.WithLabelValues("validate").Inc()
				a.Log.Error(err, "refused an invalid configuration; still serving the last good one", "checksum", sum)
				return out, nil
			}
			return out, a.fail("write", err)
		}
		if err := a.reload(ctx); err != nil {
			return out, a.fail("reload", err)
		}
		a.Metrics.Reloads.WithLabelValues(out.Reload).Inc()
		a.Log.Info("reloaded HAProxy", "reason", out.Reload, "checksum", sum)
	} else {
		a.Log.Info("applied at runtime, no reload", "commands", out.Commands, "checksum", sum)
	}
	a.live, a.liveSum, a.certSum = desired, sum, certSum
	a.seenSum, a.seenCert, a.seenFiles = sum, certSum, desired.Files
	a.Metrics.Applied(sum)
	a.Metrics.ApplySeconds.Observe(time.Since(start).Seconds())
	// Ready means the next node change can be applied without a reload.
	if err := a.probe(ctx); err != nil {
		a.Log.Info("applied, but not ready: the master CLI does not answer", "error", err.Error())
	}
	return out, nil
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
	a.live = Parse(files)
	a.liveSum = Checksum(files)
	a.certSum = fileSum(a.live.Files)
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

// validateAndSwap writes the files next to the live directory, validates them there and makes
// them the live directory.
func (a *Agent) validateAndSwap(ctx context.Context, files []File) error {
	next := a.LiveDir + ".next"
	if err := writeFiles(next, files); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, a.HAProxy, "-c", "-f", next)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		_ = os.RemoveAll(next)
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return &InvalidError{Output: strings.TrimSpace(out.String())}
		}
		return fmt.Errorf("running %s -c: %w", a.HAProxy, err)
	}
	return swap(next, a.LiveDir)
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
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(live, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(next, live); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

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
			return fmt.Errorf("HAProxy could not load the configuration; the previous worker keeps serving")
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
