package podmonitor

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/golden"
)

func exposure(metrics *exposurev1alpha1.MetricsSpec) *exposurev1alpha1.InferenceExposure {
	return &exposurev1alpha1.InferenceExposure{
		ObjectMeta: metav1.ObjectMeta{Name: "triton", Namespace: "team-a", UID: "0000-1111"},
		Spec: exposurev1alpha1.InferenceExposureSpec{
			Selector: map[string]exposurev1alpha1.LabelValue{"app": "triton"},
			Ports:    exposurev1alpha1.ExposurePorts{HTTP: ptr.To[int32](8000), Metrics: ptr.To[int32](8002)},
			Metrics:  metrics,
		},
	}
}

func TestPodMonitorGolden(t *testing.T) {
	m := &exposurev1alpha1.MetricsSpec{Interval: "15s", ScrapeTimeout: "10s", Labels: map[string]string{"release": "prometheus", "exposure.inference.dev/tenant": "beta"}}
	golden.Check(t, "podmonitor.yaml", golden.YAML(t, PodMonitor(exposure(m), "alpha", m)))
}

// TestSpec: the exposure's own settings, else its tenant's, only with a metrics port, and
// never when podMonitor is false.
func TestSpec(t *testing.T) {
	own := &exposurev1alpha1.MetricsSpec{Interval: "15s"}
	tenant := &exposurev1alpha1.InferenceTenant{Spec: exposurev1alpha1.InferenceTenantSpec{Metrics: &exposurev1alpha1.MetricsSpec{Interval: "60s"}}}
	if got := Spec(exposure(own), tenant); got != own {
		t.Fatalf("own settings: %+v", got)
	}
	if got := Spec(exposure(nil), tenant); got == nil || got.Interval != "60s" {
		t.Fatalf("the tenant's default: %+v", got)
	}
	noPort := exposure(nil)
	noPort.Spec.Ports.Metrics = nil
	if got := Spec(noPort, tenant); got != nil {
		t.Fatalf("no metrics port: %+v", got)
	}
	if got := Spec(exposure(&exposurev1alpha1.MetricsSpec{PodMonitor: ptr.To(false)}), tenant); got != nil {
		t.Fatalf("podMonitor false: %+v", got)
	}
	if got := Spec(exposure(nil), &exposurev1alpha1.InferenceTenant{}); got != nil {
		t.Fatalf("nothing asked: %+v", got)
	}
}

// TestPodMonitorLabels: the operator's labels win over spec.metrics.labels (a tenant cannot
// relabel its PodMonitor into another tenant's), and the series get tenant and exposure.
func TestPodMonitorLabels(t *testing.T) {
	m := &exposurev1alpha1.MetricsSpec{Labels: map[string]string{"exposure.inference.dev/tenant": "beta", "release": "prometheus"}}
	pm := PodMonitor(exposure(m), "alpha", m)
	if pm.Labels["exposure.inference.dev/tenant"] != "alpha" || pm.Labels["release"] != "prometheus" {
		t.Fatalf("labels %v", pm.Labels)
	}
	e := pm.Spec.PodMetricsEndpoints[0]
	if e.HonorLabels || len(e.Relabelings) != 2 || *e.Relabelings[0].Replacement != "alpha" || e.Relabelings[0].TargetLabel != "tenant" || *e.PortNumber != 8002 || e.Path != "/metrics" {
		t.Fatalf("endpoint %+v", e)
	}
}
