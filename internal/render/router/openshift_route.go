package router

import (
	"fmt"
	"strings"

	routev1 "github.com/openshift/api/route/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// OpenShift router annotations the operator sets.
const (
	RouteTimeout       = "haproxy.router.openshift.io/timeout"
	RouteTunnelTimeout = "haproxy.router.openshift.io/timeout-tunnel"
	RouteBalance       = "haproxy.router.openshift.io/balance"
	// DefaultBalance spreads long inference requests by open connections, not turns.
	DefaultBalance = "leastconn"
)

// RouteName is the name of the Route for the i-th path: the exposure's name for the first
// path, <name>-path<i> after it (a Route carries one path).
func RouteName(exp *exposurev1alpha1.InferenceExposure, i int) string {
	if i == 0 {
		return exp.Name
	}
	return fmt.Sprintf("%s-path%d", exp.Name, i)
}

// Routes builds one Route per path to the http port and, with grpc, a Route on the gRPC host
// to the grpc port. The OpenShift router speaks HTTP/1.1 to pods behind an Edge Route, so the
// gRPC Route is Passthrough (TLS at the pod) unless the termination is Reencrypt.
func Routes(in Input) ([]client.Object, error) {
	exp := in.Exposure
	term := Termination(exp)
	var out []client.Object
	if RoutesHTTP(exp) {
		paths := Paths(exp)
		if term == exposurev1alpha1.TLSPassthrough {
			paths = []string{""} // the router cannot see paths inside TLS
		}
		for i, p := range paths {
			out = append(out, route(in, RouteName(exp, i), in.Host, p, allocator.PortHTTP, term, false))
		}
	}
	if RoutesGRPC(exp) {
		grpcTerm := exposurev1alpha1.TLSPassthrough
		if term == exposurev1alpha1.TLSReencrypt {
			grpcTerm = exposurev1alpha1.TLSReencrypt
		}
		out = append(out, route(in, GRPCName(exp), in.GRPCHost, "", allocator.PortGRPC, grpcTerm, true))
	}
	return out, nil
}

func route(in Input, name, host, path, portName string, term exposurev1alpha1.TLSTermination, grpc bool) *routev1.Route {
	exp := in.Exposure
	timeout := idleSeconds(exp) + "s" // HAProxy's own time format; its timers are idle timers
	ann := map[string]string{
		RouteTimeout: timeout,
		RouteBalance: DefaultBalance,
	}
	if grpc {
		ann[RouteTunnelTimeout] = timeout // streams through passthrough are tunnels
	}
	bs := backends(exp)
	r := &routev1.Route{
		ObjectMeta: objectMeta(in, name, ann),
		Spec: routev1.RouteSpec{
			Host:           host,
			Path:           path,
			To:             routeTarget(bs[0]),
			Port:           &routev1.RoutePort{TargetPort: intstr.FromString(portName)},
			TLS:            routeTLS(in, term),
			WildcardPolicy: routev1.WildcardPolicyNone,
		},
	}
	for _, b := range bs[1:] {
		r.Spec.AlternateBackends = append(r.Spec.AlternateBackends, routeTarget(b))
	}
	r.SetGroupVersionKind(routev1.GroupVersion.WithKind("Route"))
	return r
}

func routeTarget(b exposurev1alpha1.Backend) routev1.RouteTargetReference {
	return routev1.RouteTargetReference{Kind: "Service", Name: b.Name, Weight: ptr.To(b.Weight)}
}

func routeTLS(in Input, term exposurev1alpha1.TLSTermination) *routev1.TLSConfig {
	exp := in.Exposure
	tls := &routev1.TLSConfig{InsecureEdgeTerminationPolicy: routev1.InsecureEdgeTerminationPolicyRedirect}
	switch term {
	case exposurev1alpha1.TLSPassthrough:
		tls.Termination = routev1.TLSTerminationPassthrough
		return tls
	case exposurev1alpha1.TLSReencrypt:
		tls.Termination = routev1.TLSTerminationReencrypt
		if r := exp.Spec.Router; r.TLS != nil {
			tls.DestinationCACertificate = r.TLS.DestinationCACertificate
		}
	default:
		tls.Termination = routev1.TLSTerminationEdge
	}
	switch {
	case in.Inline != nil:
		tls.Certificate = in.Inline.Certificate
		tls.Key = in.Inline.Key
		tls.CACertificate = in.Inline.CACertificate
	case SecretName(exp) != "":
		tls.ExternalCertificate = &routev1.LocalObjectReference{Name: SecretName(exp)}
	}
	return tls
}

// +kubebuilder:rbac:groups=route.openshift.io,resources=routes,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=route.openshift.io,resources=routes/custom-host,verbs=create;update

// RouteGVK is the OpenShift Route kind: one per http path, one for the grpc port.
var RouteGVK = routev1.GroupVersion.WithKind("Route")

type routeKind struct{}

func init() { register(routeKind{}) }

func (routeKind) GVK() schema.GroupVersionKind { return RouteGVK }
func (routeKind) New() client.Object           { return &routev1.Route{} }
func (routeKind) NewList() client.ObjectList   { return &routev1.RouteList{} }
func (routeKind) Conditions() []string {
	return []string{exposurev1alpha1.ConditionRouteAdmitted, exposurev1alpha1.ConditionGRPCRouteAdmitted}
}

func (routeKind) Condition(exp *exposurev1alpha1.InferenceExposure, name string) string {
	if name == GRPCName(exp) {
		return exposurev1alpha1.ConditionGRPCRouteAdmitted
	}
	return exposurev1alpha1.ConditionRouteAdmitted
}

func (routeKind) Verdict(_ *exposurev1alpha1.InferenceExposure, objs []client.Object) Verdict {
	routes := make([]*routev1.Route, 0, len(objs))
	for _, o := range objs {
		routes = append(routes, o.(*routev1.Route))
	}
	return RouteVerdict(routes)
}

// RouteVerdict reads the routers' Admitted conditions: False from any router wins, True when
// some router admitted it, Unknown while none has looked.
func RouteVerdict(routes []*routev1.Route) Verdict {
	var admitted []string
	for _, r := range routes {
		for _, ing := range r.Status.Ingress {
			for _, c := range ing.Conditions {
				if c.Type != routev1.RouteAdmitted {
					continue
				}
				switch c.Status {
				case corev1.ConditionFalse:
					return Verdict{metav1.ConditionFalse, nonEmpty(c.Reason, "NotAdmitted"),
						fmt.Sprintf("router %q did not admit Route %s: %s", ing.RouterName, r.Name, c.Message)}
				case corev1.ConditionTrue:
					admitted = append(admitted, r.Name)
				}
			}
		}
	}
	if len(admitted) == 0 {
		return Verdict{metav1.ConditionUnknown, exposurev1alpha1.ReasonPending, "no OpenShift router has admitted the Route yet"}
	}
	return Verdict{metav1.ConditionTrue, exposurev1alpha1.ReasonAdmitted, fmt.Sprintf("admitted: %s", strings.Join(dedupe(admitted), ", "))}
}

// ServedBy is any OpenShift router: each admits the Routes it serves.
func (routeKind) ServedBy(*exposurev1alpha1.InferenceExposure, client.Object) Server { return Server{} }
