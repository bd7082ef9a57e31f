// Package service builds the Service an exposure owns: NodePort with ports from the tenant's
// block, or ClusterIP when nodePort is disabled. Pure, like the rest of internal/render.
package service

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/render"
)

// AppProtocolH2C marks the gRPC port as cleartext HTTP/2 so that proxies in front of the
// Service speak gRPC to it.
const AppProtocolH2C = "kubernetes.io/h2c"

// Build returns the desired Service of an exposure. nodePorts maps port names to the
// nodePorts allocated from the tenant's block; it is ignored when NodePort is disabled.
func Build(exp *exposurev1alpha1.InferenceExposure, tenant string, nodePorts map[string]int32) *corev1.Service {
	svc := &corev1.Service{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            exp.Name,
			Namespace:       exp.Namespace,
			Labels:          render.ChildLabels(exp, tenant),
			OwnerReferences: []metav1.OwnerReference{render.OwnerReference(exp)},
		},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: render.Selector(exp),
		},
	}
	nodePort := render.NodePortEnabled(exp)
	if nodePort {
		svc.Spec.Type = corev1.ServiceTypeNodePort
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		if exp.Spec.NodePort.ExternalTrafficPolicy == exposurev1alpha1.ExternalTrafficPolicyLocal {
			svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		}
	}
	for _, p := range render.DeclaredPorts(exp) {
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
