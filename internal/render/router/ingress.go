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
	nginxPrefix          = "nginx.ingress.kubernetes.io/"
	NginxReadTimeout     = nginxPrefix + "proxy-read-timeout"
	NginxSendTimeout     = nginxPrefix + "proxy-send-timeout"
	NginxSSLRedirect     = nginxPrefix + "ssl-redirect"
	NginxForceSSL        = nginxPrefix + "force-ssl-redirect"
	NginxBodySize        = nginxPrefix + "proxy-body-size"
	NginxBackendProtocol = nginxPrefix + "backend-protocol"
	NginxSSLPassthrough  = nginxPrefix + "ssl-passthrough"
	// DefaultBodySize is the request body limit on nginx classes: inference requests carry
	// tensors and images, far above nginx's 1m default.
	DefaultBodySize = "64m"
)

// IsNginx reports whether an IngressClass name is an ingress-nginx class.
func IsNginx(className string) bool { return strings.Contains(className, "nginx") }

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
	nginx := IsNginx(settings.ClassName)
	term := Termination(exp)
	if term != exposurev1alpha1.TLSEdge && !nginx {
		return nil, errorf(exposurev1alpha1.ReasonRouterUnsupported,
			"tls.termination %s on an Ingress needs ingress-nginx (router.ingress.className containing \"nginx\"): the Ingress API itself only terminates TLS at the edge", term)
	}
	var out []client.Object
	if RoutesHTTP(exp) {
		ing := ingress(in, exp.Name, in.Host, Paths(exp), *exp.Spec.Ports.HTTP, nginxAnnotations(exp, settings, false))
		out = append(out, ing)
	}
	if RoutesGRPC(exp) {
		ing := ingress(in, GRPCName(exp), in.GRPCHost, []string{"/"}, *exp.Spec.Ports.GRPC, nginxAnnotations(exp, settings, true))
		out = append(out, ing)
	}
	return out, nil
}

func nginxAnnotations(exp *exposurev1alpha1.InferenceExposure, s exposurev1alpha1.IngressSettings, grpc bool) map[string]string {
	if !IsNginx(s.ClassName) {
		return nil
	}
	bodySize := s.BodySize
	if bodySize == "" {
		bodySize = DefaultBodySize
	}
	a := map[string]string{
		NginxReadTimeout: timeoutSeconds(exp),
		NginxSendTimeout: timeoutSeconds(exp),
		NginxSSLRedirect: "true",
		NginxForceSSL:    "true",
		NginxBodySize:    bodySize,
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
