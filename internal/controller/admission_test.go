package controller

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
)

// TestAdmission: bad input is refused by the API server itself (OpenAPI schema and CEL in the
// CRDs), with a message a person can act on.
func TestAdmission(t *testing.T) {
	ns := newNamespace(t, "admission")
	valid := func() *exposurev1alpha1.InferenceExposure {
		return newExposure(ns, "ok", ptr.To[int32](8000), ptr.To[int32](8001), ptr.To[int32](8002))
	}
	for _, tc := range []struct {
		name string
		obj  client.Object
		want string // "" = accepted
	}{
		{"valid exposure", valid(), ""},
		{"an annotation value over 4 KiB", func() client.Object {
			e := valid()
			e.Name = "big-annotation"
			e.Spec.Router = &exposurev1alpha1.RouterSpec{Annotations: map[string]string{"example.com/x": strings.Repeat("x", 4097)}}
			return e
		}(), "a value at most 4096 bytes"},
		{"annotations over 64 KiB in all", func() client.Object {
			e := valid()
			e.Name = "many-annotations"
			ann := map[string]string{}
			for i := range 17 {
				ann[fmt.Sprintf("example.com/k%d", i)] = strings.Repeat("x", 4000)
			}
			e.Spec.Router = &exposurev1alpha1.RouterSpec{Annotations: ann}
			return e
		}(), "at most 64 KiB in all"},
		{"annotations within the bounds", func() client.Object {
			e := valid()
			e.Name = "fine-annotations"
			e.Spec.Router = &exposurev1alpha1.RouterSpec{Annotations: map[string]string{"example.com/x": strings.Repeat("x", 4096)}}
			return e
		}(), ""},
		{"grpc only", func() client.Object { e := valid(); e.Name = "grpc-only"; e.Spec.Ports.HTTP = nil; return e }(), ""},
		{"port zero", func() client.Object { e := valid(); e.Name = "p0"; e.Spec.Ports.HTTP = ptr.To[int32](0); return e }(), "should be greater than or equal to 1"},
		{"port too high", func() client.Object { e := valid(); e.Name = "p1"; e.Spec.Ports.GRPC = ptr.To[int32](70000); return e }(), "should be less than or equal to 65535"},
		{"neither http nor grpc", func() client.Object {
			e := valid()
			e.Name = "metrics-only"
			e.Spec.Ports.HTTP, e.Spec.Ports.GRPC = nil, nil
			return e
		}(), "declare at least one of http or grpc"},
		{"duplicate http/grpc", func() client.Object { e := valid(); e.Name = "dup1"; e.Spec.Ports.GRPC = ptr.To[int32](8000); return e }(), "http and grpc must be different"},
		{"duplicate grpc/metrics", func() client.Object {
			e := valid()
			e.Name = "dup2"
			e.Spec.Ports.Metrics = ptr.To[int32](8001)
			return e
		}(), "grpc and metrics must be different"},
		{"empty selector", func() client.Object { e := valid(); e.Name = "nosel"; e.Spec.Selector = nil; return e }(), "spec.selector"},
		{"bad selector value", func() client.Object {
			e := valid()
			e.Name = "badsel"
			e.Spec.Selector = map[string]exposurev1alpha1.LabelValue{"app": "not valid!"}
			return e
		}(), "spec.selector.app"},
		{"bad selector key", func() client.Object {
			e := valid()
			e.Name = "badkey"
			e.Spec.Selector = map[string]exposurev1alpha1.LabelValue{"a b": "x"}
			return e
		}(), "selector keys must be valid label keys"},
		{"name not a DNS-1035 label", func() client.Object { e := valid(); e.Name = "1triton"; return e }(), "must be a DNS-1035 label"},
		{"bad traffic policy", func() client.Object {
			e := valid()
			e.Name = "etp"
			e.Spec.NodePort.ExternalTrafficPolicy = "Everywhere"
			return e
		}(), `supported values: "Cluster", "Local"`},
		{"Local without NodePort", func() client.Object {
			e := valid()
			e.Name = "local-off"
			e.Spec.NodePort = exposurev1alpha1.NodePortSpec{Enabled: ptr.To(false), ExternalTrafficPolicy: exposurev1alpha1.ExternalTrafficPolicyLocal}
			return e
		}(), "Local needs nodePort.enabled true"},
		{"valid router", withRouter(valid(), "r-ok", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterGateway
			r.GRPC = ptr.To(true)
			r.Paths = []exposurev1alpha1.HTTPPath{"/v2", "/health"}
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Namespace: "gateway-system", Name: "ai-gateway"}}
			r.Backends = []exposurev1alpha1.Backend{{Name: "r-ok", Weight: 90}, {Name: "canary", Weight: 10}}
		}), ""},
		{"router grpc without ports.grpc", withRouter(func() *exposurev1alpha1.InferenceExposure { e := valid(); e.Spec.Ports.GRPC = nil; return e }(), "r-nogrpc",
			func(r *exposurev1alpha1.RouterSpec) { r.GRPC = ptr.To(true) }), "router.grpc needs ports.grpc"},
		{"router without ports.http", withRouter(func() *exposurev1alpha1.InferenceExposure { e := valid(); e.Spec.Ports.HTTP = nil; return e }(), "r-nohttp",
			func(*exposurev1alpha1.RouterSpec) {}), "router needs ports.http"},
		{"router gRPC-only", withRouter(func() *exposurev1alpha1.InferenceExposure { e := valid(); e.Spec.Ports.HTTP = nil; return e }(), "r-grpconly",
			func(r *exposurev1alpha1.RouterSpec) { r.GRPC = ptr.To(true) }), ""},
		{"passthrough with paths", withRouter(valid(), "r-pass", func(r *exposurev1alpha1.RouterSpec) {
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSPassthrough}
			r.Paths = []exposurev1alpha1.HTTPPath{"/v2"}
		}), "cannot be used with tls.termination Passthrough"},
		{"bad router type", withRouter(valid(), "r-type", func(r *exposurev1alpha1.RouterSpec) { r.Type = "Nginx" }), `supported values: "Auto", "Ingress", "Route", "Gateway", "None"`},
		{"bad termination", withRouter(valid(), "r-term", func(r *exposurev1alpha1.RouterSpec) {
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: "edge"}
		}), `supported values: "Edge", "Passthrough", "Reencrypt"`},
		{"bad timeout", withRouter(valid(), "r-timeout", func(r *exposurev1alpha1.RouterSpec) { r.Timeout = "5 minutes" }), "spec.router.timeout"},
		{"timeout 0", withRouter(valid(), "r-timeout0", func(r *exposurev1alpha1.RouterSpec) { r.Timeout = "0" }), ""},
		{"idle timeout in words", withRouter(valid(), "r-idle-words", func(r *exposurev1alpha1.RouterSpec) {
			r.Timeouts = &exposurev1alpha1.RouterTimeouts{Idle: "five minutes"}
		}), "timeouts.idle"},
		{"request deadline past HAProxy's timers", withRouter(valid(), "r-request-600h", func(r *exposurev1alpha1.RouterSpec) {
			r.Timeouts = &exposurev1alpha1.RouterTimeouts{Request: "600h"}
		}), "between 1s and 168h"},
		{"idle and request", withRouter(valid(), "r-timeouts", func(r *exposurev1alpha1.RouterSpec) {
			r.Timeouts = &exposurev1alpha1.RouterTimeouts{Idle: "30s", Request: "1h"}
		}), ""},
		{"timeout 168h", withRouter(valid(), "r-timeout-week", func(r *exposurev1alpha1.RouterSpec) { r.Timeout = "168h" }), ""},
		{"timeout past HAProxy's timers", withRouter(valid(), "r-timeout-600h", func(r *exposurev1alpha1.RouterSpec) { r.Timeout = "600h" }), "timeout must be 0 (no limit) or between 1s and 168h"},
		{"timeout too short for a stream", withRouter(valid(), "r-timeout-1ms", func(r *exposurev1alpha1.RouterSpec) { r.Timeout = "1ms" }), "timeout must be 0 (no limit) or between 1s and 168h"},
		{"gateway settings with Ingress", withRouter(valid(), "r-gwing", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterIngress
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
		}), "router.gateway is only used with type Gateway or Auto"},
		{"ingress settings with Route", withRouter(valid(), "r-ingroute", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterRoute
			r.Ingress = &exposurev1alpha1.IngressSettings{ClassName: "nginx"}
		}), "router.ingress is only used with type Ingress or Auto"},
		// Without parentRef it attaches to its tenant's ListenerSet, or says at reconcile that it needs one.
		{"Gateway without parentRef", withRouter(valid(), "r-gwnoref", func(r *exposurev1alpha1.RouterSpec) { r.Type = exposurev1alpha1.RouterGateway }), ""},
		{"parent of another kind", withRouter(valid(), "r-gwkind", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterGateway
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Kind: "Service", Name: "gw"}}
		}), `supported values: "Gateway", "ListenerSet"`},
		{"Gateway with Reencrypt is accepted", withRouter(valid(), "r-gwre", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterGateway
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSReencrypt,
				Backend: &exposurev1alpha1.BackendTLS{Hostname: "triton.svc.example.com", CAConfigMap: "pod-ca"}}
		}), ""},
		{"Gateway with Passthrough is accepted", withRouter(valid(), "r-gwpass", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterGateway
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSPassthrough}
		}), ""},
		{"backend TLS on a Route", withRouter(valid(), "r-rtbackend", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterRoute
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSReencrypt, Backend: &exposurev1alpha1.BackendTLS{CAConfigMap: "pod-ca"}}
		}), "router.tls.backend is only used with type Gateway"},
		{"backend TLS with two CA sources", withRouter(valid(), "r-gwtwoca", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterGateway
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSReencrypt,
				Backend: &exposurev1alpha1.BackendTLS{CAConfigMap: "pod-ca", WellKnownCACertificates: "System"}}
		}), "set caConfigMap or wellKnownCACertificates, not both"},
		{"canary on Ingress", withRouter(valid(), "r-ingcanary", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterIngress
			r.Backends = []exposurev1alpha1.Backend{{Name: "a", Weight: 1}}
		}), "needs type Route or Gateway"},
		{"inference pool on an Ingress", withRouter(valid(), "r-pool-ing", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterIngress
			r.InferencePool = &exposurev1alpha1.InferencePoolSettings{}
		}), "router.inferencePool needs router.type Gateway"},
		{"inference pool with canaries", withRouter(valid(), "r-pool-canary", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterGateway
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
			r.InferencePool = &exposurev1alpha1.InferencePoolSettings{}
			r.Backends = []exposurev1alpha1.Backend{{Name: "a", Weight: 1}}
		}), "router.inferencePool and router.backends exclude each other"},
		{"inference pool with Passthrough", withRouter(valid(), "r-pool-pass", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterGateway
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
			r.InferencePool = &exposurev1alpha1.InferencePoolSettings{}
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSPassthrough}
		}), "router.inferencePool needs tls.termination Edge"},
		{"endpoint picker in another namespace", withRouter(valid(), "r-pool-ns", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterGateway
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
			r.InferencePool = &exposurev1alpha1.InferencePoolSettings{EndpointPicker: &exposurev1alpha1.EndpointPicker{Name: "other/epp", Port: 9002}}
		}), "spec.router.inferencePool.endpointPicker.name"},
		{"endpoint picker failure mode", withRouter(valid(), "r-pool-fm", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterGateway
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
			r.InferencePool = &exposurev1alpha1.InferencePoolSettings{EndpointPicker: &exposurev1alpha1.EndpointPicker{Name: "epp", Port: 9002, FailureMode: "Retry"}}
		}), `supported values: "FailOpen", "FailClose"`},
		{"inference pool on a Gateway", withRouter(valid(), "r-pool", func(r *exposurev1alpha1.RouterSpec) {
			r.Type = exposurev1alpha1.RouterGateway
			r.Gateway = &exposurev1alpha1.GatewaySettings{ParentRef: exposurev1alpha1.ParentReference{Name: "gw"}}
			r.InferencePool = &exposurev1alpha1.InferencePoolSettings{EndpointPicker: &exposurev1alpha1.EndpointPicker{Name: "epp", Port: 9002}}
		}), ""},
		{"metrics without a metrics port", func() client.Object {
			e := valid()
			e.Name = "m-noport"
			e.Spec.Ports.Metrics = nil
			e.Spec.Metrics = &exposurev1alpha1.MetricsSpec{}
			return e
		}(), "metrics needs ports.metrics"},
		{"scrape timeout past the interval", func() client.Object {
			e := valid()
			e.Name = "m-timeout"
			e.Spec.Ports.Metrics = ptr.To[int32](8002)
			e.Spec.Metrics = &exposurev1alpha1.MetricsSpec{Interval: "10s", ScrapeTimeout: "30s"}
			return e
		}(), "metrics.scrapeTimeout must not be longer than metrics.interval"},
		{"scrape interval in words", func() client.Object {
			e := valid()
			e.Name = "m-words"
			e.Spec.Ports.Metrics = ptr.To[int32](8002)
			e.Spec.Metrics = &exposurev1alpha1.MetricsSpec{Interval: "often"}
			return e
		}(), "spec.metrics.interval"},
		{"metrics scraped every 15s", func() client.Object {
			e := valid()
			e.Name = "m-ok"
			e.Spec.Ports.Metrics = ptr.To[int32](8002)
			e.Spec.Metrics = &exposurev1alpha1.MetricsSpec{Interval: "15s", ScrapeTimeout: "10s", Path: "/v2/metrics"}
			return e
		}(), ""},
		{"host not a DNS name", withRouter(valid(), "r-host", func(r *exposurev1alpha1.RouterSpec) { r.Host = "Inference_Alpha.example.com" }), "spec.router.host"},
		{"host label over 63", withRouter(valid(), "r-hostlong", func(r *exposurev1alpha1.RouterSpec) {
			r.Host = exposurev1alpha1.Hostname(strings.Repeat("a", 64) + ".example.com")
		}), "spec.router.host"},
		{"same host for gRPC", withRouter(valid(), "r-samehost", func(r *exposurev1alpha1.RouterSpec) {
			r.GRPC = ptr.To(true)
			r.Host, r.GRPCHost = "a.example.com", "a.example.com"
		}), "must differ from router.host"},
		{"path not absolute", withRouter(valid(), "r-path", func(r *exposurev1alpha1.RouterSpec) { r.Paths = []exposurev1alpha1.HTTPPath{"v2"} }), "spec.router.paths[0]"},
		{"destination CA with Edge", withRouter(valid(), "r-destca", func(r *exposurev1alpha1.RouterSpec) {
			r.TLS = &exposurev1alpha1.RouterTLS{Termination: exposurev1alpha1.TLSEdge, DestinationCACertificate: "x"}
		}), "only used with termination Reencrypt"},
		{"inline without secret", withRouter(valid(), "r-inline", func(r *exposurev1alpha1.RouterSpec) {
			r.TLS = &exposurev1alpha1.RouterTLS{Inline: ptr.To(true)}
		}), "inline needs router.tls.secretName"},
		{"tenant hostDomain not a DNS name", func() client.Object {
			tn := newTenant("adm-domain", nil, nil, "a")
			tn.Spec.HostDomain = "*.apps.example.com"
			return tn
		}(), "spec.hostDomain"},
		{"tenant allowedHosts entry not a host", func() client.Object {
			tn := newTenant("adm-granted-bad", nil, nil, "a")
			tn.Spec.AllowedHosts = []string{"api.example.net/v1"}
			return tn
		}(), "spec.allowedHosts[0]"},
		{"tenant allowedHosts with a wildcard", func() client.Object {
			tn := newTenant("adm-granted", nil, nil, "a")
			tn.Spec.AllowedHosts = []string{"api.example.net", "*.models.example.net"}
			return tn
		}(), ""},
		{"tenant gateway without hostDomain", func() client.Object {
			tn := newTenant("adm-gw-nodomain", nil, nil, "a")
			tn.Spec.Gateway = &exposurev1alpha1.TenantGateway{ParentRef: exposurev1alpha1.GatewayReference{Namespace: "gw", Name: "shared"},
				Certificate: exposurev1alpha1.TenantCertificate{SecretRef: &exposurev1alpha1.SecretReference{Name: "c"}}}
			return tn
		}(), "gateway needs hostDomain"},
		{"tenant gateway in a namespace not its own", func() client.Object {
			tn := newTenant("adm-gw-ns", nil, nil, "a")
			tn.Spec.HostDomain = "a.example.com"
			tn.Spec.Gateway = &exposurev1alpha1.TenantGateway{ParentRef: exposurev1alpha1.GatewayReference{Namespace: "gw", Name: "shared"}, Namespace: "kube-system",
				Certificate: exposurev1alpha1.TenantCertificate{SecretRef: &exposurev1alpha1.SecretReference{Name: "c"}}}
			return tn
		}(), "gateway.namespace must be one of the tenant's namespaces"},
		{"tenant gateway with two certificate sources", func() client.Object {
			tn := newTenant("adm-gw-2certs", nil, nil, "a")
			tn.Spec.HostDomain = "a.example.com"
			tn.Spec.Gateway = &exposurev1alpha1.TenantGateway{ParentRef: exposurev1alpha1.GatewayReference{Namespace: "gw", Name: "shared"},
				Certificate: exposurev1alpha1.TenantCertificate{SecretRef: &exposurev1alpha1.SecretReference{Name: "c"}, Issuer: &exposurev1alpha1.IssuerReference{Name: "le"}}}
			return tn
		}(), "set exactly one of secretRef and issuer"},
		{"tenant gateway with an issuer", func() client.Object {
			tn := newTenant("adm-gw-issuer", nil, nil, "a")
			tn.Spec.HostDomain = "a.example.com"
			tn.Spec.Gateway = &exposurev1alpha1.TenantGateway{ParentRef: exposurev1alpha1.GatewayReference{Namespace: "gw", Name: "shared"},
				Certificate: exposurev1alpha1.TenantCertificate{Issuer: &exposurev1alpha1.IssuerReference{Name: "letsencrypt-dns"}}}
			return tn
		}(), ""},
		{"valid tenant", newTenant("adm-ok", ptr.To[int32](30800), ptr.To[int32](100), "tenant-alpha"), ""},
		{"tenant without namespaces", newTenant("adm-nons", nil, nil), "spec.namespaces"},
		{"tenant with a bad namespace", newTenant("adm-badns", nil, nil, "Tenant_Alpha"), "spec.namespaces[0]"},
		{"tenant with a duplicate namespace", newTenant("adm-dupns", nil, nil, "a", "a"), "Duplicate value"},
		{"block too small", newTenant("adm-small", nil, ptr.To[int32](5), "a"), "should be greater than or equal to 10"},
		{"block not a multiple of 10", newTenant("adm-odd", nil, ptr.To[int32](55), "a"), "multiple of 10"},
		{"block too large", newTenant("adm-large", nil, ptr.To[int32](20000), "a"), "less than or equal to 10000"},
		{"block past 65535", newTenant("adm-past", ptr.To[int32](65530), ptr.To[int32](100), "a"), "must not exceed 65535"},
		{"tenant name not a label", newTenant("adm.dotted", nil, nil, "a"), "must be a DNS-1123 label"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := k8s.Create(context.Background(), tc.obj)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				_ = k8s.Delete(context.Background(), tc.obj)
				return
			}
			if err == nil {
				_ = k8s.Delete(context.Background(), tc.obj)
				t.Fatalf("accepted, want refusal containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}

	t.Run("portBlock is immutable", func(t *testing.T) {
		ctx := context.Background()
		tn := newTenant("adm-immutable", ptr.To[int32](30800), ptr.To[int32](100), "adm-immutable")
		create(t, tn)
		defer func() { _ = k8s.Delete(ctx, tn) }()
		tn.Spec.PortBlock.Start = ptr.To[int32](30900)
		if err := k8s.Update(ctx, tn); err == nil || !strings.Contains(err.Error(), "portBlock is immutable") {
			t.Fatalf("update err = %v", err)
		}
		tn = getTenant(t, "adm-immutable")
		tn.Spec.PortBlock = nil
		if err := k8s.Update(ctx, tn); err == nil || !strings.Contains(err.Error(), "cannot be added or removed") {
			t.Fatalf("update err = %v", err)
		}
		tn = getTenant(t, "adm-immutable")
		tn.Spec.Namespaces = append(tn.Spec.Namespaces, "more")
		if err := k8s.Update(ctx, tn); err != nil {
			t.Fatalf("namespaces should stay editable: %v", err)
		}
	})
}

func withRouter(e *exposurev1alpha1.InferenceExposure, name string, mod func(*exposurev1alpha1.RouterSpec)) *exposurev1alpha1.InferenceExposure {
	e.Name = name
	e.Spec.Router = &exposurev1alpha1.RouterSpec{}
	mod(e.Spec.Router)
	return e
}
