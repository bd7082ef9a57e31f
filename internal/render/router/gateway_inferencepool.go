package router

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/inferencepool"
)

// +kubebuilder:rbac:groups=inference.networking.k8s.io,resources=inferencepools,verbs=get;list;watch;create;update;patch;delete

// InferencePoolGVK is the Gateway API Inference Extension's InferencePool kind.
var InferencePoolGVK = inferencepool.GroupVersion.WithKind("InferencePool")

// UsesInferencePools reports whether the exposure's Gateway routes go to InferencePools: it
// asks for them, the cluster serves the API, and the Gateway terminates TLS (it must see each
// request to pick its pod).
func UsesInferencePools(in Input) bool {
	r := in.Exposure.Spec.Router
	return r != nil && r.InferencePool != nil && in.InferencePools && Termination(in.Exposure) == exposurev1alpha1.TLSEdge
}

// InferencePools builds the exposure's pools: one for the http port, and with grpc one for the
// grpc port (HTTP/2 in clear towards the pods). Each selects the exposure's pods, in its own
// namespace, with the endpoint picker the exposure names, else the tenant's default, else
// none (the Gateway picks).
func InferencePools(in Input) []client.Object {
	exp := in.Exposure
	picker := exp.Spec.Router.InferencePool.EndpointPicker
	if picker == nil {
		picker = in.EndpointPicker
	}
	pool := func(name string, port int32, protocol string) *inferencepool.InferencePool {
		p := &inferencepool.InferencePool{
			ObjectMeta: objectMeta(in, name, nil),
			Spec: inferencepool.Spec{
				Selector:    inferencepool.LabelSelector{MatchLabels: map[string]string{}},
				TargetPorts: []inferencepool.Port{{Number: port}},
				AppProtocol: protocol,
			},
		}
		for k, v := range exp.Spec.Selector {
			p.Spec.Selector.MatchLabels[k] = string(v)
		}
		if picker != nil {
			p.Spec.EndpointPickerRef = &inferencepool.EndpointPickerRef{Name: picker.Name, Port: &inferencepool.Port{Number: picker.Port}, FailureMode: picker.FailureMode}
			if p.Spec.EndpointPickerRef.FailureMode == "" {
				p.Spec.EndpointPickerRef.FailureMode = "FailClose"
			}
		}
		p.SetGroupVersionKind(InferencePoolGVK)
		return p
	}
	var out []client.Object
	if RoutesHTTP(exp) {
		out = append(out, pool(exp.Name, *exp.Spec.Ports.HTTP, inferencepool.AppProtocolHTTP))
	}
	if RoutesGRPC(exp) {
		out = append(out, pool(GRPCName(exp), *exp.Spec.Ports.GRPC, inferencepool.AppProtocolH2C))
	}
	return out
}

// poolBackendRef sends a route's traffic to the pool of that name, in the route's namespace.
func poolBackendRef(name string) gatewayv1.BackendRef {
	return gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Group: ptr.To(gatewayv1.Group(inferencepool.GroupVersion.Group)),
		Kind:  ptr.To(gatewayv1.Kind("InferencePool")),
		Name:  gatewayv1.ObjectName(name),
	}}
}

// fairness sets the fairness key to the tenant's name: Set replaces whatever a client sent,
// so no tenant's requests count against another's share.
func fairness(in Input) *gatewayv1.HTTPHeaderFilter {
	return &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: inferencepool.FairnessHeader, Value: in.Tenant}}}
}

type inferencePoolKind struct{}

func init() { register(inferencePoolKind{}) }

func (inferencePoolKind) GVK() schema.GroupVersionKind { return InferencePoolGVK }
func (inferencePoolKind) New() client.Object           { return &inferencepool.InferencePool{} }
func (inferencePoolKind) NewList() client.ObjectList   { return &inferencepool.InferencePoolList{} }
func (inferencePoolKind) Conditions() []string {
	return []string{exposurev1alpha1.ConditionInferencePoolAccepted}
}

func (inferencePoolKind) Condition(*exposurev1alpha1.InferenceExposure, string) string {
	return exposurev1alpha1.ConditionInferencePoolAccepted
}

// Verdict reads what the exposure's Gateway reports on each pool (status.parents): Accepted
// and ResolvedRefs (the endpoint picker found), as for routes.
func (inferencePoolKind) Verdict(exp *exposurev1alpha1.InferenceExposure, objs []client.Object) Verdict {
	var v Verdict
	for _, o := range objs {
		p := o.(*inferencepool.InferencePool)
		parents := make([]gatewayv1.RouteParentStatus, 0, len(p.Status.Parents))
		for _, ps := range p.Status.Parents {
			ref := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(ps.ParentRef.Name)}
			if ps.ParentRef.Group != nil {
				ref.Group = ptr.To(gatewayv1.Group(*ps.ParentRef.Group))
			}
			if ps.ParentRef.Kind != "" {
				ref.Kind = ptr.To(gatewayv1.Kind(ps.ParentRef.Kind))
			}
			if ps.ParentRef.Namespace != "" {
				ref.Namespace = ptr.To(gatewayv1.Namespace(ps.ParentRef.Namespace))
			}
			parents = append(parents, gatewayv1.RouteParentStatus{ParentRef: ref, ControllerName: gatewayv1.GatewayController(ps.ControllerName), Conditions: ps.Conditions})
		}
		v = ParentVerdict("InferencePool "+p.Name, p.Generation, parents, ParentRef(exp), exp.Namespace)
		if v.Status != "True" {
			return v
		}
	}
	return v
}

// ServedBy is the exposure's Gateway.
func (inferencePoolKind) ServedBy(exp *exposurev1alpha1.InferenceExposure, _ client.Object) Server {
	return gatewayServer(exp)
}
