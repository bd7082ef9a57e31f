package testenv

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"
)

// ControllerManagerPath finds kube-controller-manager: $KUBE_CONTROLLER_MANAGER, beside the
// other assets, or in bin/k8s (hack/build-envtest-assets.sh builds it). setup-envtest does
// not ship one, so it may be missing where KUBEBUILDER_ASSETS points elsewhere.
func ControllerManagerPath() (string, error) {
	if p := os.Getenv("KUBE_CONTROLLER_MANAGER"); p != "" {
		return p, nil
	}
	var candidates []string
	if d, err := AssetsDir(); err == nil {
		candidates = append(candidates, filepath.Join(d, "kube-controller-manager"))
	}
	matches, _ := filepath.Glob(filepath.Join(RepoRoot(), "bin", "k8s", "*", "kube-controller-manager"))
	sort.Sort(sort.Reverse(sort.StringSlice(matches)))
	for _, c := range append(candidates, matches...) {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c, nil
		}
	}
	return "", errors.New("no kube-controller-manager: hack/build-envtest-assets.sh builds one into bin/k8s, or set KUBE_CONTROLLER_MANAGER")
}

// ControllerManager is a running kube-controller-manager.
type ControllerManager struct {
	cmd        *exec.Cmd
	done       chan struct{}
	kubeconfig string
}

// LocalControllers are kube-controller-manager's default controllers but those that need a
// kubelet: with no node sending heartbeats, node lifecycle would mark every node NotReady and
// taint it (and the HAProxy configuration would lose them).
const LocalControllers = "*,-node-lifecycle-controller,-taint-eviction-controller,-node-ipam-controller"

// CascadeControllers are just the garbage collector and the namespace controller.
const CascadeControllers = "garbage-collector-controller,namespace-controller"

// StartControllerManager runs kube-controller-manager against the control plane, as a cluster
// does, with the given --controllers: e.g. the garbage collector (owner references cascade) and
// the namespace controller (a deleted namespace goes). Its log goes to logTo.
func (e *Env) StartControllerManager(dir, controllers string, logTo io.Writer) (*ControllerManager, error) {
	bin, err := ControllerManagerPath()
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kube-controller-manager.kubeconfig")
	if err := e.WriteKubeconfig("system:kube-controller-manager", kubeconfig); err != nil {
		return nil, err
	}
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--leader-elect=false",
		"--secure-port=0", // no serving endpoint: nothing scrapes it here
		"--controllers=" + controllers,
		// Fast: a test or a local run should see a cascade within seconds.
		"--concurrent-gc-syncs=4", "--namespace-sync-period=10s",
	}
	if key := filepath.Join(e.ControlPlane.APIServer.CertDir, "sa-signer.key"); fileExists(key) {
		args = append(args, "--service-account-private-key-file="+key)
	}
	cmd := exec.Command(bin, args...)
	// In the caller's process group, like etcd and kube-apiserver: Ctrl-C in a terminal
	// reaches it directly.
	cmd.Stdout, cmd.Stderr = logTo, logTo
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	cm := &ControllerManager{cmd: cmd, done: make(chan struct{}), kubeconfig: kubeconfig}
	go func() { _ = cmd.Wait(); close(cm.done) }()
	return cm, nil
}

// Stop terminates it, and kills it if it has not exited within 10 s; its kubeconfig goes too.
func (c *ControllerManager) Stop() {
	if c == nil {
		return
	}
	defer func() { _ = os.Remove(c.kubeconfig) }()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
