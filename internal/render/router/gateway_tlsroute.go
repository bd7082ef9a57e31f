package router

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=tlsroutes,verbs=get;list;watch;create;update;patch;delete

// TLSRouteGVK is the Gateway API TLSRoute kind (standard channel since v1.5).
var TLSRouteGVK = gatewayv1.SchemeGroupVersion.WithKind("TLSRoute")

// TLSRoute sends the TLS connections whose SNI is host, untouched, to port of the backends:
// Passthrough, TLS ends at the pod. The Gateway needs a listener of protocol TLS in mode
// Passthrough.
func TLSRoute(in Input, name, host string, port int32) *gatewayv1.TLSRoute {
	exp := in.Exposure
	rule := gatewayv1.TLSRouteRule{}
	for _, b := range backends(exp) {
		rule.BackendRefs = append(rule.BackendRefs, backendRef(b, port))
	}
	tr := &gatewayv1.TLSRoute{
		ObjectMeta: objectMeta(in, name, nil),
		Spec: gatewayv1.TLSRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{ParentRef(exp)}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(host)},
			Rules:           []gatewayv1.TLSRouteRule{rule},
		},
	}
	tr.SetGroupVersionKind(TLSRouteGVK)
	return tr
}

type tlsRouteKind struct{}

func init() { register(tlsRouteKind{}) }

func (tlsRouteKind) GVK() schema.GroupVersionKind { return TLSRouteGVK }
func (tlsRouteKind) New() client.Object           { return &gatewayv1.TLSRoute{} }
func (tlsRouteKind) NewList() client.ObjectList   { return &gatewayv1.TLSRouteList{} }
func (tlsRouteKind) Conditions() []string {
	return []string{exposurev1alpha1.ConditionTLSRouteAccepted}
}

func (tlsRouteKind) Condition(*exposurev1alpha1.InferenceExposure, string) string {
	return exposurev1alpha1.ConditionTLSRouteAccepted
}

func (tlsRouteKind) Verdict(exp *exposurev1alpha1.InferenceExposure, objs []client.Object) Verdict {
	return routeParentsVerdict("TLSRoute", exp, objs, func(o client.Object) []gatewayv1.RouteParentStatus {
		return o.(*gatewayv1.TLSRoute).Status.Parents
	})
}

// ServedBy is the exposure's Gateway.
func (tlsRouteKind) ServedBy(exp *exposurev1alpha1.InferenceExposure, _ client.Object) Server {
	return gatewayServer(exp)
}
