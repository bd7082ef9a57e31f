package samples

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inference-exposure/inference-exposure-operator/internal/controller"
)

// reloaderScript extracts the reloader's shell script from the HAProxy sample, pointed at dir.
func reloaderScript(t *testing.T, dir string) string {
	t.Helper()
	for _, o := range readObjects(t, "config/samples/haproxy/deployment.yaml") {
		containers, _, _ := unstructuredSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range containers {
			cm := c.(map[string]any)
			if cm["name"] != "reloader" {
				continue
			}
			cmd := cm["command"].([]any)
			s := cmd[len(cmd)-1].(string)
			if !strings.Contains(s, "CONFIG=/config\n") || !strings.Contains(s, "LIVE=/live\n") {
				t.Fatal("the reloader no longer sets CONFIG and LIVE")
			}
			s = strings.ReplaceAll(s, "CONFIG=/config\n", "CONFIG="+dir+"/config\n")
			s = strings.ReplaceAll(s, "LIVE=/live\n", "LIVE="+dir+"/live\n")
			return strings.ReplaceAll(s, "sleep 5", "sleep 0.2")
		}
	}
	t.Fatal("no reloader container in the sample")
	return ""
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

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestSampleReloader runs the HAProxy sample's reloader against the real haproxy: an invalid
// configuration is refused and the last good one keeps serving; a valid one is reloaded.
func TestSampleReloader(t *testing.T) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		t.Skip("haproxy is not installed (apt-get install -y haproxy; .ci/run does it): skipping")
	}
	dir := t.TempDir()
	for _, d := range []string{"config", "live", "live/cfg", "config/..2026_11_22"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	first, second := freeLocalPort(t), freeLocalPort(t)
	write := func(rel, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The kubelet's layout of a projected volume: files are symlinks into a hidden, dated
	// directory, swapped all at once.
	for _, f := range []string{"00-global.cfg", "shard-00.cfg", "shard-01.cfg"} {
		if err := os.Symlink(filepath.Join("..2026_11_22", f), filepath.Join(dir, "config", f)); err != nil {
			t.Fatal(err)
		}
	}
	write("config/..2026_11_22/00-global.cfg", globalPart)
	write("config/..2026_11_22/shard-00.cfg", tenantPart(first))
	write("config/..2026_11_22/shard-01.cfg", "# an empty shard\n")
	write("live/cfg/00-global.cfg", globalPart)
	write("live/cfg/shard-00.cfg", tenantPart(first))
	write("live/cfg/shard-01.cfg", "# an empty shard\n")

	hp := exec.Command(bin, "-W", "-db", "-f", filepath.Join(dir, "live", "cfg"))
	var hpOut syncBuf
	hp.Stdout, hp.Stderr = &hpOut, &hpOut
	if err := hp.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = hp.Process.Kill(); _ = hp.Wait() }()
	waitFor(t, "haproxy listening", func() bool { return listening(first) })

	rl := exec.Command("/bin/sh", "-c", reloaderScript(t, dir))
	var rlOut syncBuf
	rl.Stdout, rl.Stderr = &rlOut, &rlOut
	if err := rl.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rl.Process.Kill(); _ = rl.Wait() }()

	write("config/..2026_11_22/shard-01.cfg", "frontend g\n    this-is-not-a-directive\n")
	waitFor(t, "refusal", func() bool { return strings.Contains(rlOut.String(), "refused an invalid configuration") })
	live, _ := os.ReadFile(filepath.Join(dir, "live", "cfg", "shard-01.cfg"))
	if string(live) != "# an empty shard\n" || !listening(first) {
		t.Fatalf("the last good configuration was not kept:\n%s", live)
	}

	write("config/..2026_11_22/shard-01.cfg", "# an empty shard\n")
	write("config/..2026_11_22/shard-00.cfg", tenantPart(second))
	waitFor(t, "reload onto the new port", func() bool { return listening(second) })
	waitFor(t, "old port released", func() bool { return !listening(first) })
	waitFor(t, "the reloader to report", func() bool { return strings.Contains(rlOut.String(), "reloaded") })
	if t.Failed() {
		t.Logf("haproxy: %s\nreloader: %s", hpOut.String(), rlOut.String())
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for range 100 {
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
	for i := range controller.DefaultShards {
		want = append(want, controller.ShardName("inference-exposure-haproxy", i))
	}
	if !slices.Equal(names, want) {
		t.Fatalf("the sample mounts %v, want %v", names, want)
	}
}
