package service

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/golden"
)

func triton() *exposurev1alpha1.InferenceExposure {
	return &exposurev1alpha1.InferenceExposure{
		ObjectMeta: metav1.ObjectMeta{Name: "triton", Namespace: "tenant-alpha", UID: "0000-1111"},
		Spec: exposurev1alpha1.InferenceExposureSpec{
			Selector: map[string]exposurev1alpha1.LabelValue{"app": "triton-inference"},
			Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000), GRPC: ptr.To[int32](8001), Metrics: ptr.To[int32](8002)},
		},
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
		{"service-metrics-without-nodeport.yaml", func(e *exposurev1alpha1.InferenceExposure) {
			e.Spec.NodePort.Metrics = ptr.To(false)
		}},
		{"service-https-only.yaml", func(e *exposurev1alpha1.InferenceExposure) {
			e.Spec.NodePort.Enabled = ptr.To(false)
			e.Spec.Ports.GRPC = nil
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := triton()
			tc.mod(e)
			golden.Check(t, tc.file, golden.YAML(t, Build(e, "alpha", ports)))
		})
	}
}

// TestMetricsNodePort: nodePort.metrics false keeps the metrics port off a NodePort Service
// (no node port asked from the block); a ClusterIP Service keeps it.
func TestMetricsNodePort(t *testing.T) {
	e := triton()
	e.Spec.NodePort.Metrics = ptr.To(false)
	if names := render.PortNames(e); len(names) != 2 || names[1] != "grpc" {
		t.Fatalf("node ports asked: %v", names)
	}
	e.Spec.NodePort.Enabled = ptr.To(false)
	if ports := render.DeclaredPorts(e); len(ports) != 3 {
		t.Fatalf("a ClusterIP Service keeps the metrics port: %v", ports)
	}
}
