// Package testenv starts a real kube-apiserver and etcd (envtest) with the operator's CRDs and
// the third-party CRDs it writes to (Gateway API, OpenShift Route), for integration tests.
package testenv

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	// The CRDs installed below ship inside these modules; importing their API packages keeps
	// them in go.mod at the versions the operator is built against.
	_ "github.com/openshift/api/route/v1"
	_ "sigs.k8s.io/gateway-api/apis/v1"
)

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// AssetsDir returns where kube-apiserver and etcd are: KUBEBUILDER_ASSETS when set (users'
// laptops with setup-envtest), else the newest build under bin/k8s made by
// hack/build-envtest-assets.sh.
func AssetsDir() (string, error) {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d, nil
	}
	matches, _ := filepath.Glob(filepath.Join(RepoRoot(), "bin", "k8s", "*", "kube-apiserver"))
	if len(matches) == 0 {
		return "", fmt.Errorf("no kube-apiserver found: run `make test` (it builds one into bin/k8s) or set KUBEBUILDER_ASSETS")
	}
	sort.Strings(matches)
	return filepath.Dir(matches[len(matches)-1]), nil
}

// moduleDir asks the go command where a module of the build lives in the module cache.
func moduleDir(module string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating module %s: %w", module, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// EnvoyGatewayVersion is the Envoy Gateway release whose BackendTrafficPolicy CRD the tests
// install; the operator does not import its module, so it is fetched here from the module proxy
// (once, into the module cache).
const EnvoyGatewayVersion = "v1.9.1"

// InferenceExtensionVersion is the Gateway API Inference Extension release whose InferencePool
// CRD the tests install, fetched the same way.
const InferenceExtensionVersion = "v1.6.2"

// EnvoyGatewayCRD is the path of Envoy Gateway's BackendTrafficPolicy CRD, from its module; an
// error when the module cannot be fetched (the tests that need it skip).
func EnvoyGatewayCRD() (string, error) {
	return moduleFile("github.com/envoyproxy/gateway", EnvoyGatewayVersion,
		filepath.Join("charts", "gateway-helm", "charts", "crds", "crds", "generated", "gateway.envoyproxy.io_backendtrafficpolicies.yaml"))
}

// InferencePoolCRD is the path of the InferencePool CRD (inference.networking.k8s.io/v1), from
// the extension's module; an error when it cannot be fetched (the tests that need it skip).
func InferencePoolCRD() (string, error) {
	return moduleFile("sigs.k8s.io/gateway-api-inference-extension", InferenceExtensionVersion,
		filepath.Join("config", "crd", "bases", "inference.networking.k8s.io_inferencepools.yaml"))
}

// PrometheusOperatorVersion is the Prometheus Operator release whose PodMonitor CRD the tests
// install (v0.95's module is refused by the proxy here; v0.94.0 is served).
const PrometheusOperatorVersion = "v0.94.0"

// PodMonitorCRD is the path of the Prometheus Operator's PodMonitor CRD, from its module; an
// error when it cannot be fetched (the tests that need it skip).
func PodMonitorCRD() (string, error) {
	return moduleFile("github.com/prometheus-operator/prometheus-operator", PrometheusOperatorVersion,
		filepath.Join("example", "prometheus-operator-crd", "monitoring.coreos.com_podmonitors.yaml"))
}

// moduleFile fetches a module the operator does not import into the module cache, and returns
// the path of one of its files.
func moduleFile(module, version, file string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("fetching %s %s: %w", module, version, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("fetching %s %s: no module directory in %s", module, version, out)
	}
	path := filepath.Join(mod.Dir, file)
	if _, err := os.Stat(path); err != nil {
		return "", err
	}
	return path, nil
}

// CRDPaths are the CRD files and directories the tests install: ours, the Gateway API
// standard channel, the OpenShift Route and, when they can be fetched, Envoy Gateway's
// BackendTrafficPolicy, the Inference Extension's InferencePool and the Prometheus Operator's
// PodMonitor.
func CRDPaths() ([]string, error) {
	gw, err := moduleDir("sigs.k8s.io/gateway-api")
	if err != nil {
		return nil, err
	}
	os, err := moduleDir("github.com/openshift/api")
	if err != nil {
		return nil, err
	}
	paths := []string{
		filepath.Join(RepoRoot(), "config", "crd", "bases"),
		filepath.Join(gw, "config", "crd", "standard"),
		filepath.Join(os, "route", "v1", "zz_generated.crd-manifests", "routes.crd.yaml"),
	}
	if eg, err := EnvoyGatewayCRD(); err == nil {
		paths = append(paths, eg)
	}
	if ip, err := InferencePoolCRD(); err == nil {
		paths = append(paths, ip)
	}
	if pm, err := PodMonitorCRD(); err == nil {
		paths = append(paths, pm)
	}
	return paths, nil
}

// Env is a running control plane.
type Env struct {
	*envtest.Environment
	Config *rest.Config
}

// Start starts kube-apiserver and etcd, with the CRDs of CRDPaths installed when withCRDs.
func Start(withCRDs bool) (*Env, error) {
	return StartWith(withCRDs, nil)
}

// StartWith is Start with extra kube-apiserver flags (name without dashes -> value), e.g.
// service-cluster-ip-range for benchmarks that need more than envtest's 254 Services.
func StartWith(withCRDs bool, apiServerFlags map[string]string) (*Env, error) {
	assets, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, ErrorIfCRDPathMissing: true}
	if len(apiServerFlags) > 0 {
		args := env.ControlPlane.GetAPIServer().Configure()
		for k, v := range apiServerFlags {
			args.Set(k, v)
		}
	}
	if withCRDs {
		paths, err := CRDPaths()
		if err != nil {
			return nil, err
		}
		env.CRDDirectoryPaths = paths
	}
	cfg, err := env.Start()
	if err != nil {
		// A failed CRD install leaves kube-apiserver and etcd running: stop them.
		_ = env.Stop()
		return nil, fmt.Errorf("starting envtest from %s: %w", assets, err)
	}
	return &Env{Environment: env, Config: cfg}, nil
}

// Client is a client of the control plane for scheme (nil: client-go's).
func (e *Env) Client(scheme *k8sruntime.Scheme) (client.Client, error) {
	return client.New(e.Config, client.Options{Scheme: scheme})
}

// StartForTest starts a control plane for one test, stopped when the test ends, and returns
// it with a client of scheme (nil: client-go's).
func StartForTest(t testing.TB, withCRDs bool, scheme *k8sruntime.Scheme) (*Env, client.Client) {
	t.Helper()
	env, err := Start(withCRDs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := env.Client(scheme)
	if err != nil {
		t.Fatal(err)
	}
	return env, c
}

// WriteKubeconfig writes a kubeconfig of a cluster-admin user (system:masters) named user, for
// kubectl and for operator processes started beside the tests.
func (e *Env) WriteKubeconfig(user, path string) error {
	u, err := e.AddUser(envtest.User{Name: user, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("creating user %s: %w", user, err)
	}
	data, err := u.KubeConfig()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// KustomizeDefault renders config/default with the kustomize of $KUSTOMIZE or bin/ (make test
// installs it); the test skips without it.
func KustomizeDefault(t testing.TB) []byte {
	t.Helper()
	kz := os.Getenv("KUSTOMIZE")
	if kz == "" {
		kz = filepath.Join(RepoRoot(), "bin", "kustomize")
	}
	if _, err := os.Stat(kz); err != nil {
		t.Skipf("kustomize not found at %s: `make test` installs it into bin/", kz)
	}
	out, err := exec.Command(kz, "build", filepath.Join(RepoRoot(), "config", "default")).Output()
	if err != nil {
		t.Fatalf("kustomize build config/default: %v", err)
	}
	return out
}
