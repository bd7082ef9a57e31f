package haproxyagent

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/inference-exposure/inference-exposure-operator/internal/testsupport"
)

// nameServer answers every connection with its name and a newline, then closes it.
func nameServer(t *testing.T, name, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(name + "\n"))
			_ = c.Close()
		}
	}()
}

// askName connects to addr and returns the name the server behind it gives.
func askName(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// recorder is a Reporter that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	problems []Problem
}

func (r *recorder) Report(_ context.Context, p Problem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, p)
}

func (r *recorder) all() []Problem {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Problem(nil), r.problems...)
}

// haproxyProc is a real haproxy in master-worker mode that the test can stop and start again.
type haproxyProc struct {
	cmd *exec.Cmd
	out *testsupport.Output
}

func startHAProxy(t *testing.T, bin string, a *Agent) *haproxyProc {
	t.Helper()
	p := &haproxyProc{out: &testsupport.Output{}}
	p.cmd = exec.Command(bin, "-W", "-db", "-S", a.Runtime.Socket, "-p", a.PIDFile, "-f", a.LiveDir)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", p.out.String())
		}
	})
	return p
}

func (p *haproxyProc) stop() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// heldPortConfig is the operator's layout in small: a global part, and a shard with tenant
// alpha's frontend to a backend with one server slot.
func heldPortConfig(alphaPort int32, server string, serverPort int32) []File {
	global := "global\n    log stdout format raw local0\n\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\n"
	shard := fmt.Sprintf("# tenant alpha\n\nfrontend ft_alpha_grpc\n    bind 127.0.0.1:%d  # tenant-alpha/triton\n    default_backend bk_alpha_grpc\n\n"+
		"backend bk_alpha_grpc\n    server s1 %s:%d  # gpu-1\n", alphaPort, server, serverPort)
	return []File{{Name: "00-global.cfg", Data: global}, {Name: "shard-00.cfg", Data: shard}}
}

// withBetaOn adds tenant beta's frontend on port (in a shard of its own) to files.
func withBetaOn(files []File, port int32, serverPort int32) []File {
	beta := fmt.Sprintf("# tenant beta\n\nfrontend ft_beta_grpc\n    bind 127.0.0.1:%d  # tenant-beta/evict\n    default_backend bk_beta_grpc\n\n"+
		"backend bk_beta_grpc\n    server s1 127.0.0.4:%d  # gpu-1\n", port, serverPort)
	return append(append([]File(nil), files...), File{Name: "shard-01.cfg", Data: beta})
}

// heldPortScene is what both held-port tests start from: name servers on three node
// addresses, a port another process holds, tenant alpha's configuration written, and an agent
// (not yet installed) over it.
type heldPortScene struct {
	bin                             string
	configDir                       string
	alphaPort, serverPort, heldPort int32
	held                            net.Listener
	good                            []File
	metrics                         *Metrics
	reports                         *recorder
	agent                           *Agent
}

func newHeldPortScene(t *testing.T, bin string) *heldPortScene {
	t.Helper()
	dir := t.TempDir()
	sc := &heldPortScene{bin: bin, configDir: filepath.Join(dir, "config"), metrics: NewMetrics(nil), reports: &recorder{}}
	sc.alphaPort = testsupport.FreePort(t, "127.0.0.1")
	sc.serverPort = testsupport.FreePort(t, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	for i, name := range []string{"gpu-a", "gpu-b", "gpu-c"} {
		nameServer(t, name, fmt.Sprintf("127.0.0.%d:%d", i+2, sc.serverPort))
	}
	// The port the new frontend asks for is held by another process, as the kubelet holds 10250.
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = held.Close() })
	sc.held, sc.heldPort = held, int32(held.Addr().(*net.TCPAddr).Port)
	sc.good = heldPortConfig(sc.alphaPort, "127.0.0.2", sc.serverPort)
	writeConfig(t, sc.configDir, sc.good)
	sc.agent = &Agent{
		ConfigDir: sc.configDir, LiveDir: filepath.Join(dir, "live", "cfg"), HAProxy: bin,
		Runtime: Runtime{Socket: filepath.Join(dir, "master.sock")}, PIDFile: filepath.Join(dir, "haproxy.pid"),
		Log: testr.New(t), Metrics: sc.metrics, Reporter: sc.reports,
	}
	return sc
}

// TestFrontendOnHeldPort: a new frontend asks for a port another process holds (the kubelet's,
// say). With the real haproxy in master-worker mode and the agent running, over 20 s that span
// the change, connections to another tenant's frontend keep succeeding (99.9 % or more), a
// server change made meanwhile is applied at runtime, the problem is said once with the
// exposure it comes from, readiness says what is left out, and an HAProxy restarted from the
// live directory serves again.
func TestFrontendOnHeldPort(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install -y haproxy; .ci/run does it): skipping the end-to-end test")
	}
	if testing.Short() {
		t.Skip("runs for 20 s")
	}
	sc := newHeldPortScene(t, bin)
	alphaPort, serverPort, heldPort, held, good := sc.alphaPort, sc.serverPort, sc.heldPort, sc.held, sc.good
	configDir, metrics, reports, agent := sc.configDir, sc.metrics, sc.reports, sc.agent
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := agent.Install(ctx); err != nil {
		t.Fatal(err)
	}
	hp := startHAProxy(t, bin, agent)
	alpha := fmt.Sprintf("127.0.0.1:%d", alphaPort)
	testsupport.WaitListening(t, alpha)
	agentDone := make(chan struct{})
	go func() { defer close(agentDone); _ = agent.Run(ctx, 100*time.Millisecond) }()
	defer func() { cancel(); <-agentDone }()
	eventually(t, "the agent is ready", func() bool { return agent.Ready() == nil })

	// Connections to alpha, every 10 ms for 20 s, while beta's frontend arrives.
	const window = 20 * time.Second
	type tally struct{ ok, failed int }
	done := make(chan tally, 1)
	go func() {
		var n tally
		end := time.Now().Add(window)
		for i := 0; time.Now().Before(end) && i < 4000; i++ {
			if _, err := askName(alpha); err != nil {
				n.failed++
			} else {
				n.ok++
			}
			time.Sleep(10 * time.Millisecond)
		}
		done <- n
	}()

	time.Sleep(2 * time.Second) // some connections before the change, to span it
	bad := withBetaOn(good, heldPort, serverPort)
	writeConfig(t, configDir, bad)
	eventually(t, "the agent handled beta's frontend", func() bool { return agent.Handled() == Checksum(bad) })
	// Node churn goes on: alpha's server moves while beta's frontend cannot be loaded.
	moved := withBetaOn(heldPortConfig(alphaPort, "127.0.0.3", serverPort), heldPort, serverPort)
	writeConfig(t, configDir, moved)
	eventually(t, "the agent handled the server change", func() bool { return agent.Handled() == Checksum(moved) })
	eventually(t, "alpha's new connections reach the moved server", func() bool { n, _ := askName(alpha); return n == "gpu-b" })

	n := <-done
	total := n.ok + n.failed
	t.Logf("connections to alpha over %s: %d of %d succeeded", window, n.ok, total)
	if total < 200 || n.ok*1000 < total*999 {
		t.Fatalf("connections to another tenant's frontend: %d of %d succeeded, want 99.9 %% or more", n.ok, total)
	}
	if r := testutil.ToFloat64(metrics.RuntimeUpdates); r < 1 {
		t.Fatalf("runtime updates %v: the server change was not applied at runtime", r)
	}
	if r := reloads(metrics); r != 0 {
		t.Fatalf("%v reloads: the server change and the held port need none", r)
	}
	if f := testutil.ToFloat64(metrics.Failures.WithLabelValues("bind")); f != 1 {
		t.Fatalf("failures{stage=bind} = %v after many ticks, want 1: said once", f)
	}
	if f := testutil.ToFloat64(metrics.Failures.WithLabelValues("reload")); f != 0 {
		t.Fatalf("failures{stage=reload} = %v: HAProxy was asked to load a bind that cannot work", f)
	}
	if _, failed, err := agent.Runtime.Reloads(ctx); err != nil || failed != 0 {
		t.Fatalf("the master counts %d failed reloads (%v), want none", failed, err)
	}
	ps := reports.all()
	if len(ps) != 1 || ps[0].Reason != ProblemBindRefused || len(ps[0].Binds) != 1 ||
		ps[0].Binds[0].Owner != "tenant-beta/evict" || ps[0].Binds[0].Tenant != "beta" || ps[0].Binds[0].File != "shard-01.cfg" || ps[0].Binds[0].Line != 4 {
		t.Fatalf("reported %+v, want one %s for tenant-beta/evict (tenant beta, shard-01.cfg:4)", ps, ProblemBindRefused)
	}
	if err := agent.Ready(); err == nil || !strings.Contains(err.Error(), "ft_beta_grpc") {
		t.Fatalf("readiness %v, want not ready, naming the frontend left out", err)
	}
	if v := testutil.ToFloat64(metrics.desiredRunning); v != 0 {
		t.Fatalf("desired_config_running = %v while a frontend is left out", v)
	}

	// HAProxy restarted from the live directory serves again, with the moved server.
	hp.stop()
	startHAProxy(t, bin, agent)
	eventually(t, "the restarted HAProxy serves alpha from the moved server", func() bool { n, _ := askName(alpha); return n == "gpu-b" })

	// The port is freed (the process that held it is gone): beta's frontend is loaded on the
	// agent's next look, without a change to the configuration.
	_ = held.Close()
	agent.mu.Lock()
	agent.recheckAt = time.Time{}
	agent.mu.Unlock()
	beta := fmt.Sprintf("127.0.0.1:%d", heldPort)
	eventually(t, "beta's frontend once its port is free", func() bool { n, _ := askName(beta); return n == "gpu-c" })
	eventually(t, "the agent is ready again", func() bool { return agent.Ready() == nil })
	if v := testutil.ToFloat64(metrics.desiredRunning); v != 1 {
		t.Fatalf("desired_config_running = %v with everything loaded", v)
	}
}

// TestFailedReloadIsNotRetried: when HAProxy cannot start a configuration that haproxy -c and
// the agent's own look at the binds let through, the live directory gets the previous files
// back, the reload is not tried again (not on later ticks, not for a server change of the same
// configuration), the server change is applied at runtime, and a restart serves.
func TestFailedReloadIsNotRetried(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install -y haproxy; .ci/run does it): skipping the end-to-end test")
	}
	sc := newHeldPortScene(t, bin)
	alphaPort, serverPort, heldPort, good := sc.alphaPort, sc.serverPort, sc.heldPort, sc.good
	configDir, metrics, agent := sc.configDir, sc.metrics, sc.agent
	// Blind to the held port: the reload itself fails, as it would for a cause the agent
	// cannot see beforehand.
	agent.BindProbe = func(netip.AddrPort) error { return nil }
	ctx := context.Background()
	if err := agent.Install(ctx); err != nil {
		t.Fatal(err)
	}
	hp := startHAProxy(t, bin, agent)
	alpha := fmt.Sprintf("127.0.0.1:%d", alphaPort)
	testsupport.WaitListening(t, alpha)
	eventually(t, "the agent syncs with the master CLI", func() bool { _, err := agent.Sync(ctx); return err == nil })

	bad := withBetaOn(good, heldPort, serverPort)
	writeConfig(t, configDir, bad)
	out, err := agent.Sync(ctx)
	if err != nil || !out.Refused || len(out.Problems) != 1 || out.Problems[0].Reason != ProblemReloadFailed {
		t.Fatalf("Sync: %+v, %v; want the configuration refused with one %s", out, err, ProblemReloadFailed)
	}
	if fs := out.Problems[0].Frontends(); len(fs) != 1 || fs[0] != "ft_beta_grpc" || out.Problems[0].Binds[0].Owner != "tenant-beta/evict" {
		t.Fatalf("the failed reload is attributed to %v (%+v), want ft_beta_grpc of tenant-beta/evict", fs, out.Problems[0].Binds)
	}
	if live, _, _ := ReadDir(agent.LiveDir); Checksum(live) != Checksum(good) {
		t.Fatal("after the failed reload the live directory does not hold the configuration that runs")
	}
	reloadsBefore, failedBefore, err := agent.Runtime.Reloads(ctx)
	if err != nil || failedBefore != 1 {
		t.Fatalf("the master counts %d failed reloads (%v), want 1", failedBefore, err)
	}
	// Later ticks, and a server change to the same configuration: no new attempt.
	for range 5 {
		if out, err := agent.Sync(ctx); err != nil || out.Changed {
			t.Fatalf("an unchanged configuration was handled again: %+v, %v", out, err)
		}
	}
	moved := withBetaOn(heldPortConfig(alphaPort, "127.0.0.3", serverPort), heldPort, serverPort)
	writeConfig(t, configDir, moved)
	out, err = agent.Sync(ctx)
	if err != nil || !out.Refused || out.Commands != 1 || out.Reload == "" || len(out.Problems) != 0 {
		t.Fatalf("the server change while refused: %+v, %v; want one runtime command, no new problem", out, err)
	}
	if n, _ := askName(alpha); n != "gpu-b" {
		t.Fatalf("alpha answered by %q after the server change, want gpu-b", n)
	}
	if reloads, failed, _ := agent.Runtime.Reloads(ctx); reloads != reloadsBefore || failed != failedBefore {
		t.Fatalf("the master counts %d reloads, %d failed (before: %d, %d): the refused configuration was tried again", reloads, failed, reloadsBefore, failedBefore)
	}
	if f := testutil.ToFloat64(metrics.Failures.WithLabelValues("reload")); f != 1 {
		t.Fatalf("failures{stage=reload} = %v, want 1", f)
	}
	if err := agent.Ready(); err == nil {
		t.Fatal("ready while the desired configuration does not run")
	}
	// The live directory is what runs: the good configuration with the moved server.
	want := heldPortConfig(alphaPort, "127.0.0.3", serverPort)
	if live, _, _ := ReadDir(agent.LiveDir); Checksum(live) != Checksum(want) {
		t.Fatalf("live directory %+v, want the running configuration with the moved server", live)
	}
	hp.stop()
	startHAProxy(t, bin, agent)
	eventually(t, "the restarted HAProxy serves alpha from the moved server", func() bool { n, _ := askName(alpha); return n == "gpu-b" })

	// Fixed upstream (beta gets another port): loaded with one reload, ready again.
	free := testsupport.FreePort(t, "127.0.0.1")
	fixed := withBetaOn(want, free, serverPort)
	writeConfig(t, configDir, fixed)
	eventually(t, "the fixed configuration is loaded", func() bool {
		out, err := agent.Sync(ctx)
		return err == nil && !out.Refused && agent.Handled() == Checksum(fixed)
	})
	if err := agent.Ready(); err != nil {
		t.Fatalf("not ready after the fix: %v", err)
	}
	if n, err := askName(fmt.Sprintf("127.0.0.1:%d", free)); err != nil || n != "gpu-c" {
		t.Fatalf("beta's frontend after the fix: %q, %v", n, err)
	}
}

// reloads is every reload the agent did, whatever the reason.
func reloads(m *Metrics) float64 {
	return testutil.ToFloat64(m.Reloads.WithLabelValues(ReasonFrontend)) + otherReloads(m)
}
