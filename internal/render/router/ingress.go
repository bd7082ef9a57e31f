package router

import (
	"fmt"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// ingress-nginx annotations the operator sets for nginx classes.
const (
	nginxPrefix      = "nginx.ingress.kubernetes.io/"
	NginxReadTimeout = nginxPrefix + "proxy-read-timeout"
	NginxSendTimeout = nginxPrefix + "proxy-send-timeout"
	NginxSSLRedirect = nginxPrefix + "ssl-redirect"
	NginxForceSSL    = nginxPrefix + "force-ssl-redirect"
	NginxBodySize    = nginxPrefix + "proxy-body-size"
	// NginxRequestBuffering is on by default in ingress-nginx, off in Traefik's ingress-nginx
	// provider, which enforces proxy-body-size only with it: written so both bound bodies.
	NginxRequestBuffering = nginxPrefix + "proxy-request-buffering"
	NginxBackendProtocol  = nginxPrefix + "backend-protocol"
	NginxSSLPassthrough   = nginxPrefix + "ssl-passthrough"
	// DefaultBodySize is the request body limit on nginx classes: inference requests carry
	// tensors and images, far above nginx's 1m default.
	DefaultBodySize = "64m"
)

// TraefikRouterTLS makes Traefik's router of an Ingress serve TLS requests only: without it,
// Traefik's Ingress provider serves the Ingress's hosts in plain HTTP too (spec.tls only gives
// it the certificates).
const TraefikRouterTLS = "traefik.ingress.kubernetes.io/router.tls"

// The spec.controller of the IngressClasses whose annotations the operator knows.
const (
	// ControllerIngressNginx is ingress-nginx's, which Traefik's ingress-nginx provider also
	// serves (it reads the same annotations).
	ControllerIngressNginx = "k8s.io/ingress-nginx"
	// ControllerTraefik is Traefik's own Ingress provider's.
	ControllerTraefik = "traefik.io/ingress-controller"
)

// IngressFlavour is the dialect of annotations of the controller that serves an Ingress.
type IngressFlavour string

const (
	// FlavourNginx: ingress-nginx annotations (ingress-nginx, Traefik's ingress-nginx provider).
	FlavourNginx IngressFlavour = "ingress-nginx"
	// FlavourTraefik: Traefik's own Ingress provider.
	FlavourTraefik IngressFlavour = "traefik"
	// FlavourOther: a controller whose annotations the operator does not know; it writes none.
	FlavourOther IngressFlavour = "other"
)

// FlavourOf is the flavour of the controller of an IngressClass, from its spec.controller;
// when the class is not known (controller ""), from its name, as a best guess until it is.
func FlavourOf(controller, className string) IngressFlavour {
	switch {
	case controller == ControllerIngressNginx:
		return FlavourNginx
	case controller == ControllerTraefik:
		return FlavourTraefik
	case controller != "":
		return FlavourOther
	case strings.Contains(className, "nginx"):
		return FlavourNginx
	case strings.Contains(className, "traefik"):
		return FlavourTraefik
	}
	return FlavourOther
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
	flavour := FlavourOf(in.IngressController, settings.ClassName)
	term := Termination(exp)
	if term != exposurev1alpha1.TLSEdge && flavour != FlavourNginx {
		return nil, errorf(exposurev1alpha1.ReasonRouterUnsupported,
			"tls.termination %s on an Ingress needs ingress-nginx annotations (an IngressClass of controller %s, which Traefik's ingress-nginx provider serves too): the Ingress API itself only terminates TLS at the edge; use router.type Gateway for %s", term, ControllerIngressNginx, term)
	}
	if RoutesGRPC(exp) && flavour == FlavourTraefik {
		return nil, errorf(exposurev1alpha1.ReasonRouterUnsupported,
			"router.grpc on an Ingress of Traefik's own provider (controller %s): it speaks HTTP/1.1 to the Service unless the whole Service is marked h2c, which would break the http port: use an IngressClass of controller %s (Traefik's ingress-nginx provider carries gRPC), or router.type Gateway (a GRPCRoute)", ControllerTraefik, ControllerIngressNginx)
	}
	annotations := func(grpc bool) map[string]string {
		switch flavour {
		case FlavourNginx:
			return nginxAnnotations(exp, settings, grpc)
		case FlavourTraefik:
			return map[string]string{TraefikRouterTLS: "true"}
		}
		return nil
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

func nginxAnnotations(exp *exposurev1alpha1.InferenceExposure, s exposurev1alpha1.IngressSettings, grpc bool) map[string]string {
	bodySize := s.BodySize
	if bodySize == "" {
		bodySize = DefaultBodySize
	}
	a := map[string]string{
		NginxReadTimeout:      timeoutSeconds(exp),
		NginxSendTimeout:      timeoutSeconds(exp),
		NginxSSLRedirect:      "true",
		NginxForceSSL:         "true",
		NginxBodySize:         bodySize,
		NginxRequestBuffering: "on",
	}
	switch term := Termination(exp); {
	case term == exposurev1alpha1.TLSPassthrough:
		a[NginxSSLPassthrough] = "true"
	case grpc && term == exposurev1alpha1.TLSReencrypt:
		a[NginxBackendProtocol] = "GRPCS"
	case grpc:
		a[NginxBackendProtocol] = "GRPC"
	case term == exposurev1alpha1.TLSReencrypt:
		a[NginxBackendProtocol] = "HTTPS"
	}
	return a
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
