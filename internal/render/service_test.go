package render

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

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
