package render

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func triton() *exposurev1alpha1.InferenceExposure {
	return &exposurev1alpha1.InferenceExposure{
		ObjectMeta: metav1.ObjectMeta{Name: "triton", Namespace: "tenant-alpha", UID: "0000-1111"},
		Spec: exposurev1alpha1.InferenceExposureSpec{
			Selector: map[string]exposurev1alpha1.LabelValue{"app": "triton-inference"},
			Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000), GRPC: ptr.To[int32](8001), Metrics: ptr.To[int32](8002)},
		},
	}
}

func golden(t *testing.T, name string, obj any) {
	t.Helper()
	got, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/render -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestServiceGolden(t *testing.T) {
	ports := map[string]int32{"http": 30800, "grpc": 30801, "metrics": 30802}
	for _, tc := range []struct {
		file string
		mod  func(*exposurev1alpha1.InferenceExposure)
	}{
		{"service-triton-nodeport.yaml", func(*exposurev1alpha1.InferenceExposure) {}},
		{"service-triton-local.yaml", func(e *exposurev1alpha1.InferenceExposure) {
			e.Spec.NodePort.ExternalTrafficPolicy = exposurev1alpha1.ExternalTrafficPolicyLocal
		}},
		{"service-https-only.yaml", func(e *exposurev1alpha1.InferenceExposure) {
			e.Spec.NodePort.Enabled = ptr.To(false)
			e.Spec.Ports.GRPC = nil
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := triton()
			tc.mod(e)
			golden(t, tc.file, Service(e, "alpha", ports))
		})
	}
}

func TestMergeService(t *testing.T) {
	desired := Service(triton(), "alpha", map[string]int32{"http": 30800, "grpc": 30801, "metrics": 30802})
	live := desired.DeepCopy()
	live.ResourceVersion = "7"
	live.Spec.ClusterIP = "10.96.0.10"
	live.Annotations = map[string]string{"someone": "else"}
	live.Labels["extra"] = "kept"

	for _, tc := range []struct {
		name    string
		edit    func(*corev1.Service)
		changed bool
	}{
		{"identical", func(*corev1.Service) {}, false},
		{"selector drift", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "x"} }, true},
		{"node port drift", func(s *corev1.Service) { s.Spec.Ports[1].NodePort = 30850 }, true},
		{"our label removed", func(s *corev1.Service) { delete(s.Labels, exposurev1alpha1.LabelTenant) }, true},
		{"type changed", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeLoadBalancer }, true},
		{"others' annotation changed", func(s *corev1.Service) { s.Annotations["someone"] = "changed" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			existing := live.DeepCopy()
			tc.edit(existing)
			merged, changed := MergeService(existing, desired)
			if changed != tc.changed {
				t.Fatalf("changed = %v, want %v", changed, tc.changed)
			}
			if merged.Spec.ClusterIP != "10.96.0.10" || merged.Labels["extra"] != "kept" || merged.Annotations["someone"] == "" || merged.ResourceVersion != "7" {
				t.Fatalf("fields owned by others lost: %+v", merged.ObjectMeta)
			}
			if again, ch := MergeService(merged, desired); ch || again.Spec.Selector["app"] != "triton-inference" {
				t.Fatal("merge is not idempotent")
			}
		})
	}
}
