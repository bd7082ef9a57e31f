// Package render builds the objects the operator owns from the API types. Every function here
// is pure: same input, same output, no client calls, so it is table-tested without a cluster.
package render

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// AppProtocolH2C marks the gRPC port as cleartext HTTP/2 so that proxies in front of the
// Service speak gRPC to it.
const AppProtocolH2C = "kubernetes.io/h2c"

// NamedPort is one declared port of an exposure.
type NamedPort struct {
	Name string
	Port int32
}

// DeclaredPorts lists the exposure's ports in a fixed order: http, grpc, metrics.
func DeclaredPorts(exp *exposurev1alpha1.InferenceExposure) []NamedPort {
	var out []NamedPort
	p := exp.Spec.Ports
	for _, np := range []struct {
		name string
		port *int32
	}{{allocator.PortHTTP, p.HTTP}, {allocator.PortGRPC, p.GRPC}, {allocator.PortMetrics, p.Metrics}} {
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

// Service returns the desired Service of an exposure. nodePorts maps port names to the
// nodePorts allocated from the tenant's block; it is ignored when NodePort is disabled.
func Service(exp *exposurev1alpha1.InferenceExposure, tenant string, nodePorts map[string]int32) *corev1.Service {
	svc := &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            exp.Name,
			Namespace:       exp.Namespace,
			Labels:          ChildLabels(exp, tenant),
			OwnerReferences: []metav1.OwnerReference{OwnerReference(exp)},
		},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: Selector(exp),
		},
	}
	nodePort := NodePortEnabled(exp)
	if nodePort {
		svc.Spec.Type = corev1.ServiceTypeNodePort
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		if exp.Spec.NodePort.ExternalTrafficPolicy == exposurev1alpha1.ExternalTrafficPolicyLocal {
			svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}
	}
	for _, p := range DeclaredPorts(exp) {
		sp := corev1.ServicePort{
			Name:       p.Name,
			Protocol:   corev1.ProtocolTCP,
			Port:       p.Port,
			TargetPort: intstr.FromInt32(p.Port),
		}
		if p.Name == allocator.PortGRPC {
			sp.AppProtocol = ptr.To(AppProtocolH2C)
		}
		if nodePort {
			sp.NodePort = nodePorts[p.Name]
		}
		svc.Spec.Ports = append(svc.Spec.Ports, sp)
	}
	return svc
}

// Selector is the exposure's pod selector as a plain map.
func Selector(exp *exposurev1alpha1.InferenceExposure) map[string]string {
	out := make(map[string]string, len(exp.Spec.Selector))
	for k, v := range exp.Spec.Selector {
		out[k] = string(v)
	}
	return out
}

// NodePortsOf reads the nodePorts a Service holds, by port name.
func NodePortsOf(svc *corev1.Service) map[string]int32 {
	out := map[string]int32{}
	if svc == nil {
		return out
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out[p.Name] = p.NodePort
		}
	}
	return out
}

// IsControlledBy reports whether obj's controller owner reference points at the exposure.
func IsControlledBy(obj metav1.Object, exp *exposurev1alpha1.InferenceExposure) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == exp.UID && ref.Kind == "InferenceExposure"
}
