package router

import (
	"fmt"
	"sort"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// IngressFlavour is the dialect of annotations of the controller that serves an Ingress.
type IngressFlavour string

// ingressDialect is one Ingress controller's dialect: the annotations it reads for what the
// exposure asks, what it cannot serve at all, and how it expresses the timeout model. One file
// per dialect (ingress_<name>.go).
type ingressDialect interface {
	// controller is the IngressClass spec.controller that selects it.
	controller() string
	// guess reports whether a class of this name, not known yet, is likely served by it.
	guess(className string) bool
	// refuse says why the controller cannot serve the exposure (nil when it can).
	refuse(exp *exposurev1alpha1.InferenceExposure) error
	// annotations for the http Ingress, or the gRPC one.
	annotations(exp *exposurev1alpha1.InferenceExposure, s exposurev1alpha1.IngressSettings, grpc bool) map[string]string
	// idleTimeout says how it expresses the idle timeout ("" when it cannot).
	idleTimeout(exp *exposurev1alpha1.InferenceExposure) string
	// platform says what the platform team sets for what it cannot express.
	platform() string
	// settings says how it expresses the request body limit and the redirect to HTTPS, and,
	// for each it cannot, why and what the platform can do.
	settings(exp *exposurev1alpha1.InferenceExposure) (done, missing []string)
}

// FlavourOther: a controller whose annotations the operator does not know; it writes none.
const FlavourOther IngressFlavour = "other"

var dialects = map[IngressFlavour]ingressDialect{}

// FlavourOf is the flavour of the controller of an IngressClass, from its spec.controller;
// when the class is not known (controller ""), from its name, as a best guess until it is.
func FlavourOf(controller, className string) IngressFlavour {
	for _, f := range sortedFlavours() {
		d := dialects[f]
		// A controller of several instances names each <controller>/<instance>.
		if controller != "" && (d.controller() == controller || strings.HasPrefix(controller, d.controller()+"/")) || controller == "" && d.guess(className) {
			return f
		}
	}
	return FlavourOther
}

func sortedFlavours() []IngressFlavour {
	out := make([]IngressFlavour, 0, len(dialects))
	for f := range dialects {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// IngressSettingsApplied says how the controller of an Ingress expresses the request body limit
// and the redirect of plain HTTP to HTTPS, and what it cannot express (with what the platform
// can do).
func IngressSettingsApplied(controller string, exp *exposurev1alpha1.InferenceExposure) (done, missing []string) {
	d, ok := dialects[FlavourOf(controller, IngressClassName(exp))]
	if !ok {
		return nil, []string{"the request body limit (router.ingress.bodySize) and the redirect of plain HTTP to HTTPS: the operator knows no annotations of this controller, so its own defaults apply"}
	}
	return d.settings(exp)
}

// IngressTimeouts says how the controller of an Ingress expresses the idle timeout ("" when it
// cannot: then also what the platform team can set instead). No Ingress controller the
// operator knows has a deadline for a whole response.
func IngressTimeouts(controller string, exp *exposurev1alpha1.InferenceExposure) (idle, platform string) {
	d, ok := dialects[FlavourOf(controller, IngressClassName(exp))]
	if !ok {
		return "", "the operator knows no annotations of this controller, so its own defaults apply"
	}
	return d.idleTimeout(exp), d.platform()
}

func ingressSettings(exp *exposurev1alpha1.InferenceExposure) exposurev1alpha1.IngressSettings {
	if r := exp.Spec.Router; r != nil && r.Ingress != nil {
		return *r.Ingress
	}
	return exposurev1alpha1.IngressSettings{}
}

// Ingresses builds the http Ingress (one rule per path, Prefix, to the http port) and, with
// grpc, a second Ingress on the gRPC host to the grpc port.
func Ingresses(in Input) ([]client.Object, error) {
	exp := in.Exposure
	settings := ingressSettings(exp)
	d, known := dialects[FlavourOf(in.IngressController, settings.ClassName)]
	term := Termination(exp)
	if !known && term != exposurev1alpha1.TLSEdge {
		return nil, errorf(exposurev1alpha1.ReasonRouterUnsupported,
			"tls.termination %s on an Ingress needs ingress-nginx annotations (an IngressClass of controller %s, which Traefik's ingress-nginx provider serves too): the Ingress API itself only terminates TLS at the edge; use router.type Gateway for %s", term, ControllerIngressNginx, term)
	}
	if known {
		if err := d.refuse(exp); err != nil {
			return nil, err
		}
	}
	annotations := func(grpc bool) map[string]string {
		if !known {
			return nil
		}
		return d.annotations(exp, settings, grpc)
	}
	var out []client.Object
	if RoutesHTTP(exp) {
		ing := ingress(in, exp.Name, in.Host, Paths(exp), *exp.Spec.Ports.HTTP, annotations(false))
		out = append(out, ing)
	}
	if RoutesGRPC(exp) {
		ing := ingress(in, GRPCName(exp), in.GRPCHost, []string{"/"}, *exp.Spec.Ports.GRPC, annotations(true))
		out = append(out, ing)
	}
	return out, nil
}

func ingress(in Input, name, host string, paths []string, port int32, annotations map[string]string) *networkingv1.Ingress {
	exp := in.Exposure
	rule := networkingv1.HTTPIngressRuleValue{}
	for _, p := range paths {
		rule.Paths = append(rule.Paths, networkingv1.HTTPIngressPath{
			Path:     p,
			PathType: ptr.To(networkingv1.PathTypePrefix),
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: exp.Name,
				Port: networkingv1.ServiceBackendPort{Number: port},
			}},
		})
	}
	ing := &networkingv1.Ingress{
		ObjectMeta: objectMeta(in, name, annotations),
		Spec: networkingv1.IngressSpec{
			TLS:   []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: SecretName(exp)}},
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &rule}}},
		},
	}
	ing.SetGroupVersionKind(networkingv1.SchemeGroupVersion.WithKind("Ingress"))
	if c := ingressSettings(exp).ClassName; c != "" {
		ing.Spec.IngressClassName = ptr.To(c)
	}
	return ing
}

// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;create;update;patch;delete

// IngressGVK is the Ingress kind: one for the http port, one for the grpc port.
var IngressGVK = networkingv1.SchemeGroupVersion.WithKind("Ingress")

type ingressKind struct{}

func init() { register(ingressKind{}) }

func (ingressKind) GVK() schema.GroupVersionKind { return IngressGVK }
func (ingressKind) New() client.Object           { return &networkingv1.Ingress{} }
func (ingressKind) NewList() client.ObjectList   { return &networkingv1.IngressList{} }
func (ingressKind) Conditions() []string {
	return []string{exposurev1alpha1.ConditionIngressReady, exposurev1alpha1.ConditionGRPCIngressReady}
}

func (ingressKind) Condition(exp *exposurev1alpha1.InferenceExposure, name string) string {
	if name == GRPCName(exp) {
		return exposurev1alpha1.ConditionGRPCIngressReady
	}
	return exposurev1alpha1.ConditionIngressReady
}

func (ingressKind) Verdict(_ *exposurev1alpha1.InferenceExposure, objs []client.Object) Verdict {
	return IngressVerdict(objs[0].(*networkingv1.Ingress))
}

// IngressVerdict: the Ingress API has no rejection; an address means a controller serves it.
func IngressVerdict(ing *networkingv1.Ingress) Verdict {
	var addrs []string
	for _, lb := range ing.Status.LoadBalancer.Ingress {
		if lb.IP != "" {
			addrs = append(addrs, lb.IP)
		} else if lb.Hostname != "" {
			addrs = append(addrs, lb.Hostname)
		}
	}
	if len(addrs) == 0 {
		return Verdict{metav1.ConditionUnknown, exposurev1alpha1.ReasonPending, fmt.Sprintf("no ingress controller has published an address for Ingress %s yet", ing.Name)}
	}
	return Verdict{metav1.ConditionTrue, exposurev1alpha1.ReasonApplied, fmt.Sprintf("Ingress %s is served at %s", ing.Name, strings.Join(addrs, ", "))}
}

// ServedBy is the Ingress's class.
func (ingressKind) ServedBy(_ *exposurev1alpha1.InferenceExposure, obj client.Object) Server {
	class := ""
	if c := obj.(*networkingv1.Ingress).Spec.IngressClassName; c != nil {
		class = *c
	}
	return Server{IngressClass: &class}
}

// IngressClassName is the exposure's router.ingress.className; "" for the cluster's default.
func IngressClassName(exp *exposurev1alpha1.InferenceExposure) string {
	return ingressSettings(exp).ClassName
}
