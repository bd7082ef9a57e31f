package router

import (
	"fmt"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// F5 NGINX Ingress Controller's annotations (nginx.org/*), a successor of ingress-nginx for
// Ingress users. Its class is often named "nginx" too: it is told apart by its controller.
const (
	// ControllerF5NGINX is F5 NGINX Ingress Controller's controller.
	ControllerF5NGINX = "nginx.org/ingress-controller"
	// FlavourF5NGINX: F5 NGINX Ingress Controller.
	FlavourF5NGINX IngressFlavour = "f5-nginx"

	F5ReadTimeout   = "nginx.org/proxy-read-timeout"
	F5SendTimeout   = "nginx.org/proxy-send-timeout"
	F5BodySize      = "nginx.org/client-max-body-size"
	F5GRPCServices  = "nginx.org/grpc-services"
	F5SSLRedirect   = "ingress.kubernetes.io/ssl-redirect"
	F5ProxyBuffered = "nginx.org/proxy-buffering"
)

type ingressF5NGINX struct{}

func init() { dialects[FlavourF5NGINX] = ingressF5NGINX{} }

func (ingressF5NGINX) controller() string { return ControllerF5NGINX }

// guess: a class named nginx that is not known yet is taken for ingress-nginx's, as before.
func (ingressF5NGINX) guess(string) bool { return false }

func (ingressF5NGINX) refuse(exp *exposurev1alpha1.InferenceExposure) error {
	if term := Termination(exp); term != exposurev1alpha1.TLSEdge {
		return errorf(exposurev1alpha1.ReasonRouterUnsupported,
			"tls.termination %s on an Ingress of F5 NGINX Ingress Controller (controller %s): the operator renders only Edge termination for it; use router.type Gateway for %s", term, ControllerF5NGINX, term)
	}
	return nil
}

// annotations: idle timers in nginx's time format, the body limit, the redirect to HTTPS, no
// response buffering (its default buffers responses, which holds back a stream's chunks), and
// gRPC to the grpc port (HTTP/2 towards the pod).
func (ingressF5NGINX) annotations(exp *exposurev1alpha1.InferenceExposure, s exposurev1alpha1.IngressSettings, grpc bool) map[string]string {
	bodySize := s.BodySize
	if bodySize == "" {
		bodySize = DefaultBodySize
	}
	idle := idleSeconds(exp) + "s"
	a := map[string]string{
		F5ReadTimeout:   idle,
		F5SendTimeout:   idle,
		F5BodySize:      bodySize,
		F5SSLRedirect:   "true",
		F5ProxyBuffered: "false",
	}
	if grpc {
		a[F5GRPCServices] = exp.Name
	}
	return a
}

func (ingressF5NGINX) idleTimeout(*exposurev1alpha1.InferenceExposure) string {
	return fmt.Sprintf("%s and %s", F5ReadTimeout, F5SendTimeout)
}

func (ingressF5NGINX) settings(*exposurev1alpha1.InferenceExposure) (done, missing []string) {
	return []string{"the body limit as " + F5BodySize, "the redirect to HTTPS as " + F5SSLRedirect, "gRPC as " + F5GRPCServices}, nil
}

func (ingressF5NGINX) platform() string {
	return "F5 NGINX Ingress Controller has no deadline for a whole response"
}
