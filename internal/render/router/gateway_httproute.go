package router

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=get;list;watch;create;update;patch;delete

// HTTPRouteGVK is the Gateway API HTTPRoute kind.
var HTTPRouteGVK = gatewayv1.SchemeGroupVersion.WithKind("HTTPRoute")

// HTTPRoute routes the host's paths (PathPrefix) to the http port, or to the exposure's
// InferencePool with the tenant as the fairness key, with timeouts.request.
func HTTPRoute(in Input) *gatewayv1.HTTPRoute {
	exp := in.Exposure
	rule := gatewayv1.HTTPRouteRule{}
	for _, p := range Paths(exp) {
		rule.Matches = append(rule.Matches, gatewayv1.HTTPRouteMatch{
			Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(p)},
		})
	}
	if UsesInferencePools(in) {
		rule.BackendRefs = []gatewayv1.HTTPBackendRef{{BackendRef: poolBackendRef(exp.Name)}}
		rule.Filters = []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: fairness(in)}}
	} else {
		for _, b := range backends(exp) {
			rule.BackendRefs = append(rule.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: backendRef(b, *exp.Spec.Ports.HTTP)})
		}
	}
	// timeouts.request is a deadline for the whole response (GEP-1742), not an idle timer: only
	// the exposure's request deadline goes there. Zero disables it, where an implementation's
	// own default (Envoy's 15s) would cut long streams.
	timeout := gatewayv1.Duration("0s")
	if exp.Spec.Router.Timeouts != nil && RequestTimeout(exp) != 0 {
		timeout = gatewayv1.Duration(exp.Spec.Router.Timeouts.Request)
	}
	rule.Timeouts = &gatewayv1.HTTPRouteTimeouts{Request: &timeout}
	hr := &gatewayv1.HTTPRoute{
		ObjectMeta: objectMeta(in, exp.Name, nil),
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{ParentRef(exp)}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(in.Host)},
			Rules:           []gatewayv1.HTTPRouteRule{rule},
		},
	}
	hr.SetGroupVersionKind(HTTPRouteGVK)
	return hr
}

type httpRouteKind struct{}

func init() { register(httpRouteKind{}) }

func (httpRouteKind) GVK() schema.GroupVersionKind { return HTTPRouteGVK }
func (httpRouteKind) New() client.Object           { return &gatewayv1.HTTPRoute{} }
func (httpRouteKind) NewList() client.ObjectList   { return &gatewayv1.HTTPRouteList{} }
func (httpRouteKind) Conditions() []string {
	return []string{exposurev1alpha1.ConditionHTTPRouteAccepted}
}

func (httpRouteKind) Condition(*exposurev1alpha1.InferenceExposure, string) string {
	return exposurev1alpha1.ConditionHTTPRouteAccepted
}

func (httpRouteKind) Verdict(exp *exposurev1alpha1.InferenceExposure, objs []client.Object) Verdict {
	return routeParentsVerdict("HTTPRoute", exp, objs, func(o client.Object) []gatewayv1.RouteParentStatus {
		return o.(*gatewayv1.HTTPRoute).Status.Parents
	})
}

// ServedBy is the exposure's Gateway.
func (httpRouteKind) ServedBy(exp *exposurev1alpha1.InferenceExposure, _ client.Object) Server {
	return gatewayServer(exp)
}
