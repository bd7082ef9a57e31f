package router

import (
	"strings"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// ingress-nginx's annotations (ingress-nginx itself, retired in 2026, and Traefik's
// ingress-nginx provider, which reads the same ones).
const (
	// ControllerIngressNginx is ingress-nginx's controller, which Traefik's ingress-nginx
	// provider also serves.
	ControllerIngressNginx = "k8s.io/ingress-nginx"
	// FlavourNginx: ingress-nginx annotations.
	FlavourNginx IngressFlavour = "ingress-nginx"

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

type ingressNginx struct{}

func init() { dialects[FlavourNginx] = ingressNginx{} }

func (ingressNginx) controller() string          { return ControllerIngressNginx }
func (ingressNginx) guess(className string) bool { return strings.Contains(className, "nginx") }

func (ingressNginx) refuse(*exposurev1alpha1.InferenceExposure) error { return nil }

func (ingressNginx) idleTimeout(exp *exposurev1alpha1.InferenceExposure) string {
	if Termination(exp) == exposurev1alpha1.TLSPassthrough {
		return "" // a TCP stream through the controller: its proxy timeouts do not apply
	}
	return "proxy-read-timeout and proxy-send-timeout"
}

func (ingressNginx) settings(*exposurev1alpha1.InferenceExposure) (done, missing []string) {
	return []string{"the body limit as proxy-body-size (with proxy-request-buffering on)", "the redirect to HTTPS as ssl-redirect and force-ssl-redirect", "gRPC as backend-protocol"}, nil
}

func (ingressNginx) platform() string { return "ingress-nginx has no deadline for a whole response" }

func (ingressNginx) annotations(exp *exposurev1alpha1.InferenceExposure, s exposurev1alpha1.IngressSettings, grpc bool) map[string]string {
	return nginxAnnotations(exp, s, grpc)
}

func nginxAnnotations(exp *exposurev1alpha1.InferenceExposure, s exposurev1alpha1.IngressSettings, grpc bool) map[string]string {
	bodySize := s.BodySize
	if bodySize == "" {
		bodySize = DefaultBodySize
	}
	a := map[string]string{
		NginxReadTimeout:      idleSeconds(exp),
		NginxSendTimeout:      idleSeconds(exp),
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
