package testsupport

import (
	"bytes"
	"os/exec"
	"sync"
	"testing"
)

// Output collects a process's output; safe to read while the process writes.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
	pid int
}

// Pid is the process's id (0 when Output was not made by Start).
func (o *Output) Pid() int { return o.pid }

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Start starts a process for the test; it is killed when the test ends, and its output is
// logged when the test failed.
func Start(t testing.TB, bin string, args ...string) *Output {
	t.Helper()
	out := &Output{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out.pid = cmd.Process.Pid
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", bin, out.String())
		}
	})
	return out
}
