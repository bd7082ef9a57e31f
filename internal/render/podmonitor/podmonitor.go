// Package podmonitor builds the PodMonitor that has the Prometheus Operator scrape an
// exposure's metrics port. Every function is pure.
package podmonitor

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/monitoring"
	"github.com/inference-exposure/inference-exposure-operator/internal/render"
)

// +kubebuilder:rbac:groups=monitoring.coreos.com,resources=podmonitors,verbs=get;list;watch;create;update;patch;delete

// GVK is the Prometheus Operator's PodMonitor kind.
var GVK = monitoring.GroupVersion.WithKind("PodMonitor")

// Labels the operator puts on every series scraped from an exposure.
const (
	LabelTenant   = "tenant"
	LabelExposure = "exposure"
)

// Spec is how the exposure is scraped: its own spec.metrics, else its tenant's for an exposure
// with a metrics port; nil when it is not scraped by a PodMonitor.
func Spec(exp *exposurev1alpha1.InferenceExposure, tenant *exposurev1alpha1.InferenceTenant) *exposurev1alpha1.MetricsSpec {
	if exp.Spec.Ports.Metrics == nil {
		return nil
	}
	m := exp.Spec.Metrics
	if m == nil && tenant != nil {
		m = tenant.Spec.Metrics
	}
	if m == nil || (m.PodMonitor != nil && !*m.PodMonitor) {
		return nil
	}
	return m
}

// PodMonitor scrapes ports.metrics of the pods the exposure selects, in its namespace. The
// tenant and the exposure are set on every series by relabeling, after the target's own labels
// (honorLabels stays false, so a series that carries its own "tenant" label keeps it as
// exported_tenant): a model server cannot pass its series off as another tenant's.
func PodMonitor(exp *exposurev1alpha1.InferenceExposure, tenant string, m *exposurev1alpha1.MetricsSpec) *monitoring.PodMonitor {
	labels := render.ChildLabels(exp, tenant)
	for k, v := range m.Labels {
		if _, ours := labels[k]; !ours {
			labels[k] = v
		}
	}
	path := m.Path
	if path == "" {
		path = "/metrics"
	}
	pm := &monitoring.PodMonitor{
		ObjectMeta: metav1.ObjectMeta{
			Name:            exp.Name,
			Namespace:       exp.Namespace,
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{render.OwnerReference(exp)},
		},
		Spec: monitoring.PodMonitorSpec{
			Selector: metav1.LabelSelector{MatchLabels: render.Selector(exp)},
			PodMetricsEndpoints: []monitoring.PodMetricsEndpoint{{
				PortNumber:    ptr.To(*exp.Spec.Ports.Metrics),
				Path:          path,
				Interval:      m.Interval,
				ScrapeTimeout: m.ScrapeTimeout,
				Relabelings: []monitoring.RelabelConfig{
					{Action: "replace", TargetLabel: LabelTenant, Replacement: ptr.To(tenant)},
					{Action: "replace", TargetLabel: LabelExposure, Replacement: ptr.To(exp.Name)},
				},
			}},
		},
	}
	pm.SetGroupVersionKind(GVK)
	return pm
}
