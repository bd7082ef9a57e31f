package router

import (
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/tenantgateway"
)

// GatewayRoutes builds the Gateway API objects of an exposure, by TLS termination:
//   - Edge (the Gateway's listener terminates TLS): an HTTPRoute for the http port and, with
//     grpc, a GRPCRoute on the gRPC host;
//   - Passthrough (TLS ends at the pod): a TLSRoute per routed port, matched by SNI;
//   - Reencrypt: the Edge routes plus a BackendTLSPolicy that makes the Gateway speak TLS to
//     the backend Services and verify their certificate.
func GatewayRoutes(in Input) ([]client.Object, error) {
	exp := in.Exposure
	r := exp.Spec.Router
	if r.Gateway == nil {
		return nil, errorf(exposurev1alpha1.ReasonRouterInvalid, "a Gateway API route needs router.gateway.parentRef")
	}
	var out []client.Object
	if Termination(exp) == exposurev1alpha1.TLSPassthrough {
		if RoutesHTTP(exp) {
			out = append(out, TLSRoute(in, exp.Name, in.Host, *exp.Spec.Ports.HTTP))
		}
		if RoutesGRPC(exp) {
			out = append(out, TLSRoute(in, GRPCName(exp), in.GRPCHost, *exp.Spec.Ports.GRPC))
		}
		return out, nil
	}
	if RoutesHTTP(exp) {
		out = append(out, HTTPRoute(in))
	}
	if RoutesGRPC(exp) {
		out = append(out, GRPCRoute(in))
	}
	if Termination(exp) == exposurev1alpha1.TLSReencrypt {
		out = append(out, BackendTLSPolicy(in))
	}
	if in.GatewayPolicies {
		out = append(out, BackendTrafficPolicy(in))
	}
	if UsesInferencePools(in) {
		out = append(out, InferencePools(in)...)
	}
	return out, nil
}

// KindListenerSet is the parent kind of routes that attach to a tenant's ListenerSet.
const KindListenerSet = "ListenerSet"

// WithTenantGateway is the exposure as its routes see it: a Gateway exposure without a
// parentRef attaches to its tenant's ListenerSet (a copy with the parentRef filled in; the
// stored spec is untouched). A ListenerSet parent must be the tenant's own.
func WithTenantGateway(exp *exposurev1alpha1.InferenceExposure, tenant *exposurev1alpha1.InferenceTenant) (*exposurev1alpha1.InferenceExposure, error) {
	r := exp.Spec.Router
	if r == nil || r.Type != exposurev1alpha1.RouterGateway {
		return exp, nil
	}
	if r.Gateway == nil {
		if tenant.Spec.Gateway == nil {
			return nil, errorf(exposurev1alpha1.ReasonRouterInvalid,
				"router.type Gateway needs router.gateway.parentRef, or a tenant with spec.gateway (a ListenerSet on a shared Gateway, which the platform team sets up): set router.gateway.parentRef")
		}
		key := tenantgateway.Key(tenant)
		out := exp.DeepCopy()
		out.Spec.Router.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Kind: KindListenerSet, Namespace: key.Namespace, Name: key.Name}}
		return out, nil
	}
	if p := r.Gateway.ParentRef; p.Kind == KindListenerSet {
		ns := p.Namespace
		if ns == "" {
			ns = exp.Namespace
		}
		if tenant.Spec.Gateway == nil || (types.NamespacedName{Namespace: ns, Name: p.Name}) != tenantgateway.Key(tenant) {
			return nil, errorf(exposurev1alpha1.ReasonRouterInvalid,
				"router.gateway.parentRef names ListenerSet %s/%s, which is not this tenant's: an exposure attaches only to its own tenant's ListenerSet (leave parentRef out to use it) or to a Gateway", ns, p.Name)
		}
	}
	return exp, nil
}

// ParentRef is the Gateway (or ListenerSet) reference of the exposure's routes, fully spelled
// out.
func ParentRef(exp *exposurev1alpha1.InferenceExposure) gatewayv1.ParentReference {
	p := exp.Spec.Router.Gateway.ParentRef
	ns := p.Namespace
	if ns == "" {
		ns = exp.Namespace
	}
	kind := p.Kind
	if kind == "" {
		kind = "Gateway"
	}
	ref := gatewayv1.ParentReference{
		Group:     ptr.To(gatewayv1.Group(gatewayv1.GroupName)),
		Kind:      ptr.To(gatewayv1.Kind(kind)),
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

// routeParentsVerdict is the verdict of Gateway API routes of one condition: the first that
// is not True decides, else they are all True.
// gatewayServer is the Gateway (or the tenant's ListenerSet) an exposure's Gateway API
// objects attach to.
func gatewayServer(exp *exposurev1alpha1.InferenceExposure) Server {
	ref := ParentRef(exp)
	key := &types.NamespacedName{Namespace: string(*ref.Namespace), Name: string(ref.Name)}
	if *ref.Kind == KindListenerSet {
		return Server{ListenerSet: key}
	}
	return Server{Gateway: key}
}

func routeParentsVerdict(kind string, exp *exposurev1alpha1.InferenceExposure, objs []client.Object, parents func(client.Object) []gatewayv1.RouteParentStatus) Verdict {
	var v Verdict
	for _, o := range objs {
		v = ParentVerdict(kind, o.GetGeneration(), parents(o), ParentRef(exp), exp.Namespace)
		if v.Status != "True" {
			return v
		}
	}
	return v
}
