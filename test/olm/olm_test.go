// Package olm checks the operator's OLM bundle: generated from the install manifests
// (hack/bundle), validated by the operator-framework's validation library with the OperatorHub
// suite (hack/olm-validate, a module of its own), made only of kinds OLM installs, and matching
// the CRDs and RBAC of the kustomize install.
package olm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/inference-exposure/inference-exposure-operator/test/testenv"
)

// supported are the kinds OLM installs from a registry+v1 bundle.
var supported = map[string]bool{
	"ClusterServiceVersion": true, "CustomResourceDefinition": true, "Secret": true, "ClusterRole": true,
	"ClusterRoleBinding": true, "ConfigMap": true, "ServiceAccount": true, "Service": true, "Role": true,
	"RoleBinding": true, "PrometheusRule": true, "ServiceMonitor": true, "PodMonitor": true,
	"PodDisruptionBudget": true, "PriorityClass": true, "VerticalPodAutoscaler": true, "NetworkPolicy": true,
}

// makeBundle runs what `make bundle` runs, into a temporary directory.
func makeBundle(t *testing.T) (bundle, catalog string, install []*unstructured.Unstructured) {
	t.Helper()
	manifests := testenv.KustomizeDefault(t)
	dir := t.TempDir()
	bundle, catalog = filepath.Join(dir, "bundle"), filepath.Join(dir, "catalog")
	cmd := exec.Command("go", "run", "./hack/bundle", "-version", "0.1.0", "-image", "example.com/ieo:v0.1.0", "-out", bundle, "-catalog", catalog)
	cmd.Dir = testenv.RepoRoot()
	cmd.Stdin = bytes.NewReader(manifests)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/bundle: %v\n%s", err, out)
	}
	install, err := testenv.DecodeManifests(manifests)
	if err != nil {
		t.Fatal(err)
	}
	return bundle, catalog, install
}

// validate runs the operator-framework's validation library on a bundle directory.
func validate(t *testing.T, bundle string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", "run", ".", "-k8s-version", "1.31", bundle)
	cmd.Dir = filepath.Join(testenv.RepoRoot(), "hack", "olm-validate")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// TestBundle: the bundle passes the validation library with the OperatorHub suite, without a
// warning; it holds only kinds OLM installs; its CSV owns exactly the CRDs of config/crd, asks
// exactly the RBAC of config/rbac, installs for all namespaces only, and runs the manager as
// restricted-v2 asks.
func TestBundle(t *testing.T) {
	bundle, _, install := makeBundle(t)
	out, err := validate(t, bundle)
	if err != nil {
		t.Fatalf("the validation library refused the bundle: %v\n%s", err, out)
	}
	if strings.Contains(out, "WARNING") {
		t.Errorf("the validation library warns:\n%s", out)
	}
	t.Log(strings.TrimSpace(out))

	files, err := filepath.Glob(filepath.Join(bundle, "manifests", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var csv map[string]any
	var crds []string
	for _, f := range files {
		m := readYAML(t, f)
		kind, _ := m["kind"].(string)
		if !supported[kind] {
			t.Errorf("%s: OLM does not install a %s", filepath.Base(f), kind)
		}
		switch kind {
		case "ClusterServiceVersion":
			csv = m
		case "CustomResourceDefinition":
			crds = append(crds, m["metadata"].(map[string]any)["name"].(string))
		}
	}
	if csv == nil {
		t.Fatal("no ClusterServiceVersion")
	}
	u := &unstructured.Unstructured{Object: csv}

	var want []string
	var clusterRules []any
	for _, o := range install {
		switch {
		case o.GetKind() == "CustomResourceDefinition":
			want = append(want, o.GetName())
		case o.GetKind() == "ClusterRole" && strings.HasSuffix(o.GetName(), "manager-role"):
			clusterRules, _, _ = unstructured.NestedSlice(o.Object, "rules")
		}
	}
	sort.Strings(want)
	sort.Strings(crds)
	if strings.Join(crds, ",") != strings.Join(want, ",") {
		t.Errorf("bundle CRDs %v, install %v", crds, want)
	}
	owned, _, _ := unstructured.NestedSlice(u.Object, "spec", "customresourcedefinitions", "owned")
	if len(owned) != len(want) {
		t.Errorf("the CSV owns %d CRDs, want %d", len(owned), len(want))
	}
	for _, o := range owned {
		m := o.(map[string]any)
		if m["kind"] == "InferenceExposure" && m["specDescriptors"] == nil {
			t.Errorf("InferenceExposure has no descriptors: %v", m)
		}
	}
	perms, _, _ := unstructured.NestedSlice(u.Object, "spec", "install", "spec", "clusterPermissions")
	if len(perms) != 1 {
		t.Fatalf("clusterPermissions: %v", perms)
	}
	gotRules, _ := perms[0].(map[string]any)["rules"].([]any)
	if a, b := toJSON(t, gotRules), toJSON(t, clusterRules); a != b {
		t.Errorf("the CSV's cluster rules differ from config/rbac:\n%s\n%s", a, b)
	}
	modes, _, _ := unstructured.NestedSlice(u.Object, "spec", "installModes")
	for _, m := range modes {
		mm := m.(map[string]any)
		if (mm["type"] == "AllNamespaces") != (mm["supported"] == true) {
			t.Errorf("install mode %v: the operator watches every namespace, so AllNamespaces only", mm)
		}
	}
	deps, _, _ := unstructured.NestedSlice(u.Object, "spec", "install", "spec", "deployments")
	spec := deps[0].(map[string]any)["spec"].(map[string]any)
	pod := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	if v, _, _ := unstructured.NestedString(pod.Object, "spec", "template", "spec", "securityContext", "seccompProfile", "type"); v != "RuntimeDefault" {
		t.Errorf("seccomp profile %q", v)
	}
	if v, _, _ := unstructured.NestedBool(pod.Object, "spec", "template", "spec", "securityContext", "runAsNonRoot"); !v {
		t.Error("not runAsNonRoot")
	}
	containers, _, _ := unstructured.NestedSlice(pod.Object, "spec", "template", "spec", "containers")
	c := containers[0].(map[string]any)
	if c["image"] != "example.com/ieo:v0.1.0" {
		t.Errorf("image %v", c["image"])
	}
	sc := c["securityContext"].(map[string]any)
	if sc["allowPrivilegeEscalation"] != false || toJSON(t, sc["capabilities"]) != `{"drop":["ALL"]}` {
		t.Errorf("container security context %v", sc)
	}
	if ann := readYAML(t, filepath.Join(bundle, "metadata", "annotations.yaml")); !strings.Contains(toJSON(t, ann), `"operators.operatorframework.io.bundle.mediatype.v1":"registry+v1"`) {
		t.Errorf("annotations.yaml: %v", ann)
	}
}

// TestBundleValidationCanFail: a CSV that breaks the rules (a version that is not semver, no
// install modes) is refused, so the check above can fail.
func TestBundleValidationCanFail(t *testing.T) {
	bundle, _, _ := makeBundle(t)
	path := filepath.Join(bundle, "manifests", "inference-exposure-operator.clusterserviceversion.yaml")
	csv := readYAML(t, path)
	spec := csv["spec"].(map[string]any)
	spec["version"] = "one"
	delete(spec, "installModes")
	b, err := yaml.Marshal(csv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := validate(t, bundle); err == nil {
		t.Fatalf("a broken CSV passed:\n%s", out)
	}
}

// TestCatalog: the file-based catalog holds the package, its default channel with the bundle,
// and the bundle with a GVK property for every CRD it owns.
func TestCatalog(t *testing.T) {
	_, catalog, install := makeBundle(t)
	b, err := os.ReadFile(filepath.Join(catalog, "inference-exposure-operator", "index.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	schemas := map[string]map[string]any{}
	for _, doc := range strings.Split(string(b), "---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		schemas[m["schema"].(string)] = m
	}
	pkg, ch, bundle := schemas["olm.package"], schemas["olm.channel"], schemas["olm.bundle"]
	if pkg == nil || ch == nil || bundle == nil {
		t.Fatalf("schemas: %v", schemas)
	}
	if pkg["defaultChannel"] != ch["name"] || ch["package"] != pkg["name"] || bundle["package"] != pkg["name"] {
		t.Errorf("package %v, channel %v, bundle %v", pkg, ch, bundle)
	}
	entries := ch["entries"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["name"] != bundle["name"] {
		t.Errorf("channel entries %v, bundle %v", entries, bundle["name"])
	}
	gvks := 0
	for _, p := range bundle["properties"].([]any) {
		if p.(map[string]any)["type"] == "olm.gvk" {
			gvks++
		}
	}
	crds := 0
	for _, o := range install {
		if o.GetKind() == "CustomResourceDefinition" {
			crds++
		}
	}
	if gvks != crds {
		t.Errorf("%d olm.gvk properties for %d CRDs", gvks, crds)
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(j)
}
