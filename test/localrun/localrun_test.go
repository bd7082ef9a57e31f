// Package localrun checks make run's local default as a user meets it: it comes up with the
// samples, behaves like a cluster (owner references cascade), and Ctrl-C stops everything it
// started.
package localrun

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/inference-exposure/inference-exposure-operator/test/dataplane"
	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

// TestCtrlCStopsEverything starts the local default in a process group of its own, as a
// terminal does, waits until it serves the samples, deletes an exposure (its Service must go:
// the garbage collector runs), then sends SIGINT to the whole group: every process must be gone
// within 10 s and the kubeconfig pointing at the dead control plane removed.
func TestCtrlCStopsEverything(t *testing.T) {
	if _, err := testenv.AssetsDir(); err != nil {
		t.Skip(err)
	}
	if _, err := testenv.ControllerManagerPath(); err != nil {
		t.Skip(err)
	}
	root := testenv.RepoRoot()
	bin := filepath.Join(t.TempDir(), "localrun")
	if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(root, "hack", "localrun")).CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	logPath := filepath.Join(t.TempDir(), "localrun.out")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // a terminal's foreground group
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }() // reaped at once: a zombie still counts in its group
	t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
	for start := time.Now(); ; time.Sleep(500 * time.Millisecond) {
		b, _ := os.ReadFile(logPath)
		if strings.Contains(string(b), "press Ctrl-C to stop") {
			break
		}
		select {
		case <-exited:
			t.Fatalf("the local default exited:\n%s", b)
		default:
		}
		if time.Since(start) > 3*time.Minute {
			t.Fatalf("the local default did not come up within 3 minutes:\n%s", b)
		}
	}

	// Where the machine allows a data plane (root, network namespaces, Traefik built), the
	// sample answers at the URL the local default printed.
	out, _ := os.ReadFile(logPath)
	if m := regexp.MustCompile(`--resolve (inference-alpha[^:]+):(\d+):127\.0\.0\.1 (https://\S+/health)`).FindStringSubmatch(string(out)); m != nil {
		t.Run("the printed curl line answers", func(t *testing.T) {
			ca, err := os.ReadFile(filepath.Join(root, "bin", "local", "ca.pem"))
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(ca)
			hc := dataplane.HTTPSClient(pool, "127.0.0.1:"+m[2])
			resp, err := hc.Get(m[3])
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Pod") != "triton-0" {
				t.Fatalf("%s answered %d from %q", m[3], resp.StatusCode, resp.Header.Get("X-Pod"))
			}
		})
	} else if !strings.Contains(string(out), "nothing serves the samples' routes on this machine") {
		t.Fatalf("the local default neither printed how to call the samples nor why it cannot:\n%s", out)
	}

	kubeconfig := filepath.Join(root, "bin", "local", "kubeconfig")
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc := &corev1.Service{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "tenant-alpha", Name: "triton"}, svc); err != nil {
		t.Fatalf("the sample's Service: %v", err)
	}
	// Deleting the exposure, as a user would.
	for _, ref := range svc.OwnerReferences {
		if ref.Kind == "InferenceExposure" {
			if out, err := exec.Command("kubectl", "--kubeconfig", kubeconfig, "delete", "inferenceexposure", "-n", "tenant-alpha", ref.Name).CombinedOutput(); err != nil {
				t.Skipf("kubectl: %v %s", err, out)
			}
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		err := c.Get(ctx, client.ObjectKeyFromObject(svc), &corev1.Service{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Service outlived its exposure: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Ctrl-C: SIGINT to the foreground process group.
	if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		err := syscall.Kill(-pgid, 0)
		if errors.Is(err, syscall.ESRCH) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("processes of the local default are still running 10 s after Ctrl-C")
		}
		time.Sleep(100 * time.Millisecond)
	}
	<-exited
	if _, err := os.Stat(kubeconfig); !os.IsNotExist(err) {
		t.Errorf("the kubeconfig of the stopped control plane is still there: %v", err)
	}
	if netns, err := exec.Command("ip", "netns", "list").Output(); err == nil && strings.Contains(string(netns), fmt.Sprintf("iexp-pods-%d-", pgid%10000)) {
		t.Errorf("the local default's pod network is still there:\n%s", netns)
	}
}
