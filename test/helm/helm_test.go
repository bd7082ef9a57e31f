// Package helm checks the Helm chart in config/helm: rendered with the real helm (v4), accepted
// by a real API server, carrying every operator flag, and starting the binary that the
// Dockerfile builds.
package helm

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

const namespace = "inference-exposure-system"

var chart = filepath.Join(testenv.RepoRoot(), "config", "helm", "inference-exposure-operator")

func helmBin(t *testing.T) string {
	t.Helper()
	h := os.Getenv("HELM")
	if h == "" {
		h = filepath.Join(testenv.RepoRoot(), "bin", "helm")
	}
	if _, err := os.Stat(h); err != nil {
		t.Skipf("helm not found at %s: `make test` installs it into bin/", h)
	}
	return h
}

func render(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	cmd := exec.Command(helmBin(t), append([]string{"template", "ieo", chart, "--namespace", namespace}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm template %v: %v\n%s", args, err, stderr.String())
	}
	objs, err := testenv.DecodeManifests(out)
	if err != nil {
		t.Fatalf("decoding helm output: %v", err)
	}
	return objs
}

func byKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func managerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	d := byKind(objs, "Deployment")
	if len(d) != 1 {
		t.Fatalf("%d Deployments", len(d))
	}
	ctrs, _, _ := unstructured.NestedSlice(d[0].Object, "spec", "template", "spec", "containers")
	args, _, _ := unstructured.NestedStringSlice(ctrs[0].(map[string]any), "args")
	return args
}

// TestChartIdentity: acting as the operator's ServiceAccount with the chart's RBAC and admission
// policy, it cannot read Secrets, touch kube-system/aws-auth or write a Service or ConfigMap it
// did not create.
func TestChartIdentity(t *testing.T) {
	objs := render(t)
	sa := byKind(objs, "ServiceAccount")
	if len(sa) != 1 {
		t.Fatalf("%d ServiceAccounts", len(sa))
	}
	testenv.CheckOperatorIdentity(t, objs, namespace, sa[0].GetName())
}

// TestChartRestricted: the chart's operator pods meet the Pod Security restricted level.
func TestChartRestricted(t *testing.T) {
	testenv.CheckRestricted(t, render(t))
}

// TestChartDefaults: the default render holds CRDs kept on uninstall, RBAC, a Deployment with
// every operator flag, and a metrics Service, and the API server accepts all of it.
func TestChartDefaults(t *testing.T) {
	objs := render(t)
	crds := byKind(objs, "CustomResourceDefinition")
	if len(crds) != 3 {
		t.Fatalf("%d CRDs, want 3", len(crds))
	}
	for _, c := range crds {
		if c.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s is not kept on uninstall", c.GetName())
		}
	}
	for _, k := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service"} {
		if len(byKind(objs, k)) == 0 {
			t.Errorf("no %s", k)
		}
	}
	if len(byKind(objs, "ServiceMonitor")) != 0 {
		t.Error("ServiceMonitor rendered by default")
	}
	args := managerArgs(t, objs)
	for _, f := range []string{"leader-elect", "health-probe-bind-address", "metrics-bind-address", "node-port-range", "block-size",
		"max-concurrent-reconciles", "api-poll-interval", "zap-log-level", "zap-encoder", "haproxy", "haproxy-configmap-namespace",
		"haproxy-configmap-name", "haproxy-backend-node-selector", "haproxy-ingress-node-selector", "haproxy-ingress-port",
		"haproxy-https-port", "haproxy-ingress-ca-path", "haproxy-stats-bind", "haproxy-reserved-ports", "haproxy-timeout", "haproxy-hard-stop-after",
		"haproxy-shards", "haproxy-server-slots", "kube-api-qps", "kube-api-burst", "cache-sync-timeout", "inline-route-certificates", "metrics-secure"} {
		if !slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--"+f+"=") }) {
			t.Errorf("no --%s in %v", f, args)
		}
	}

	// Server-side dry-run against a real API server (the CRDs come from the chart itself).
	_, c := testenv.StartForTest(t, false, nil)
	ctx := context.Background()
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": namespace}}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := c.Patch(ctx, o, client.Apply, client.DryRunAll, client.FieldOwner("helm-test"), client.ForceOwnership); err != nil { //nolint:staticcheck // unstructured server-side apply
			t.Errorf("%s %s refused: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// TestChartToggles: crds.enabled, crds.keep, the ServiceMonitor and the schema's refusals.
func TestChartToggles(t *testing.T) {
	if n := len(byKind(render(t, "--set", "crds.enabled=false"), "CustomResourceDefinition")); n != 0 {
		t.Errorf("crds.enabled=false still renders %d CRDs", n)
	}
	for _, c := range byKind(render(t, "--set", "crds.keep=false"), "CustomResourceDefinition") {
		if _, ok := c.GetAnnotations()["helm.sh/resource-policy"]; ok {
			t.Errorf("crds.keep=false still keeps %s", c.GetName())
		}
	}
	if n := len(byKind(render(t, "--set", "metrics.serviceMonitor.enabled=true"), "ServiceMonitor")); n != 1 {
		t.Errorf("%d ServiceMonitors", n)
	}
	objs := render(t, "--set", "metrics.enabled=false", "--set", "haproxy.enabled=false", "--set", "leaderElection.enabled=false", "--set", "replicas=1")
	args := managerArgs(t, objs)
	for _, want := range []string{"--metrics-bind-address=0", "--haproxy=false", "--leader-elect=false"} {
		if !slices.Contains(args, want) {
			t.Errorf("no %s in %v", want, args)
		}
	}
	if len(byKind(objs, "Service")) != 0 || len(byKind(objs, "Role")) != 0 {
		t.Error("metrics Service or leader election Role rendered although disabled")
	}
	// Secret reads only when inline Route certificates are enabled; the admission policy by default.
	secretRules := func(objs []*unstructured.Unstructured) int {
		n := 0
		for _, cr := range byKind(objs, "ClusterRole") {
			rules, _, _ := unstructured.NestedSlice(cr.Object, "rules")
			for _, r := range rules {
				res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
				if slices.Contains(res, "secrets") {
					n++
				}
			}
		}
		return n
	}
	if n := secretRules(render(t)); n != 0 {
		t.Errorf("%d Secret rules by default", n)
	}
	inline := render(t, "--set", "operator.inlineRouteCertificates=true")
	if n := secretRules(inline); n != 1 || !slices.Contains(managerArgs(t, inline), "--inline-route-certificates=true") {
		t.Errorf("inline certificates: %d Secret rules, args %v", n, managerArgs(t, inline))
	}
	if len(byKind(render(t), "ValidatingAdmissionPolicy")) != 2 || len(byKind(render(t, "--set", "admissionPolicy.enabled=false"), "ValidatingAdmissionPolicy")) != 0 {
		t.Error("admissionPolicy.enabled does not toggle the two policies")
	}
	// Alerts and the dashboard only when asked for, with the rules' templates left to Prometheus.
	if len(byKind(render(t), "PrometheusRule")) != 0 || len(byKind(render(t, "--set", "metrics.prometheusRule.enabled=true"), "PrometheusRule")) != 1 {
		t.Error("metrics.prometheusRule.enabled does not toggle the PrometheusRule")
	}
	if rule := byKind(render(t, "--set", "metrics.prometheusRule.enabled=true"), "PrometheusRule"); len(rule) == 1 {
		groups, _, _ := unstructured.NestedSlice(rule[0].Object, "spec", "groups")
		if len(groups) == 0 || !strings.Contains(fmt.Sprint(groups), "{{ $labels.tenant }}") {
			t.Errorf("the rules did not come through whole: %v", groups)
		}
	}
	dashboards := func(objs []*unstructured.Unstructured) (n int) {
		for _, cm := range byKind(objs, "ConfigMap") {
			if cm.GetLabels()["grafana_dashboard"] == "1" {
				n++
			}
		}
		return n
	}
	if dashboards(render(t)) != 0 || dashboards(render(t, "--set", "metrics.grafanaDashboard.enabled=true")) != 1 {
		t.Error("metrics.grafanaDashboard.enabled does not toggle the dashboard")
	}
	// values.schema.json refuses nonsense before anything reaches a cluster.
	for _, bad := range [][]string{
		{"--set", "operator.blockSize=15"},
		{"--set", "operator.nodePortRange=lots"},
		{"--set", "haproxy.timeout=forever"},
		{"--set", "metrics.port=70000"},
		{"--set", "operatr.blockSize=100"},
		{"--set", "resources.limit.memory=1Gi"},
		{"--set", "resources.limits.memory=lots"},
		{"--set", "operator.nodePortRange=30000-99999"},
		{"--set", "operator.logLevel=verbose"},
	} {
		cmd := exec.Command(helmBin(t), append([]string{"template", "ieo", chart}, bad...)...)
		if out, err := cmd.CombinedOutput(); err == nil {
			t.Errorf("%v accepted", bad)
		} else if !strings.Contains(string(out), "schema") && !strings.Contains(string(out), "values don't meet") {
			t.Errorf("%v: unclear refusal: %s", bad, out)
		}
	}
	// A range whose start is not below its end fails the render with a message.
	if out, err := exec.Command(helmBin(t), "template", "ieo", chart, "--set", "operator.nodePortRange=32767-30000").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "the start must be below the end") {
		t.Errorf("reversed nodePortRange: %v %s", err, out)
	}
	// As a subchart: an umbrella chart's global values pass the schema.
	if out, err := exec.Command(helmBin(t), "template", "ieo", chart, "--set", "global.imageRegistry=registry.example.com").CombinedOutput(); err != nil {
		t.Errorf("global values refused: %s", out)
	}
	// A PodDisruptionBudget with more than one replica, none with one; secure metrics by default
	// with a metrics-reader ClusterRole.
	if n := len(byKind(render(t), "PodDisruptionBudget")); n != 1 {
		t.Errorf("%d PodDisruptionBudgets with 2 replicas", n)
	}
	if n := len(byKind(render(t, "--set", "replicas=1"), "PodDisruptionBudget")); n != 0 {
		t.Errorf("%d PodDisruptionBudgets with 1 replica", n)
	}
	if args := managerArgs(t, render(t)); !slices.Contains(args, "--metrics-secure=true") || !slices.Contains(args, "--metrics-bind-address=:8443") {
		t.Errorf("metrics not secure by default: %v", args)
	}
	readers := 0
	for _, o := range byKind(render(t), "ClusterRole") {
		if strings.HasSuffix(o.GetName(), "-metrics-reader") {
			readers++
		}
	}
	if readers != 1 {
		t.Errorf("%d metrics-reader ClusterRoles", readers)
	}
}

// TestDockerfileTarget builds the manager the way the Dockerfile does (static, CGO off) and
// starts it with the chart's arguments: every flag the chart passes must exist.
func TestDockerfileTarget(t *testing.T) {
	dockerfile, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0", "gcr.io/distroless/static:nonroot", "USER 65532:65532", "go build", "-X main.version=${VERSION}"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	bin := filepath.Join(t.TempDir(), "manager")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -X main.version=v9.9.9-test", "-o", bin, "./cmd")
	build.Dir = testenv.RepoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked: distroless/static cannot run it")
		}
	}
	_ = f.Close()

	// The version stamped as the Dockerfile stamps it.
	if out, err := exec.Command(bin, "--version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "inference-exposure-operator v9.9.9-test (commit ") {
		t.Errorf("--version: %v %q", err, out)
	}
	helmHome := t.TempDir() // no kubeconfig anywhere: the binary must stop right after its flags
	run := exec.Command(bin, managerArgs(t, render(t))...)
	run.Env = []string{"HOME=" + helmHome, "KUBECONFIG=" + filepath.Join(helmHome, "none"), "POD_NAMESPACE=" + namespace}
	out, err := run.CombinedOutput()
	if err == nil {
		t.Fatal("the manager started without a cluster")
	}
	if !strings.Contains(string(out), "no cluster to talk to") {
		t.Fatalf("the chart's arguments were refused:\n%s", out)
	}
}

// TestInstallOverExistingCRDs installs the chart with the real helm into a real API server where
// the CRDs already exist (make install): refused with "invalid ownership metadata" until the
// documented adoption script ran, then installed; uninstall keeps the CRDs (crds.keep) and a
// reinstall of the same release takes them again.
func TestInstallOverExistingCRDs(t *testing.T) {
	h := helmBin(t)
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Skip("kubectl not found: the adoption script needs it")
	}
	env, c := testenv.StartForTest(t, false, nil)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig("helm-test", kubeconfig); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// What make install does.
	if out, err := run("kubectl", "apply", "--server-side", "-f", filepath.Join(testenv.RepoRoot(), "config", "crd", "bases")); err != nil {
		t.Fatalf("installing the CRDs: %v\n%s", err, out)
	}
	install := []string{"install", "ieo", chart, "--namespace", "ieo-system", "--create-namespace", "--set", "replicas=1"}
	if out, err := run(h, install...); err == nil || !strings.Contains(out, "invalid ownership metadata") {
		t.Fatalf("install over unowned CRDs: %v\n%s", err, out)
	}
	if out, err := run(filepath.Join(testenv.RepoRoot(), "hack", "helm-adopt-crds.sh"), "ieo", "ieo-system"); err != nil {
		t.Fatalf("adopting: %v\n%s", err, out)
	}
	out, err := run(h, install...)
	if err != nil {
		t.Fatalf("install after adoption: %v\n%s", err, out)
	}
	if !strings.Contains(out, "is installed in namespace ieo-system") || !strings.Contains(out, "kubectl get inferencetenants") {
		t.Errorf("NOTES do not say what was installed and what to run next:\n%s", out)
	}
	if out, err := run(h, "uninstall", "ieo", "--namespace", "ieo-system"); err != nil {
		t.Fatalf("uninstall: %v\n%s", err, out)
	}
	crd := &unstructured.Unstructured{}
	crd.SetAPIVersion("apiextensions.k8s.io/v1")
	crd.SetKind("CustomResourceDefinition")
	if err := c.Get(context.Background(), client.ObjectKey{Name: "inferencetenants.exposure.inference.dev"}, crd); err != nil {
		t.Fatalf("the CRDs went with the release: %v", err)
	}
	if out, err := run(h, install...); err != nil {
		t.Fatalf("reinstall over the kept CRDs: %v\n%s", err, out)
	}
}
