// Package render turns the API types into what the operator writes: one folder per output
// (service: the NodePort Service; router: Ingresses, Routes and Gateway API objects; haproxy:
// the HAProxy configuration), and here what they share (ports, owner references, labels).
// Every function is pure: same input, same output, no client calls, so it is table-tested
// without a cluster.
package render

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// NamedPort is one declared port of an exposure.
type NamedPort struct {
	Name string
	Port int32
}

// DeclaredPorts lists the ports of the exposure's Service in a fixed order: http, grpc,
// metrics (unless nodePort.metrics keeps it off a NodePort Service).
func DeclaredPorts(exp *exposurev1alpha1.InferenceExposure) []NamedPort {
	var out []NamedPort
	p := exp.Spec.Ports
	metrics := p.Metrics
	if NodePortEnabled(exp) && exp.Spec.NodePort.Metrics != nil && !*exp.Spec.NodePort.Metrics {
		metrics = nil
	}
	for _, np := range []struct {
		name string
		port *int32
	}{{allocator.PortHTTP, p.HTTP}, {allocator.PortGRPC, p.GRPC}, {allocator.PortMetrics, metrics}} {
		if np.port != nil {
			out = append(out, NamedPort{np.name, *np.port})
		}
	}
	return out
}

// PortNames are the names the exposure needs nodePorts for, in allocation order. (A NodePort
// Service has no healthCheckNodePort: the API server allows it on LoadBalancers only.)
func PortNames(exp *exposurev1alpha1.InferenceExposure) []string {
	if !NodePortEnabled(exp) {
		return nil
	}
	var out []string
	for _, p := range DeclaredPorts(exp) {
		out = append(out, p.Name)
	}
	return out
}

// NodePortEnabled reports whether the exposure wants a NodePort Service (the default).
func NodePortEnabled(exp *exposurev1alpha1.InferenceExposure) bool {
	return exp.Spec.NodePort.Enabled == nil || *exp.Spec.NodePort.Enabled
}

// ChildLabels are the labels on every object owned by an exposure.
func ChildLabels(exp *exposurev1alpha1.InferenceExposure, tenant string) map[string]string {
	return map[string]string{
		exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue,
		exposurev1alpha1.LabelTenant:    tenant,
		exposurev1alpha1.LabelExposure:  exp.Name,
	}
}

// OwnerReference makes the exposure the controller of a child object.
func OwnerReference(exp *exposurev1alpha1.InferenceExposure) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         exposurev1alpha1.GroupVersion.String(),
		Kind:               "InferenceExposure",
		Name:               exp.Name,
		UID:                exp.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// Selector is the exposure's pod selector as a plain map.
func Selector(exp *exposurev1alpha1.InferenceExposure) map[string]string {
	out := make(map[string]string, len(exp.Spec.Selector))
	for k, v := range exp.Spec.Selector {
		out[k] = string(v)
	}
	return out
}

// IsControlledBy reports whether obj's controller owner reference points at the exposure.
func IsControlledBy(obj metav1.Object, exp *exposurev1alpha1.InferenceExposure) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == exp.UID && ref.Kind == "InferenceExposure"
}
