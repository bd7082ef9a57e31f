package router

import (
	"strings"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

const (
	// ControllerTraefik is Traefik's own Ingress provider's controller.
	ControllerTraefik = "traefik.io/ingress-controller"
	// FlavourTraefik: Traefik's own Ingress provider.
	FlavourTraefik IngressFlavour = "traefik"
	// TraefikRouterTLS makes Traefik's router of an Ingress serve TLS requests only: without
	// it, Traefik's Ingress provider serves the Ingress's hosts in plain HTTP too (spec.tls
	// only gives it the certificates).
	TraefikRouterTLS = "traefik.ingress.kubernetes.io/router.tls"
)

type ingressTraefik struct{}

func init() { dialects[FlavourTraefik] = ingressTraefik{} }

func (ingressTraefik) controller() string          { return ControllerTraefik }
func (ingressTraefik) guess(className string) bool { return strings.Contains(className, "traefik") }

// refuse: gRPC needs h2c towards the pod, which Traefik's provider sets only for a whole Service
// (an annotation on it), and the exposure's Service also serves the http port.
func (ingressTraefik) refuse(exp *exposurev1alpha1.InferenceExposure) error {
	if Termination(exp) != exposurev1alpha1.TLSEdge {
		return errorf(exposurev1alpha1.ReasonRouterUnsupported,
			"tls.termination %s on an Ingress of Traefik's own provider (controller %s): the Ingress API itself only terminates TLS at the edge; use an IngressClass of controller %s (Traefik's ingress-nginx provider), or router.type Gateway", Termination(exp), ControllerTraefik, ControllerIngressNginx)
	}
	if RoutesGRPC(exp) {
		return errorf(exposurev1alpha1.ReasonRouterUnsupported,
			"router.grpc on an Ingress of Traefik's own provider (controller %s): it speaks HTTP/1.1 to the Service unless the whole Service is marked h2c, which would break the http port: use an IngressClass of controller %s (Traefik's ingress-nginx provider carries gRPC), or router.type Gateway (a GRPCRoute)", ControllerTraefik, ControllerIngressNginx)
	}
	return nil
}

func (ingressTraefik) annotations(*exposurev1alpha1.InferenceExposure, exposurev1alpha1.IngressSettings, bool) map[string]string {
	return map[string]string{TraefikRouterTLS: "true"}
}

func (ingressTraefik) idleTimeout(*exposurev1alpha1.InferenceExposure) string { return "" }

func (ingressTraefik) settings(*exposurev1alpha1.InferenceExposure) (done, missing []string) {
	return []string{"HTTPS only, as router.tls (plain HTTP gets 404)"}, []string{
		"the request body limit (router.ingress.bodySize): Traefik's Ingress provider has none per route; the platform can attach a Buffering middleware to the entrypoint (maxRequestBodyBytes)",
		"the redirect of plain HTTP to HTTPS: it is the entrypoint's in Traefik (entryPoints.web.http.redirections.entryPoint.to), which the platform team sets",
	}
}

func (ingressTraefik) platform() string {
	return "Traefik's Ingress provider has no per-route timeout; Traefik bounds streams by its entrypoints' transport.respondingTimeouts, which the platform team sets (readTimeout defaults to 60s and cuts longer streams: set it to 0)"
}
