package v1alpha1

// RouterType picks the front door for the exposure's HTTPS traffic.
// +kubebuilder:validation:Enum=Auto;Ingress;Route;Gateway;None
type RouterType string

const (
	// RouterAuto picks Route on OpenShift, else Gateway when gateway.parentRef is set and the
	// Gateway API is served, else Ingress.
	RouterAuto RouterType = "Auto"
	// RouterIngress makes networking.k8s.io/v1 Ingresses.
	RouterIngress RouterType = "Ingress"
	// RouterRoute makes OpenShift route.openshift.io/v1 Routes.
	RouterRoute RouterType = "Route"
	// RouterGateway makes Gateway API HTTPRoutes and GRPCRoutes.
	RouterGateway RouterType = "Gateway"
	// RouterNone makes no routing objects.
	RouterNone RouterType = "None"
)

// TLSTermination says where TLS ends.
// +kubebuilder:validation:Enum=Edge;Passthrough;Reencrypt
type TLSTermination string

const (
	// TLSEdge ends TLS at the router; the router speaks plain HTTP to the pods.
	TLSEdge TLSTermination = "Edge"
	// TLSPassthrough hands the TLS stream to the pods untouched (TLS at the pod; no paths).
	TLSPassthrough TLSTermination = "Passthrough"
	// TLSReencrypt ends TLS at the router and opens a new TLS connection to the pods.
	TLSReencrypt TLSTermination = "Reencrypt"
)

// Duration is a timeout such as 300s, 5m or 1h30m; 0 means no limit. Between 1s (shorter cuts
// every stream) and 168h (HAProxy's timers overflow past about 596h; a week is already more
// than any inference stream needs).
// +kubebuilder:validation:Pattern=`^(0|([0-9]{1,5}(h|m|s|ms)){1,4})$`
// +kubebuilder:validation:MaxLength=32
// +kubebuilder:validation:XValidation:rule="self == '0' || (duration(self) >= duration('1s') && duration(self) <= duration('168h'))",message="timeout must be 0 (no limit) or between 1s and 168h"
type Duration string

// RouterTimeouts is the timeout model of an exposure's routing.
type RouterTimeouts struct {
	// idle is how long a request or stream may stay silent (no byte either way) before the
	// router cuts it: an LLM answer that keeps streaming tokens lives on, a backend that hangs
	// is cut. Default 300s (or the former router.timeout); 0 means no limit (24h on routers
	// that need a number). ingress-nginx proxy-read-timeout and proxy-send-timeout, the
	// OpenShift router's timeout and timeout-tunnel, HAProxy's client and server timeouts.
	// +optional
	Idle Duration `json:"idle,omitempty"`

	// request is a deadline for a whole request and its response, however busy: a stream still
	// running at the deadline is cut. Default none, since model servers stream answers of
	// unknown length. Gateway API HTTPRoute timeouts.request.
	// +optional
	Request Duration `json:"request,omitempty"`
}

// Hostname is a fully qualified DNS name: lower case labels of at most 63 characters.
// +kubebuilder:validation:MaxLength=253
// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$`
type Hostname string

// HTTPPath is an absolute URL path prefix.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=1024
// +kubebuilder:validation:Pattern=`^/[-A-Za-z0-9._~!$&'()*+,;=:@%/]*$`
type HTTPPath string

// RouterTLS configures TLS on the routing objects.
// +kubebuilder:validation:XValidation:rule="!has(self.destinationCACertificate) || self.termination == 'Reencrypt'",message="router.tls.destinationCACertificate is only used with termination Reencrypt"
// +kubebuilder:validation:XValidation:rule="!(has(self.inline) && self.inline) || has(self.secretName)",message="router.tls.inline needs router.tls.secretName: the certificate is copied from that Secret"
type RouterTLS struct {
	// termination is where TLS ends: Edge (default: at the router), Passthrough (at the pod;
	// no paths) or Reencrypt (at the router, then TLS again to the pod).
	// +optional
	// +kubebuilder:default=Edge
	Termination TLSTermination `json:"termination,omitempty"`

	// secretName is a kubernetes.io/tls Secret in the exposure's namespace with the
	// certificate for the host. Ingress: the TLS block. Route: spec.tls.externalCertificate
	// (the router's service account needs read access to it), or copied in with inline.
	// Gateway: unused, the Gateway's listener holds the certificate.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	SecretName string `json:"secretName,omitempty"`

	// inline copies the Secret's certificate and key into the OpenShift Route instead of
	// referencing the Secret. Off by default: private keys then stay in Secrets only.
	// +optional
	Inline *bool `json:"inline,omitempty"`

	// destinationCACertificate is the PEM CA that signed the pods' serving certificate, for
	// Reencrypt Routes. Empty: the OpenShift router trusts the service-serving CA.
	// +optional
	// +kubebuilder:validation:MaxLength=16384
	DestinationCACertificate string `json:"destinationCACertificate,omitempty"`

	// backend is how a Gateway checks the pods' certificate with Reencrypt (a
	// BackendTLSPolicy on the backend Services). Default: the hostname
	// <service>.<namespace>.svc and the system's well-known CAs.
	// +optional
	Backend *BackendTLS `json:"backend,omitempty"`
}

// BackendTLS is what a Gateway verifies of the pods' serving certificate (Reencrypt).
// +kubebuilder:validation:XValidation:rule="!has(self.caConfigMap) || !has(self.wellKnownCACertificates)",message="router.tls.backend: set caConfigMap or wellKnownCACertificates, not both"
type BackendTLS struct {
	// hostname the pods' certificate must be valid for; also sent as SNI. Default
	// <service>.<namespace>.svc.
	// +optional
	Hostname Hostname `json:"hostname,omitempty"`

	// caConfigMap is a ConfigMap in the exposure's namespace holding the CA bundle under the
	// key ca.crt.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	CAConfigMap string `json:"caConfigMap,omitempty"`

	// wellKnownCACertificates: System trusts the CAs of the Gateway's system trust store
	// (the default when caConfigMap is not set).
	// +optional
	// +kubebuilder:validation:Enum=System
	WellKnownCACertificates string `json:"wellKnownCACertificates,omitempty"`
}

// IngressSettings apply to Ingress routing.
type IngressSettings struct {
	// className is the IngressClass (spec.ingressClassName). For classes whose name contains
	// "nginx" the operator adds ingress-nginx annotations for timeouts, HTTPS redirect, body
	// size and gRPC.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ClassName string `json:"className,omitempty"`

	// bodySize is the largest request body ingress-nginx accepts (proxy-body-size), e.g. 64m.
	// Default 64m: inference requests carry tensors and images.
	// +optional
	// +kubebuilder:validation:Pattern=`^[0-9]{1,6}[kmgKMG]?$`
	BodySize string `json:"bodySize,omitempty"`
}

// ParentReference names a Gateway.
type ParentReference struct {
	// namespace of the Gateway. Default: the exposure's namespace. A Gateway in another
	// namespace must allow routes from this one (listeners[].allowedRoutes).
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Namespace string `json:"namespace,omitempty"`

	// name of the Gateway.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// kind of the parent: Gateway (the default) or ListenerSet. A ListenerSet must be the
	// tenant's own (InferenceTenant spec.gateway), which exposures without a parentRef use.
	// +optional
	// +kubebuilder:validation:Enum=Gateway;ListenerSet
	Kind string `json:"kind,omitempty"`

	// sectionName is the Gateway listener to attach to. Default: every listener that allows
	// the route.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	SectionName string `json:"sectionName,omitempty"`
}

// GatewaySettings apply to Gateway API routing.
type GatewaySettings struct {
	// parentRef is the Gateway the HTTPRoute and GRPCRoute attach to.
	// +required
	ParentRef ParentReference `json:"parentRef"`
}

// Backend is a Service that shares the exposure's traffic, for canaries.
type Backend struct {
	// name of a Service in the exposure's namespace. It must serve the same port numbers as
	// the exposure's Service, and (for Routes) the same port names, http and grpc.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// weight is this Service's share relative to the other backends (0-256).
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=256
	Weight int32 `json:"weight"`
}

// InferencePoolSettings ask for an InferencePool per routed port.
type InferencePoolSettings struct {
	// endpointPicker is the endpoint picker Service, in the exposure's namespace. Default: the
	// tenant's spec.endpointPicker; without either, the Gateway's implementation picks.
	// +optional
	EndpointPicker *EndpointPicker `json:"endpointPicker,omitempty"`
}

// EndpointPicker is an endpoint picker (EPP) Service in the exposure's namespace: never
// another namespace's, so one tenant's requests are never scheduled by another's picker.
type EndpointPicker struct {
	// name of the picker's Service.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z]([-a-z0-9]*[a-z0-9])?$`
	Name string `json:"name"`

	// port of the picker's gRPC (ext-proc) service.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// failureMode is what the Gateway does when the picker does not answer: FailClose (the
	// default) refuses the request, FailOpen sends it to any pod of the pool.
	// +optional
	// +kubebuilder:validation:Enum=FailOpen;FailClose
	FailureMode string `json:"failureMode,omitempty"`
}

// RouterSpec is the exposure's HTTPS (and optional gRPC over TLS) path.
// +kubebuilder:validation:XValidation:rule="!has(self.gateway) || self.type == 'Gateway' || self.type == 'Auto'",message="router.gateway is only used with type Gateway or Auto"
// +kubebuilder:validation:XValidation:rule="!has(self.ingress) || self.type == 'Ingress' || self.type == 'Auto'",message="router.ingress is only used with type Ingress or Auto"
// +kubebuilder:validation:XValidation:rule="!(has(self.tls) && self.tls.termination == 'Passthrough' && has(self.paths))",message="router.paths cannot be used with tls.termination Passthrough: the router never sees the request, so it cannot route by path; remove paths"
// +kubebuilder:validation:XValidation:rule="!has(self.tls) || !has(self.tls.backend) || (self.tls.termination == 'Reencrypt' && (self.type == 'Gateway' || self.type == 'Auto'))",message="router.tls.backend is only used with type Gateway (or Auto) and termination Reencrypt: it becomes a BackendTLSPolicy"
// +kubebuilder:validation:XValidation:rule="self.type != 'Ingress' || !has(self.backends)",message="router.backends (weighted canaries) needs type Route or Gateway: an Ingress has a single backend"
// +kubebuilder:validation:XValidation:rule="!has(self.grpcHost) || (has(self.grpc) && self.grpc)",message="router.grpcHost needs router.grpc true"
// +kubebuilder:validation:XValidation:rule="!has(self.inferencePool) || self.type == 'Gateway'",message="router.inferencePool needs router.type Gateway: an InferencePool is a backend of Gateway API routes"
// +kubebuilder:validation:XValidation:rule="!has(self.inferencePool) || !has(self.backends)",message="router.inferencePool and router.backends exclude each other: the pool's endpoint picker chooses the pods"
// +kubebuilder:validation:XValidation:rule="!has(self.inferencePool) || !has(self.tls) || !has(self.tls.termination) || self.tls.termination == 'Edge'",message="router.inferencePool needs tls.termination Edge: the Gateway must see each request to pick its pod"
// +kubebuilder:validation:XValidation:rule="!has(self.host) || !has(self.grpcHost) || self.host != self.grpcHost",message="router.grpcHost must differ from router.host: HTTP and gRPC routes may not share a hostname"
type RouterSpec struct {
	// type is the kind of routing object: Auto (default), Ingress, Route (OpenShift), Gateway
	// (Gateway API HTTPRoute and GRPCRoute) or None.
	// +optional
	// +kubebuilder:default=Auto
	Type RouterType `json:"type,omitempty"`

	// host is the HTTPS host name. Default: <name>.<namespace>.<tenant's hostDomain>. When the
	// tenant has a hostDomain, the host must lie under it.
	// +optional
	Host Hostname `json:"host,omitempty"`

	// grpcHost is the host name of the gRPC route. Default: the host with "-grpc" appended to
	// its first label (triton.team-a.apps.example.com → triton-grpc.team-a.apps.example.com).
	// +optional
	GRPCHost Hostname `json:"grpcHost,omitempty"`

	// paths are the URL path prefixes routed to the http port. Default [/].
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=set
	Paths []HTTPPath `json:"paths,omitempty"`

	// timeout is the former name of timeouts.idle, kept so that exposures written with it keep
	// their meaning: how long a request or stream may stay silent. timeouts.idle wins when
	// both are set. Deprecated: use timeouts.idle.
	// +optional
	Timeout Duration `json:"timeout,omitempty"`

	// timeouts bound requests and streams on every path that can express them: idle (how long
	// a stream may stay silent) and request (a deadline for a whole response). What the
	// controller serving the routing cannot express is said by the TimeoutsApplied condition.
	// +optional
	Timeouts *RouterTimeouts `json:"timeouts,omitempty"`

	// tls configures TLS termination and the certificate.
	// +optional
	TLS *RouterTLS `json:"tls,omitempty"`

	// grpc also routes the grpc port over TLS, on grpcHost. Needs ports.grpc.
	// +optional
	GRPC *bool `json:"grpc,omitempty"`

	// ingress settings, used when the type is Ingress (or Auto picks Ingress).
	// +optional
	Ingress *IngressSettings `json:"ingress,omitempty"`

	// gateway settings, used when the type is Gateway (or Auto picks Gateway). Without them a
	// Gateway exposure attaches to its tenant's ListenerSet (InferenceTenant spec.gateway).
	// +optional
	Gateway *GatewaySettings `json:"gateway,omitempty"`

	// backends replace the exposure's own Service as the routes' backends, with weights, for
	// canaries. List the exposure's own Service (its name) to keep it in the split. At most 4:
	// a Route has one backend and up to three alternates.
	// +optional
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=4
	// +listType=map
	// +listMapKey=name
	Backends []Backend `json:"backends,omitempty"`

	// inferencePool routes the http port (and, with grpc, the grpc port) through an
	// InferencePool of the Gateway API Inference Extension instead of the Service: its endpoint
	// picker chooses the model-server pod for each request, with the tenant's name as the
	// fairness key (the x-gateway-inference-fairness-id header, overwriting any a client
	// sent). Needs router.type Gateway and Edge termination, and the InferencePool API; where
	// it is not served the InferencePoolAccepted condition says so and the routes keep the
	// Service.
	// +optional
	InferencePool *InferencePoolSettings `json:"inferencePool,omitempty"`

	// annotations are copied onto every Ingress, Route and HTTPRoute/GRPCRoute the operator
	// makes; they override the operator's own defaults (e.g. the Route balance). Keys that
	// inject router configuration, take other hosts or name objects of other namespaces are
	// refused unless the tenant's annotationPolicy allows them. A value holds at most 4 KiB,
	// all of them together 64 KiB.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 317 && size(self[k]) <= 4096)",message="router.annotations: a key holds at most 317 characters and a value at most 4096 bytes"
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(self[k]) <= 4096) && self.map(k, size(k) + size(self[k])).sum() <= 65536",message="router.annotations hold at most 64 KiB in all"
	Annotations map[string]string `json:"annotations,omitempty"`
}

// RouterStatus is what the exposure's routing resolved to.
type RouterStatus struct {
	// type is the kind of routing object in use (Auto resolved).
	// +optional
	Type RouterType `json:"type,omitempty"`

	// host is the HTTPS host name in use.
	// +optional
	Host string `json:"host,omitempty"`

	// objects are the routing objects the operator made, as Kind/name.
	// +optional
	// +listType=atomic
	Objects []string `json:"objects,omitempty"`
}
