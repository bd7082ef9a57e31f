package router

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=backendtlspolicies,verbs=get;list;watch;create;update;patch;delete

// BackendTLSPolicyGVK is the Gateway API BackendTLSPolicy kind (standard channel since v1.4).
var BackendTLSPolicyGVK = gatewayv1.SchemeGroupVersion.WithKind("BackendTLSPolicy")

// BackendTLSPolicy makes the Gateway re-encrypt towards the exposure's backend Services and
// verify their certificate: the hostname (default <service>.<namespace>.svc) against the CA
// bundle of a ConfigMap, or the system's well-known CAs.
func BackendTLSPolicy(in Input) *gatewayv1.BackendTLSPolicy {
	exp := in.Exposure
	var spec exposurev1alpha1.BackendTLS
	if t := exp.Spec.Router.TLS; t != nil && t.Backend != nil {
		spec = *t.Backend
	}
	validation := gatewayv1.BackendTLSPolicyValidation{Hostname: gatewayv1.PreciseHostname(spec.Hostname)}
	if spec.Hostname == "" {
		validation.Hostname = gatewayv1.PreciseHostname(fmt.Sprintf("%s.%s.svc", exp.Name, exp.Namespace))
	}
	if spec.CAConfigMap != "" {
		validation.CACertificateRefs = []gatewayv1.LocalObjectReference{{Group: "", Kind: "ConfigMap", Name: gatewayv1.ObjectName(spec.CAConfigMap)}}
	} else {
		validation.WellKnownCACertificates = ptr.To(gatewayv1.WellKnownCACertificatesSystem)
	}
	p := &gatewayv1.BackendTLSPolicy{
		ObjectMeta: objectMeta(in, exp.Name, nil),
		Spec:       gatewayv1.BackendTLSPolicySpec{Validation: validation},
	}
	for _, b := range backends(exp) {
		p.Spec.TargetRefs = append(p.Spec.TargetRefs, gatewayv1.LocalPolicyTargetReferenceWithSectionName{
			LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{Group: "", Kind: "Service", Name: gatewayv1.ObjectName(b.Name)},
		})
	}
	p.SetGroupVersionKind(BackendTLSPolicyGVK)
	return p
}

type backendTLSPolicyKind struct{}

func init() { register(backendTLSPolicyKind{}) }

func (backendTLSPolicyKind) GVK() schema.GroupVersionKind { return BackendTLSPolicyGVK }
func (backendTLSPolicyKind) New() client.Object           { return &gatewayv1.BackendTLSPolicy{} }
func (backendTLSPolicyKind) NewList() client.ObjectList   { return &gatewayv1.BackendTLSPolicyList{} }
func (backendTLSPolicyKind) Conditions() []string {
	return []string{exposurev1alpha1.ConditionBackendTLSPolicyAccepted}
}

func (backendTLSPolicyKind) Condition(*exposurev1alpha1.InferenceExposure, string) string {
	return exposurev1alpha1.ConditionBackendTLSPolicyAccepted
}

// Verdict reads the policy's ancestor status for the exposure's Gateway: Accepted and
// ResolvedRefs (the CA ConfigMap), as for routes.
func (backendTLSPolicyKind) Verdict(exp *exposurev1alpha1.InferenceExposure, objs []client.Object) Verdict {
	p := objs[0].(*gatewayv1.BackendTLSPolicy)
	return policyVerdict("BackendTLSPolicy", exp, p.Generation, p.Status)
}

// policyVerdict reads a policy's ancestor status (Gateway API's PolicyStatus, which Envoy
// Gateway's policies share) for the exposure's Gateway, as a route's parents.
func policyVerdict(kind string, exp *exposurev1alpha1.InferenceExposure, generation int64, status gatewayv1.PolicyStatus) Verdict {
	parents := make([]gatewayv1.RouteParentStatus, 0, len(status.Ancestors))
	for _, a := range status.Ancestors {
		parents = append(parents, gatewayv1.RouteParentStatus{ParentRef: a.AncestorRef, ControllerName: a.ControllerName, Conditions: a.Conditions})
	}
	return AncestorVerdict(kind, generation, parents, ParentRef(exp), exp.Namespace)
}

// ServedBy is the exposure's Gateway.
func (backendTLSPolicyKind) ServedBy(exp *exposurev1alpha1.InferenceExposure, _ client.Object) Server {
	return gatewayServer(exp)
}
