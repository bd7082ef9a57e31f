package router

import (
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// GatewayRoutes builds the HTTPRoute and, with grpc, the GRPCRoute. TLS ends at the Gateway's
// listener, so only Edge is possible here.
func GatewayRoutes(in Input) ([]client.Object, error) {
	exp := in.Exposure
	if term := Termination(exp); term != exposurev1alpha1.TLSEdge {
		return nil, errorf(exposurev1alpha1.ReasonRouterUnsupported,
			"tls.termination %s is not possible with a Gateway API route: the Gateway's listener terminates TLS; use type Route or Ingress, or Edge", term)
	}
	r := exp.Spec.Router
	if r.Gateway == nil {
		return nil, errorf(exposurev1alpha1.ReasonRouterInvalid, "a Gateway API route needs router.gateway.parentRef")
	}
	var out []client.Object
	if RoutesHTTP(exp) {
		out = append(out, HTTPRoute(in))
	}
	if RoutesGRPC(exp) {
		out = append(out, GRPCRoute(in))
	}
	return out, nil
}

// ParentRef is the Gateway reference of the exposure's routes, fully spelled out.
func ParentRef(exp *exposurev1alpha1.InferenceExposure) gatewayv1.ParentReference {
	p := exp.Spec.Router.Gateway.ParentRef
	ns := p.Namespace
	if ns == "" {
		ns = exp.Namespace
	}
	ref := gatewayv1.ParentReference{
		Group:     ptr.To(gatewayv1.Group(gatewayv1.GroupName)),
		Kind:      ptr.To(gatewayv1.Kind("Gateway")),
		Namespace: ptr.To(gatewayv1.Namespace(ns)),
		Name:      gatewayv1.ObjectName(p.Name),
	}
	if p.SectionName != "" {
		ref.SectionName = ptr.To(gatewayv1.SectionName(p.SectionName))
	}
	return ref
}

func backendRef(b exposurev1alpha1.Backend, port int32) gatewayv1.BackendRef {
	return gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{
			Group: ptr.To(gatewayv1.Group("")),
			Kind:  ptr.To(gatewayv1.Kind("Service")),
			Name:  gatewayv1.ObjectName(b.Name),
			Port:  ptr.To(port),
		},
		Weight: ptr.To(b.Weight),
	}
}

// HTTPRoute routes the host's paths (PathPrefix) to the http port, with timeouts.request.
func HTTPRoute(in Input) *gatewayv1.HTTPRoute {
	exp := in.Exposure
	rule := gatewayv1.HTTPRouteRule{}
	for _, p := range Paths(exp) {
		rule.Matches = append(rule.Matches, gatewayv1.HTTPRouteMatch{
			Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: ptr.To(p)},
		})
	}
	for _, b := range backends(exp) {
		rule.BackendRefs = append(rule.BackendRefs, gatewayv1.HTTPBackendRef{BackendRef: backendRef(b, *exp.Spec.Ports.HTTP)})
	}
	timeout := gatewayv1.Duration("0s") // zero disables the timeout in Gateway API
	if d := Timeout(exp); d != 0 {
		timeout = gatewayv1.Duration(exp.Spec.Router.Timeout)
		if exp.Spec.Router.Timeout == "" {
			timeout = DefaultTimeout
		}
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
	hr.SetGroupVersionKind(gatewayv1.SchemeGroupVersion.WithKind("HTTPRoute"))
	return hr
}

// GRPCRoute routes every gRPC method on the gRPC host to the grpc port. It has its own
// hostname: an HTTPRoute and a GRPCRoute may not share one.
func GRPCRoute(in Input) *gatewayv1.GRPCRoute {
	exp := in.Exposure
	rule := gatewayv1.GRPCRouteRule{}
	for _, b := range backends(exp) {
		rule.BackendRefs = append(rule.BackendRefs, gatewayv1.GRPCBackendRef{BackendRef: backendRef(b, *exp.Spec.Ports.GRPC)})
	}
	gr := &gatewayv1.GRPCRoute{
		ObjectMeta: objectMeta(in, exp.Name, nil),
		Spec: gatewayv1.GRPCRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{ParentRef(exp)}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(in.GRPCHost)},
			Rules:           []gatewayv1.GRPCRouteRule{rule},
		},
	}
	gr.SetGroupVersionKind(gatewayv1.SchemeGroupVersion.WithKind("GRPCRoute"))
	return gr
}
