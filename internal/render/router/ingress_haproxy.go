package router

import (
	"strconv"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// The two HAProxy-based Ingress controllers: HAProxy Ingress (haproxy-ingress.github.io/*) and
// HAProxy Technologies' Kubernetes Ingress Controller (haproxy.org/*). Both turn an Ingress
// into an HAProxy backend in HTTP mode. Per Ingress they hold the server-side inactivity timer
// (timeout server); the client side's (timeout client, default 50s) is a global key of the
// controller's ConfigMap, so a silent stream is cut by whichever is shorter: the platform
// raises timeout-client to the longest idle timeout its tenants ask for. Neither has a deadline
// for a whole response.
const (
	// ControllerHAProxyIngress is HAProxy Ingress's controller.
	ControllerHAProxyIngress = "haproxy-ingress.github.io/controller"
	// FlavourHAProxyIngress: HAProxy Ingress.
	FlavourHAProxyIngress IngressFlavour = "haproxy-ingress"

	haproxyIngressPrefix          = "haproxy-ingress.github.io/"
	HAProxyIngressTimeoutServer   = haproxyIngressPrefix + "timeout-server"
	HAProxyIngressBodySize        = haproxyIngressPrefix + "proxy-body-size"
	HAProxyIngressSSLRedirect     = haproxyIngressPrefix + "ssl-redirect"
	HAProxyIngressBackendProtocol = haproxyIngressPrefix + "backend-protocol"

	// ControllerHAProxyTech is HAProxy Technologies' controller (with a single instance; one of
	// several instances is haproxy.org/ingress-controller/<ingress.class>).
	ControllerHAProxyTech = "haproxy.org/ingress-controller"
	// FlavourHAProxyTech: HAProxy Technologies' Kubernetes Ingress Controller.
	FlavourHAProxyTech IngressFlavour = "haproxytech"

	haproxyTechPrefix        = "haproxy.org/"
	HAProxyTechTimeoutServer = haproxyTechPrefix + "timeout-server"
	HAProxyTechSSLRedirect   = haproxyTechPrefix + "ssl-redirect"
	HAProxyTechServerProto   = haproxyTechPrefix + "server-proto"

	haproxyClientTimer = "the controller's timeout-client (a global key of its ConfigMap, default 50s) also cuts a silent stream: the platform raises it to the longest idle timeout its tenants ask for"
)

type ingressHAProxyIngress struct{}

func init() { dialects[FlavourHAProxyIngress] = ingressHAProxyIngress{} }

func (ingressHAProxyIngress) controller() string { return ControllerHAProxyIngress }
func (ingressHAProxyIngress) guess(string) bool  { return false }

func (ingressHAProxyIngress) refuse(exp *exposurev1alpha1.InferenceExposure) error {
	return refuseNonEdge(exp, "HAProxy Ingress", ControllerHAProxyIngress)
}

// annotations: the server-side idle timer, the body limit in bytes, the redirect to HTTPS and,
// for gRPC, HTTP/2 towards the pod.
func (ingressHAProxyIngress) annotations(exp *exposurev1alpha1.InferenceExposure, s exposurev1alpha1.IngressSettings, grpc bool) map[string]string {
	a := map[string]string{
		HAProxyIngressTimeoutServer: idleSeconds(exp) + "s",
		HAProxyIngressBodySize:      strconv.FormatInt(bodyBytes(s.BodySize), 10),
		HAProxyIngressSSLRedirect:   "true",
	}
	if grpc {
		a[HAProxyIngressBackendProtocol] = "h2"
	}
	return a
}

func (ingressHAProxyIngress) idleTimeout(*exposurev1alpha1.InferenceExposure) string {
	return HAProxyIngressTimeoutServer + " (" + haproxyClientTimer + ")"
}

func (ingressHAProxyIngress) settings(*exposurev1alpha1.InferenceExposure) (done, missing []string) {
	return []string{"the body limit as " + HAProxyIngressBodySize, "the redirect to HTTPS as " + HAProxyIngressSSLRedirect, "gRPC as " + HAProxyIngressBackendProtocol + " h2"}, nil
}

func (ingressHAProxyIngress) platform() string {
	return "HAProxy Ingress has no deadline for a whole response"
}

type ingressHAProxyTech struct{}

func init() { dialects[FlavourHAProxyTech] = ingressHAProxyTech{} }

func (ingressHAProxyTech) controller() string { return ControllerHAProxyTech }
func (ingressHAProxyTech) guess(string) bool  { return false }

func (ingressHAProxyTech) refuse(exp *exposurev1alpha1.InferenceExposure) error {
	return refuseNonEdge(exp, "HAProxy Technologies' Ingress Controller", ControllerHAProxyTech)
}

// annotations: the server-side idle timer, the redirect to HTTPS and, for gRPC, HTTP/2
// towards the pod. It has no per-Ingress body limit.
func (ingressHAProxyTech) annotations(exp *exposurev1alpha1.InferenceExposure, _ exposurev1alpha1.IngressSettings, grpc bool) map[string]string {
	a := map[string]string{
		HAProxyTechTimeoutServer: idleSeconds(exp) + "s",
		HAProxyTechSSLRedirect:   "true",
	}
	if grpc {
		a[HAProxyTechServerProto] = "h2"
	}
	return a
}

func (ingressHAProxyTech) idleTimeout(*exposurev1alpha1.InferenceExposure) string {
	return HAProxyTechTimeoutServer + " (" + haproxyClientTimer + ")"
}

func (ingressHAProxyTech) settings(exp *exposurev1alpha1.InferenceExposure) (done, missing []string) {
	done = []string{"the redirect to HTTPS as " + HAProxyTechSSLRedirect, "gRPC as " + HAProxyTechServerProto + " h2"}
	if ingressSettings(exp).BodySize != "" {
		missing = append(missing, "the request body limit (router.ingress.bodySize): it has no such annotation; the platform can bound bodies in a backend-config-snippet of the controller's ConfigMap")
	}
	return done, missing
}

func (ingressHAProxyTech) platform() string {
	return "HAProxy Technologies' Ingress Controller has no deadline for a whole response"
}

// refuseNonEdge: the HAProxy-based controllers get only Edge termination from the operator.
func refuseNonEdge(exp *exposurev1alpha1.InferenceExposure, name, controller string) error {
	if term := Termination(exp); term != exposurev1alpha1.TLSEdge {
		return errorf(exposurev1alpha1.ReasonRouterUnsupported,
			"tls.termination %s on an Ingress of %s (controller %s): the operator renders only Edge termination for it; use router.type Gateway for %s", term, name, controller, term)
	}
	return nil
}

// bodyBytes is a body size (64m, 512k, 1g, 1000) in bytes; the default's when empty or, past
// the API's pattern, unreadable.
func bodyBytes(size string) int64 {
	if size == "" {
		size = DefaultBodySize
	}
	mult := int64(1)
	switch size[len(size)-1] {
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	}
	if mult != 1 {
		size = size[:len(size)-1]
	}
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil || n < 0 || n > 1<<20 {
		return bodyBytes(DefaultBodySize)
	}
	return n * mult
}
