package router

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/envoygateway"
)

// +kubebuilder:rbac:groups=gateway.envoyproxy.io,resources=backendtrafficpolicies,verbs=get;list;watch;create;update;patch;delete

// BackendTrafficPolicyGVK is Envoy Gateway's BackendTrafficPolicy kind.
var BackendTrafficPolicyGVK = envoygateway.GroupVersion.WithKind("BackendTrafficPolicy")

// BackendTrafficPolicy expresses, on Envoy Gateway, what the standard routes cannot: the idle
// timeout of the exposure's streams (streamIdleTimeout) and its request deadline for the
// GRPCRoute too (requestTimeout; 0s lifts Envoy's own route timeout). It targets the exposure's
// HTTPRoute and GRPCRoute, in their namespace, as a tenant could itself.
func BackendTrafficPolicy(in Input) *envoygateway.BackendTrafficPolicy {
	exp := in.Exposure
	seconds := func(d string) *gatewayv1.Duration {
		v := gatewayv1.Duration(d)
		return &v
	}
	idle, request := "0s", "0s"
	if d := IdleTimeout(exp); d != 0 {
		idle = d.String()
	}
	if d := RequestTimeout(exp); d != 0 {
		request = d.String()
	}
	p := &envoygateway.BackendTrafficPolicy{
		ObjectMeta: objectMeta(in, exp.Name, nil),
		Spec: envoygateway.BackendTrafficPolicySpec{Timeout: &envoygateway.Timeout{HTTP: &envoygateway.HTTPTimeout{
			RequestTimeout: seconds(request), StreamIdleTimeout: seconds(idle)}}},
	}
	target := func(kind, name string) gatewayv1.LocalPolicyTargetReferenceWithSectionName {
		return gatewayv1.LocalPolicyTargetReferenceWithSectionName{LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{
			Group: gatewayv1.GroupName, Kind: gatewayv1.Kind(kind), Name: gatewayv1.ObjectName(name)}}
	}
	if RoutesHTTP(exp) {
		p.Spec.TargetRefs = append(p.Spec.TargetRefs, target("HTTPRoute", exp.Name))
	}
	if RoutesGRPC(exp) {
		p.Spec.TargetRefs = append(p.Spec.TargetRefs, target("GRPCRoute", exp.Name)) // a kind of its own: the same name
	}
	p.SetGroupVersionKind(BackendTrafficPolicyGVK)
	return p
}

type backendTrafficPolicyKind struct{}

func init() { register(backendTrafficPolicyKind{}) }

func (backendTrafficPolicyKind) GVK() schema.GroupVersionKind { return BackendTrafficPolicyGVK }
func (backendTrafficPolicyKind) New() client.Object           { return &envoygateway.BackendTrafficPolicy{} }
func (backendTrafficPolicyKind) NewList() client.ObjectList {
	return &envoygateway.BackendTrafficPolicyList{}
}
func (backendTrafficPolicyKind) Conditions() []string {
	return []string{exposurev1alpha1.ConditionTimeoutPolicyAccepted}
}

func (backendTrafficPolicyKind) Condition(*exposurev1alpha1.InferenceExposure, string) string {
	return exposurev1alpha1.ConditionTimeoutPolicyAccepted
}

// Verdict reads the policy's ancestor status for the exposure's Gateway, as for BackendTLSPolicy.
func (backendTrafficPolicyKind) Verdict(exp *exposurev1alpha1.InferenceExposure, objs []client.Object) Verdict {
	p := objs[0].(*envoygateway.BackendTrafficPolicy)
	return policyVerdict("BackendTrafficPolicy", exp, p.Generation, p.Status)
}

// ServedBy is the exposure's Gateway.
func (backendTrafficPolicyKind) ServedBy(exp *exposurev1alpha1.InferenceExposure, _ client.Object) Server {
	return gatewayServer(exp)
}
