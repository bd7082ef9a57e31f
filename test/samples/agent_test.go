package samples

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inference-exposure/inference-exposure-operator/internal/controller/haproxyconfig"
	"github.com/inference-exposure/inference-exposure-operator/internal/testsupport"
)

// sampleAgent reads the HAProxy sample's install init container, haproxy command and agent
// arguments, with its paths moved under dir.
func sampleAgent(t *testing.T, dir string) (install, haproxy, agent []string) {
	t.Helper()
	move := func(args []any) []string {
		var out []string
		for _, a := range args {
			s := a.(string)
			for _, p := range []string{"/config", "/live", "/run/haproxy"} {
				s = strings.ReplaceAll(s, "="+p, "="+dir+p)
				if strings.HasPrefix(s, p) {
					s = dir + s
				}
			}
			out = append(out, s)
		}
		return out
	}
	for _, o := range readObjects(t, "config/samples/haproxy/deployment.yaml") {
		inits, _, _ := unstructuredSlice(o.Object, "spec", "template", "spec", "initContainers")
		containers, _, _ := unstructuredSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range append(inits, containers...) {
			cm := c.(map[string]any)
			switch cm["name"] {
			case "install":
				install = move(cm["args"].([]any))
			case "haproxy":
				haproxy = move(cm["command"].([]any))
			case "agent":
				agent = move(cm["args"].([]any))
			}
		}
	}
	if install == nil || haproxy == nil || agent == nil {
		t.Fatal("the sample lacks the install init container, the haproxy container or the agent")
	}
	return install, haproxy, agent
}

func unstructuredSlice(obj map[string]any, path ...string) ([]any, bool, error) {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		cur = m[p]
	}
	s, ok := cur.([]any)
	return s, ok, nil
}

// globalPart and tenantPart split a minimal configuration the way the operator does: the global
// part in 00-global.cfg, the frontends in shard files loaded after it.
const globalPart = "global\n    log stdout format raw local0\ndefaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n"

func tenantPart(port int) string {
	return fmt.Sprintf("frontend f\n    bind 127.0.0.1:%d\n    default_backend b\nbackend b\n    server s 127.0.0.1:9 check\n", port)
}

func freeLocalPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func listening(port int) bool {
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// TestSampleAgent runs the HAProxy sample as written (its install init container, haproxy
// command and agent arguments, paths moved to a temporary directory) against the real haproxy
// and this repository's binary: the kubelet's symlinked layout is read, /readyz turns ready, an
// invalid configuration is refused while the last good one keeps serving, and a valid one is
// reloaded and counted.
func TestSampleAgent(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install -y haproxy; .ci/run does it): skipping")
	}
	dir := t.TempDir()
	operator := filepath.Join(dir, "inference-exposure-operator")
	build := exec.Command("go", "build", "-o", operator, "./cmd")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, d := range []string{"config", "live", "run", "run/haproxy", "config/..2026_11_22"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	first, second := freeLocalPort(t), freeLocalPort(t)
	metricsPort := freeLocalPort(t)
	write := func(rel, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The kubelet's layout of a projected volume: files are symlinks into a hidden, dated
	// directory.
	for _, f := range []string{"00-global.cfg", "shard-00.cfg", "shard-01.cfg"} {
		if err := os.Symlink(filepath.Join("..2026_11_22", f), filepath.Join(dir, "config", f)); err != nil {
			t.Fatal(err)
		}
	}
	write("config/..2026_11_22/00-global.cfg", globalPart)
	write("config/..2026_11_22/shard-00.cfg", tenantPart(first))
	write("config/..2026_11_22/shard-01.cfg", "# an empty shard\n")

	installArgs, hpArgs, agentArgs := sampleAgent(t, dir)
	if out, err := exec.Command(operator, append([]string{"haproxy-agent"}, installArgs...)...).CombinedOutput(); err != nil {
		t.Fatalf("install: %v\n%s", err, out)
	}
	testsupport.Start(t, bin, hpArgs[1:]...)
	waitFor(t, "haproxy listening", func() bool { return listening(first) })

	for i, a := range agentArgs {
		if strings.HasPrefix(a, "--metrics-bind-address=") {
			agentArgs[i] = fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort)
		}
	}
	testsupport.Start(t, operator, append([]string{"haproxy-agent", "--interval=200ms", "--haproxy=" + bin}, agentArgs...)...)
	get := func(path string) (int, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", metricsPort, path))
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	waitFor(t, "the agent ready", func() bool { code, _ := get("/readyz"); return code == http.StatusOK })

	write("config/..2026_11_22/shard-01.cfg", "frontend g\n    this-is-not-a-directive\n")
	waitFor(t, "refusal", func() bool {
		_, m := get("/metrics")
		return strings.Contains(m, `inference_exposure_haproxy_agent_failures_total{stage="validate"} 1`)
	})
	live, _ := os.ReadFile(filepath.Join(dir, "live", "cfg", "shard-01.cfg"))
	if string(live) != "# an empty shard\n" || !listening(first) {
		t.Fatalf("the last good configuration was not kept:\n%s", live)
	}

	write("config/..2026_11_22/shard-01.cfg", "# an empty shard\n")
	write("config/..2026_11_22/shard-00.cfg", tenantPart(second))
	waitFor(t, "reload onto the new port", func() bool { return listening(second) })
	waitFor(t, "old port released", func() bool { return !listening(first) })
	// Counted once the master reports the reload, which may be after the new worker listens.
	waitFor(t, "the reload counted", func() bool {
		_, m := get("/metrics")
		return strings.Contains(m, `inference_exposure_haproxy_agent_reloads_total{reason="frontend"} 1`)
	})
}

// repoRoot is the repository's top directory (where go.mod is).
func repoRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for range 300 {
		if ok() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestSampleMountsEveryShard: the sample's volume holds the global ConfigMap and every shard the
// operator writes by default, under the names it writes them.
func TestSampleMountsEveryShard(t *testing.T) {
	var names []string
	for _, o := range readObjects(t, "config/samples/haproxy/deployment.yaml") {
		volumes, _, _ := unstructuredSlice(o.Object, "spec", "template", "spec", "volumes")
		for _, v := range volumes {
			vm := v.(map[string]any)
			if vm["name"] != "config" {
				continue
			}
			sources, _, _ := unstructuredSlice(vm, "projected", "sources")
			for _, s := range sources {
				names = append(names, s.(map[string]any)["configMap"].(map[string]any)["name"].(string))
			}
		}
	}
	want := []string{"inference-exposure-haproxy"}
	for i := range haproxyconfig.DefaultShards {
		want = append(want, haproxyconfig.ShardName("inference-exposure-haproxy", i))
	}
	if !slices.Equal(names, want) {
		t.Fatalf("the sample mounts %v, want %v", names, want)
	}
}
