package router

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=grpcroutes,verbs=get;list;watch;create;update;patch;delete

// GRPCRouteGVK is the Gateway API GRPCRoute kind.
var GRPCRouteGVK = gatewayv1.SchemeGroupVersion.WithKind("GRPCRoute")

// GRPCRoute routes every gRPC method on the gRPC host to the grpc port (or its InferencePool). It has its own
// hostname: an HTTPRoute and a GRPCRoute may not share one.
func GRPCRoute(in Input) *gatewayv1.GRPCRoute {
	exp := in.Exposure
	rule := gatewayv1.GRPCRouteRule{}
	if UsesInferencePools(in) {
		rule.BackendRefs = []gatewayv1.GRPCBackendRef{{BackendRef: poolBackendRef(GRPCName(exp))}}
		rule.Filters = []gatewayv1.GRPCRouteFilter{{Type: gatewayv1.GRPCRouteFilterRequestHeaderModifier, RequestHeaderModifier: fairness(in)}}
	} else {
		for _, b := range backends(exp) {
			rule.BackendRefs = append(rule.BackendRefs, gatewayv1.GRPCBackendRef{BackendRef: backendRef(b, *exp.Spec.Ports.GRPC)})
		}
	}
	gr := &gatewayv1.GRPCRoute{
		ObjectMeta: objectMeta(in, exp.Name, nil),
		Spec: gatewayv1.GRPCRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{ParentRef(exp)}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(in.GRPCHost)},
			Rules:           []gatewayv1.GRPCRouteRule{rule},
		},
	}
	gr.SetGroupVersionKind(GRPCRouteGVK)
	return gr
}

type grpcRouteKind struct{}

func init() { register(grpcRouteKind{}) }

func (grpcRouteKind) GVK() schema.GroupVersionKind { return GRPCRouteGVK }
func (grpcRouteKind) New() client.Object           { return &gatewayv1.GRPCRoute{} }
func (grpcRouteKind) NewList() client.ObjectList   { return &gatewayv1.GRPCRouteList{} }
func (grpcRouteKind) Conditions() []string {
	return []string{exposurev1alpha1.ConditionGRPCRouteAccepted}
}

func (grpcRouteKind) Condition(*exposurev1alpha1.InferenceExposure, string) string {
	return exposurev1alpha1.ConditionGRPCRouteAccepted
}

func (grpcRouteKind) Verdict(exp *exposurev1alpha1.InferenceExposure, objs []client.Object) Verdict {
	return routeParentsVerdict("GRPCRoute", exp, objs, func(o client.Object) []gatewayv1.RouteParentStatus {
		return o.(*gatewayv1.GRPCRoute).Status.Parents
	})
}

// ServedBy is the exposure's Gateway.
func (grpcRouteKind) ServedBy(exp *exposurev1alpha1.InferenceExposure, _ client.Object) Server {
	return gatewayServer(exp)
}
