package v1alpha1

// Condition types. Every concern has its own condition; Ready summarises them.
const (
	// ConditionReady is True when everything the operator controls for the object is in place.
	ConditionReady = "Ready"
	// ConditionReconciling (kstatus) is True while the operator works towards Ready.
	ConditionReconciling = "Reconciling"
	// ConditionStalled (kstatus) is True when Ready cannot be reached without someone acting;
	// its message says what to do.
	ConditionStalled = "Stalled"

	// ConditionTenantResolved reports whether exactly one InferenceTenant owns the exposure's namespace.
	ConditionTenantResolved = "TenantResolved"
	// ConditionPortsAllocated reports whether every declared port has a nodePort from the tenant's block.
	ConditionPortsAllocated = "PortsAllocated"
	// ConditionServiceReady reports whether the Service the operator owns matches the spec.
	ConditionServiceReady = "ServiceReady"

	// ConditionRouted reports whether the exposure's routing objects (Ingress, Route, HTTPRoute,
	// GRPCRoute) match the spec. The route controllers' verdicts have their own conditions.
	ConditionRouted = "Routed"
	// ConditionIngressReady reports the Ingress of the http port.
	ConditionIngressReady = "IngressReady"
	// ConditionGRPCIngressReady reports the Ingress of the grpc port.
	ConditionGRPCIngressReady = "GRPCIngressReady"
	// ConditionRouteAdmitted reports whether the OpenShift router admitted the http Route(s).
	ConditionRouteAdmitted = "RouteAdmitted"
	// ConditionGRPCRouteAdmitted reports whether the OpenShift router admitted the grpc Route.
	ConditionGRPCRouteAdmitted = "GRPCRouteAdmitted"
	// ConditionTimeoutsApplied reports whether the controller serving the routing enforces
	// every part of the timeout model asked for (router.timeouts): False names the controller,
	// the part and what the platform can set. It does not hold Ready back: traffic flows,
	// bounded differently.
	ConditionTimeoutsApplied = "TimeoutsApplied"
	// ConditionSettingsApplied reports, for Ingress routing, whether the IngressClass's
	// controller expresses the other settings the operator renders per controller (the
	// request body limit, the redirect of plain HTTP to HTTPS, gRPC towards the pod): False
	// names the controller, the setting and what the platform can do. It does not hold Ready
	// back.
	ConditionSettingsApplied = "SettingsApplied"
	// ConditionTimeoutPolicyAccepted reports whether Envoy Gateway accepted the
	// BackendTrafficPolicy that carries the exposure's timeouts (on Envoy Gateway only).
	ConditionTimeoutPolicyAccepted = "TimeoutPolicyAccepted"
	// ConditionInferencePoolAccepted reports whether the exposure's Gateway accepted its
	// InferencePools (router.inferencePool) and resolved their endpoint picker; False with
	// APINotServed where the cluster does not serve the InferencePool API (the routes keep the
	// Service).
	ConditionInferencePoolAccepted = "InferencePoolAccepted"
	// ConditionMetricsScraped reports whether the exposure's metrics port has a PodMonitor
	// (spec.metrics or its tenant's): False APINotServed where the cluster does not serve the
	// Prometheus Operator's API. It does not hold Ready back.
	ConditionMetricsScraped = "MetricsScraped"
	// ConditionHTTPRouteAccepted reports whether the Gateway accepted the HTTPRoute and resolved its backends.
	ConditionHTTPRouteAccepted = "HTTPRouteAccepted"
	// ConditionGRPCRouteAccepted reports whether the Gateway accepted the GRPCRoute and resolved its backends.
	ConditionGRPCRouteAccepted = "GRPCRouteAccepted"
	// ConditionTLSRouteAccepted reports whether the Gateway accepted the TLSRoute(s) of a
	// Passthrough exposure and resolved their backends.
	ConditionTLSRouteAccepted = "TLSRouteAccepted"
	// ConditionBackendTLSPolicyAccepted reports whether the Gateway accepted the
	// BackendTLSPolicy of a Reencrypt exposure and resolved its CA ConfigMap.
	ConditionBackendTLSPolicyAccepted = "BackendTLSPolicyAccepted"

	// ConditionHAProxyFrontend is False when the exposure's HAProxy frontend was left out of the
	// configuration (the port it chose on the VIP is bound by another frontend); absent otherwise.
	ConditionHAProxyFrontend = "HAProxyFrontend"
	// ConditionAnnotationsApplied reports whether every router.annotations key was applied; a
	// refused key (the tenant's annotation policy) does not make the exposure un-Ready.
	ConditionAnnotationsApplied = "AnnotationsApplied"

	// ConditionBlockAllocated reports whether the tenant holds its port block.
	ConditionBlockAllocated = "BlockAllocated"
	// ConditionHAProxyConfigured reports whether the tenant is in the rendered HAProxy configuration.
	ConditionHAProxyConfigured = "HAProxyConfigured"
	// ConditionNamespacesExclusive reports whether the tenant's namespaces are claimed by no other tenant.
	ConditionNamespacesExclusive = "NamespacesExclusive"
	// ConditionHostDomainExclusive (tenants with a hostDomain): no other tenant has the same
	// hostDomain, so the hosts under it are this tenant's.
	ConditionHostDomainExclusive = "HostDomainExclusive"
	// ConditionGatewayListenersReady (tenants with spec.gateway): the Gateway accepted and
	// programmed the tenant's ListenerSet and each of its listeners; False says what the
	// platform must change (the Gateway's allowedListeners, a ReferenceGrant for the Secret).
	ConditionGatewayListenersReady = "GatewayListenersReady"
)

// Condition reasons. Allocation failures (BlockFull, PoolExhausted, PinnedBlockTaken,
// PinnedBlockMisaligned, PinnedBlockOutsidePool, BlockLargerThanPool) use the allocator's
// reasons, see internal/allocator.
const (
	ReasonReady    = "Ready"
	ReasonNotReady = "NotReady"

	ReasonTenantFound       = "TenantFound"
	ReasonNoTenant          = "NoTenant"
	ReasonTenantDeleting    = "TenantDeleting"
	ReasonBlockPending      = "BlockPending"
	ReasonNamespaceConflict = "NamespaceConflict"

	ReasonPortsAllocated   = "Allocated"
	ReasonNodePortDisabled = "NodePortDisabled"

	ReasonServiceApplied  = "ServiceApplied"
	ReasonServiceConflict = "ServiceConflict"
	ReasonServiceInvalid  = "ServiceInvalid"

	ReasonRouted             = "Routed"
	ReasonRouterNone         = "RouterNone"
	ReasonHostConflict       = "HostConflict"
	ReasonHostMissing        = "HostMissing"
	ReasonHostInvalid        = "HostInvalid"
	ReasonAPINotServed       = "APINotServed"
	ReasonRouterConflict     = "RouterConflict"
	ReasonRouterInvalid      = "RouterInvalid"
	ReasonRouterUnsupported  = "RouterUnsupported"
	ReasonAnnotationsRefused = "AnnotationsRefused"
	ReasonBindConflict       = "BindConflict"
	// ReasonFrontendPortNotAllowed: the exposure's frontend port is reserved on the HAProxy
	// hosts or outside its tenant's spec.haproxy.grpcFrontendPorts.
	ReasonFrontendPortNotAllowed = "FrontendPortNotAllowed"
	ReasonSecretInvalid          = "SecretInvalid"
	ReasonInlineDisabled         = "InlineCertificatesDisabled"
	ReasonApplied                = "Applied"
	ReasonAdmitted               = "Admitted"
	ReasonAccepted               = "Accepted"
	ReasonPending                = "Pending"
	// ReasonTimeoutNotSupported: the GatewayClass's status.supportedFeatures lacks
	// HTTPRouteRequestTimeout; ReasonFeaturesUnknown: it lists no features at all.
	ReasonTimeoutNotSupported = "TimeoutNotSupported"
	ReasonFeaturesUnknown     = "FeaturesUnknown"
	ReasonTimeoutsApplied     = "TimeoutsApplied"
	// ReasonSettingNotSupported: the controller cannot express a setting (SettingsApplied).
	ReasonSettingNotSupported = "SettingNotSupported"
	// ReasonNoControllerReport: no controller reported on a routing object within the
	// operator's --data-plane-report-timeout; the message names the class or Gateway.
	ReasonNoControllerReport = "NoControllerReport"
	// ReasonNotConfirmed: the Ingress's class says its controller writes no status
	// (AnnotationReportsStatus), so no data plane confirmed it.
	ReasonNotConfirmed = "NotConfirmed"
	// ReasonListenerSetNotSupported: the tenant's Gateway's class does not list the ListenerSet
	// feature, so its controller will not serve the tenant's listeners.
	ReasonListenerSetNotSupported = "ListenerSetNotSupported"
	// ReasonGatewayNotFound: the Gateway the routes attach to does not exist.
	ReasonGatewayNotFound = "GatewayNotFound"
	// ReasonIngressClassNotFound: the Ingress's class does not exist (or, unnamed, the
	// cluster has no default class).
	ReasonIngressClassNotFound = "IngressClassNotFound"

	ReasonBlockAllocated = "Allocated"
	// ReasonBlockMoved: part of the recorded block is held by another tenant; the tenant got a
	// new one and its exposures keep the ports they hold.
	ReasonBlockMoved = "BlockMoved"
	// ReasonBlockOutsidePool: the tenant's block lies outside the operator's current
	// --node-port-range; it is kept.
	ReasonBlockOutsidePool = "BlockOutsidePool"
	ReasonReleasing        = "Releasing"
	// ReasonServiceApplyFailed: writing the Service failed for a reason other than the spec
	// (e.g. the Service IP range is full); retried with backoff.
	ReasonServiceApplyFailed = "ServiceApplyFailed"
	// ReasonRecordedPortsPending: the API server refuses node ports of status.nodePorts that no
	// Service holds yet (a deleted Service's, freed a moment later; or leaked, freed by its
	// repair loop); the Service waits for them rather than taking others.
	ReasonRecordedPortsPending = "RecordedPortsPending"

	ReasonNamespacesExclusive = "Exclusive"

	ReasonHAProxyRendered     = "Rendered"
	ReasonConfigMapNotManaged = "ConfigMapNotManaged"
	// ReasonHAProxyConfigTooLarge: the tenant's part would not fit its ConfigMap.
	ReasonHAProxyConfigTooLarge = "ConfigTooLarge"
	// ReasonConfigMapRefused: the API server did not take the ConfigMap holding the tenant's part.
	ReasonConfigMapRefused = "ConfigMapRefused"
)

// Labels and annotations the operator puts on the objects it manages.
const (
	// LabelManagedBy marks objects created by this operator.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "inference-exposure-operator"
	// LabelTenant names the InferenceTenant an object belongs to.
	LabelTenant = "exposure.inference.dev/tenant"
	// LabelExposure names the InferenceExposure a child object belongs to.
	LabelExposure = "exposure.inference.dev/exposure"

	// FieldManager is the name under which the operator writes (managedFields).
	FieldManager = "inference-exposure-operator"

	// AnnotationApplied holds a hash of the server-side apply body the operator last sent for
	// a child object: when it matches the body it would send now and the object still holds
	// every field of it, nothing is sent (the cache keeps no managedFields to compare with).
	AnnotationApplied = "exposure.inference.dev/applied"

	// AnnotationChecksum holds the sha256 of the rendered haproxy.cfg on its ConfigMap.
	AnnotationChecksum = "exposure.inference.dev/checksum"

	// AnnotationReportsStatus on an IngressClass, "false", says that the class's controller
	// never writes an Ingress's status: the platform team sets it, and exposures on that class
	// are then Ready without an address, with their condition saying NotConfirmed.
	AnnotationReportsStatus = "exposure.inference.dev/reports-status"

	// TenantFinalizer keeps a tenant until its port block can be released safely.
	TenantFinalizer = "exposure.inference.dev/release-port-block"
)

// MessageReady is the message of a True Ready.
const MessageReady = "all conditions are met"

// Reasons of HostDomainExclusive.
const (
	ReasonHostDomainExclusive = "HostDomainExclusive"
	ReasonHostDomainShared    = "HostDomainShared"
)
