package exposure

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/childapply"
	"github.com/inference-exposure/inference-exposure-operator/internal/conditions"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/phases"
	"github.com/inference-exposure/inference-exposure-operator/internal/render"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/podmonitor"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/router"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/service"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/tenantgateway"
	"github.com/inference-exposure/inference-exposure-operator/internal/servedapis"
	"github.com/inference-exposure/inference-exposure-operator/internal/tenancy"
)

// Reconciler keeps each InferenceExposure's Service in line with its spec and its
// tenant's port block.
type Reconciler struct {
	client.Client
	// APIReader reads what the cache does not hold: Secrets for inline Route certificates,
	// and managedFields before a write that may drop fields.
	APIReader client.Reader
	Recorder  record.EventRecorder
	// APIs says which routing kinds the cluster serves.
	APIs *servedapis.APIs
	// Ports says which Service holds which node port, from the cache.
	Ports *kubecache.NodePortView
	// Held remembers the tenants seen holding their whole block.
	Held *kubecache.HeldBlocks
	// Cache answers index lookups that only want names without copying objects.
	Cache cache.Informers
	// MaxConcurrent is how many exposures are reconciled at once.
	MaxConcurrent int
	// ReportTimeout is how long a routing object waits for its controller's first report
	// before its condition turns False.
	ReportTimeout time.Duration
	// InlineCertificates lets Routes carry a certificate copied from a Secret
	// (router.tls.inline); the operator then needs to read Secrets.
	InlineCertificates bool

	controller controller.Controller
	reserved   portReservations
	// echoes are the versions this controller's own writes produced: their watch events do
	// not queue the exposure again.
	echoes childapply.Echoes
	// fresh are the exposures created while this process runs that were never routed.
	fresh   freshExposures
	watchMu sync.Mutex
	watched map[schema.GroupVersionKind]bool
	// foreign are the hosts of routing objects no exposure controls.
	foreign *foreignHosts
	rescan  chan event.GenericEvent
}

// claimLagRetry is how soon an exposure looks again for claims its tenant records but this
// cache does not show yet.
const claimLagRetry = time.Second

// blockFullFirstRetry is when an exposure that has just found its block full looks again: ports
// freed before the cache showed it waiting do not wake it.
const blockFullFirstRetry = 5 * time.Second

// MaxPortRetries bounds how often one reconcile picks new ports after the API server refused
// ports that the cache showed free.
const MaxPortRetries = 8

// The kinds whose echoes the exposure controller passes over, besides the routing kinds
// (named by their GVK's Kind).
const (
	kindExposure = "InferenceExposure"
	kindService  = "Service"
)

// +kubebuilder:rbac:groups=exposure.inference.dev,resources=inferenceexposures,verbs=get;list;watch
// +kubebuilder:rbac:groups=exposure.inference.dev,resources=inferenceexposures/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=exposure.inference.dev,resources=inferenceexposures/finalizers,verbs=update
// +kubebuilder:rbac:groups=exposure.inference.dev,resources=inferencetenants,verbs=get;list;watch
// +kubebuilder:rbac:groups=exposure.inference.dev,resources=portclaims,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// The rights on routing objects are next to each kind, in internal/render/router.

// exposureScope is what the phases of one exposure reconcile share: the exposure, the status
// being built with its condition setter, and what earlier phases found.
type exposureScope struct {
	exp    *exposurev1alpha1.InferenceExposure
	status *exposurev1alpha1.InferenceExposureStatus
	conds  conditions.Set
	// tenant owns the namespace (resolveTenant); service is the live Service of the
	// exposure's name, nil when there is none (ownServiceName).
	tenant  *exposurev1alpha1.InferenceTenant
	service *corev1.Service
	// block is the tenant's block once the Service phase has found it held.
	block *allocator.Range
	// stop ends the reconcile after the current phase.
	stop bool
}

// phases are the exposure reconcile, in order; the status is written after them.
func (r *Reconciler) phases() []phases.Phase[*exposureScope] {
	return []phases.Phase[*exposureScope]{
		{Name: "resolving the tenant", Run: r.resolveTenantPhase},
		{Name: "owning the Service name", Run: r.ownServiceName},
		{Name: "allocating node ports and applying the Service", Run: r.reconcileService},
		{Name: "routing", Run: r.reconcileRouting},
		{Name: "scraping the metrics port", Run: r.reconcileMetrics},
	}
}

// Reconcile runs the phases over the exposure and then writes its status once.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	exp := &exposurev1alpha1.InferenceExposure{}
	if err := r.Get(ctx, req.NamespacedName, exp); err != nil {
		if apierrors.IsNotFound(err) {
			r.fresh.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !exp.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil // the Service goes with it through its owner reference
	}
	s := &exposureScope{exp: exp, status: exp.Status.DeepCopy()}
	s.conds = conditions.For(ctx, r.Recorder, exp, &s.status.Conditions, exp.Generation)
	s.status.ServiceName = exp.Name
	result, err := phases.Run(ctx, s, r.phases(), func(s *exposureScope) bool { return s.stop })
	// The status phase: Ready summarises, observedGeneration only after a full success.
	summarizeExposure(exp, s.status)
	if err == nil {
		s.status.ObservedGeneration = exp.Generation
	}
	if serr := r.writeStatus(ctx, exp, s.status); serr != nil {
		if apierrors.IsConflict(serr) && err == nil {
			return ctrl.Result{RequeueAfter: conditions.ConflictRetry}, nil // the exposure was recreated meanwhile
		}
		return ctrl.Result{}, errors.Join(err, serr)
	}
	if r.echoes.RecheckOf(req.NamespacedName) {
		// Someone else's change came in while this reconcile was writing: look again.
		result = phases.Earliest(result, ctrl.Result{RequeueAfter: conditions.ConflictRetry})
	}
	return result, err
}

// resolveTenantPhase finds the tenant owning the namespace. Without one (or while it is
// deleted) nothing is exposed: the routing objects and the Service go, and the reconcile ends.
func (r *Reconciler) resolveTenantPhase(ctx context.Context, s *exposureScope) (ctrl.Result, error) {
	tenant, reason, msg, err := r.resolveTenant(ctx, s.exp)
	if err != nil {
		return ctrl.Result{}, err
	}
	if tenant == nil || !tenant.DeletionTimestamp.IsZero() {
		s.conds.Failed(exposurev1alpha1.ConditionTenantResolved, reason, msg)
		for _, t := range []string{exposurev1alpha1.ConditionPortsAllocated, exposurev1alpha1.ConditionServiceReady} {
			s.conds.Unknown(t, exposurev1alpha1.ReasonNotReady, "nothing is exposed until a tenant owns the namespace")
		}
		s.status.NodePorts = nil
		s.status.Tenant = ""
		clearRouting(s.status, true)
		s.stop = true
		if err := r.removeRouting(ctx, s.exp, nil); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, r.removeService(ctx, s.exp)
	}
	s.tenant = tenant
	s.status.Tenant = tenant.Name
	s.conds.True(exposurev1alpha1.ConditionTenantResolved, exposurev1alpha1.ReasonTenantFound, msg)
	return ctrl.Result{}, nil
}

// ownServiceName reads the Service of the exposure's name: one the exposure does not control
// is left alone and reported, and the reconcile ends.
func (r *Reconciler) ownServiceName(ctx context.Context, s *exposureScope) (ctrl.Result, error) {
	existing := &corev1.Service{}
	// Read-only (its node ports, the up-to-date check): the cache's object, not a deep copy.
	if err := r.Get(ctx, types.NamespacedName{Namespace: s.exp.Namespace, Name: s.exp.Name}, existing, client.UnsafeDisableDeepCopy); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("reading service: %w", err)
		}
		return ctrl.Result{}, nil
	}
	if render.IsControlledBy(existing, s.exp) {
		s.service = existing
		return ctrl.Result{}, nil
	}
	serviceNameTaken(s, client.ObjectKeyFromObject(existing))
	return ctrl.Result{}, nil
}

// serviceNameTaken reports a Service of the exposure's name that it does not control, and
// ends the reconcile.
func serviceNameTaken(s *exposureScope, existing client.ObjectKey) {
	s.conds.Failed(exposurev1alpha1.ConditionServiceReady, exposurev1alpha1.ReasonServiceConflict,
		fmt.Sprintf("Service %s already exists and is not owned by this exposure; it is left alone: rename the exposure or delete that Service", existing))
	s.conds.Unknown(exposurev1alpha1.ConditionPortsAllocated, exposurev1alpha1.ReasonNotReady, "waiting for the Service name to be free")
	s.status.NodePorts = nil
	if s.exp.Spec.Router != nil {
		s.conds.Unknown(exposurev1alpha1.ConditionRouted, exposurev1alpha1.ReasonNotReady, "routing waits until the Service name is free")
	}
	s.stop = true
}

// reconcileService allocates node ports and applies the Service.
func (r *Reconciler) reconcileService(ctx context.Context, s *exposureScope) (ctrl.Result, error) {
	exp, tenant, existing, status, conds := s.exp, s.tenant, s.service, s.status, s.conds
	if !render.NodePortEnabled(exp) {
		conds.True(exposurev1alpha1.ConditionPortsAllocated, exposurev1alpha1.ReasonNodePortDisabled, "nodePort.enabled is false: a ClusterIP Service, no ports taken from the block")
		if err := r.apply(ctx, exp, existing, service.Build(exp, tenant.Name, nil)); err != nil {
			return r.serviceFailed(s, err)
		}
		status.NodePorts = nil
		conds.True(exposurev1alpha1.ConditionServiceReady, exposurev1alpha1.ReasonServiceApplied, fmt.Sprintf("ClusterIP Service %s is in place", exp.Name))
		return ctrl.Result{}, nil
	}

	block, ok, msg, err := r.tenantBlock(ctx, tenant)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !ok {
		// Waiting for the tenant's block is no Warning of its own: when a person must act (the
		// pool is exhausted, a pinned block is taken) the tenant says so with its own Warning.
		conds.Waiting(exposurev1alpha1.ConditionPortsAllocated, exposurev1alpha1.ReasonBlockPending, msg)
		conds.Unknown(exposurev1alpha1.ConditionServiceReady, exposurev1alpha1.ReasonNotReady, "waiting for node ports")
		if tenant.Status.PortBlock != nil {
			// The block is recorded but its claims are not in this cache yet: the claim
			// informer may lag the tenant informer that woke this reconcile, and no claim
			// event wakes it again. Look again shortly.
			return ctrl.Result{RequeueAfter: claimLagRetry}, nil
		}
		return ctrl.Result{}, nil
	}
	s.block = &block

	refused := map[int32]bool{}
	// The ports the exposure holds stay when its tenant had to move to another block; they
	// move only with the namespace, to another tenant.
	portReq := allocator.PortRequest{Names: render.PortNames(exp), Current: service.NodePortsOf(existing), Recorded: statusPorts(status.NodePorts),
		KeepLive: exp.Status.Tenant == tenant.Name}
	self := types.NamespacedName{Namespace: exp.Namespace, Name: exp.Name}
	for attempt := 0; ; attempt++ {
		ports, err := r.assignPorts(self, block, portReq, refused)
		var ae *allocator.Error
		if errors.As(err, &ae) {
			conds.Failed(exposurev1alpha1.ConditionPortsAllocated, string(ae.Reason), ae.Message)
			conds.Unknown(exposurev1alpha1.ConditionServiceReady, exposurev1alpha1.ReasonNotReady, "waiting for node ports")
			// Freed ports wake it at once (blockFullWaiters), once the cache shows it waiting:
			// ports freed before that (during this reconcile, or before its status reaches the
			// cache) find it on the first, short retry; the minute is the safety net.
			if len(refused) > 0 {
				// Full only because the API server refused ports the cache shows free: the
				// ports of a Service deleted a moment ago, which it frees just after the delete
				// that woke this reconcile. No event comes when it does: look again shortly.
				return ctrl.Result{RequeueAfter: time.Second}, nil
			}
			if c := meta.FindStatusCondition(exp.Status.Conditions, exposurev1alpha1.ConditionPortsAllocated); c == nil || c.Reason != string(ae.Reason) {
				return ctrl.Result{RequeueAfter: blockFullFirstRetry}, nil
			}
			return ctrl.Result{RequeueAfter: time.Minute}, nil
		}
		desired := service.Build(exp, tenant.Name, ports)
		err = r.apply(ctx, exp, existing, desired)
		if taken := refusedPorts(err, desired); len(taken) > 0 && attempt >= MaxPortRetries {
			// Other Services keep taking the ports the cache shows free: a race the operator
			// resolves by itself once its cache catches up, nothing for a person to fix.
			logf.FromContext(ctx).V(1).Info("node ports taken concurrently on every try, retrying", "ports", taken)
			return ctrl.Result{RequeueAfter: time.Second}, nil
		} else if len(taken) > 0 {
			if slices.ContainsFunc(taken, recordedPort(portReq.Recorded)) {
				// The API server frees a deleted Service's ports a moment after the delete; a
				// port of our own record is worth waiting for rather than giving away. Were it
				// really held by another Service, the cache would show it by the next try.
				// Meanwhile the Service is missing or not what the exposure asks: say so. A live
				// Service gets the rest of what the exposure asks (its selector, say, after an
				// edit) with the node ports it holds now in place of the refused ones, so that
				// traffic does not wait for the ports, which may take minutes.
				logf.FromContext(ctx).V(1).Info("recorded node ports not free yet, retrying", "ports", taken)
				msg := fmt.Sprintf("the API server refuses node ports %s of status.nodePorts that no Service shows: it frees a deleted Service's ports a moment after the delete, and ports lost in a race of concurrent writes when its repair loop runs; retrying every second",
					joinPorts(taken))
				if interim, ok := interimPorts(ports, service.NodePortsOf(existing), taken); ok {
					if err := r.apply(ctx, exp, existing, service.Build(exp, tenant.Name, interim)); err != nil {
						return r.serviceFailed(s, err)
					}
					msg += fmt.Sprintf("; until then the Service keeps node ports %s", formatPorts(interim))
				}
				conds.Waiting(exposurev1alpha1.ConditionServiceReady, exposurev1alpha1.ReasonRecordedPortsPending, msg)
				return ctrl.Result{RequeueAfter: time.Second}, nil
			}
			// A Service the cache had not shown yet holds these ports: skip them and retry.
			logf.FromContext(ctx).V(1).Info("node ports already allocated, picking others", "ports", taken)
			for _, p := range taken {
				refused[p] = true
			}
			continue
		}
		if err != nil {
			return r.serviceFailed(s, err)
		}
		newPorts := toStatusPorts(ports)
		if !equality.Semantic.DeepEqual(status.NodePorts, newPorts) {
			r.Recorder.Eventf(exp, corev1.EventTypeNormal, "PortsAllocated", "node ports %s from block %s", formatPorts(ports), block)
		}
		status.NodePorts = newPorts
		conds.True(exposurev1alpha1.ConditionPortsAllocated, exposurev1alpha1.ReasonPortsAllocated, fmt.Sprintf("node ports %s from the tenant's block %s", formatPorts(ports), block))
		conds.True(exposurev1alpha1.ConditionServiceReady, exposurev1alpha1.ReasonServiceApplied, fmt.Sprintf("NodePort Service %s is in place", exp.Name))
		return ctrl.Result{}, nil
	}
}

// resolveTenant finds the tenant owning the exposure's namespace. Without one it returns nil
// and the reason and message to report.
func (r *Reconciler) resolveTenant(ctx context.Context, exp *exposurev1alpha1.InferenceExposure) (*exposurev1alpha1.InferenceTenant, string, string, error) {
	t, others, err := namespaceOwner(ctx, r.Client, exp.Namespace)
	if err != nil {
		return nil, "", "", err
	}
	if t == nil {
		return nil, exposurev1alpha1.ReasonNoTenant, fmt.Sprintf("no InferenceTenant lists namespace %q in spec.namespaces: ask the platform team to add it to a tenant", exp.Namespace), nil
	}
	if !t.DeletionTimestamp.IsZero() {
		return t, exposurev1alpha1.ReasonTenantDeleting, fmt.Sprintf("tenant %q is being deleted: the Service is removed so its node ports can be released", t.Name), nil
	}
	msg := fmt.Sprintf("namespace %q belongs to tenant %q", exp.Namespace, t.Name)
	if len(others) > 0 {
		msg += fmt.Sprintf(" (also listed by tenant(s) %s, which get nothing here)", conditions.JoinSorted(others))
	}
	return t, exposurev1alpha1.ReasonTenantFound, msg, nil
}

// namespaceOwner returns (a copy of) the tenant that owns ns and the other tenants listing it,
// looked up by index among the tenants that list ns.
func namespaceOwner(ctx context.Context, c client.Reader, ns string) (*exposurev1alpha1.InferenceTenant, []string, error) {
	var tl exposurev1alpha1.InferenceTenantList
	if err := c.List(ctx, &tl, client.MatchingFields{kubecache.IndexTenantNamespace: ns}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, nil, fmt.Errorf("listing tenants: %w", err)
	}
	claim := tenancy.Owners(tl.Items)[ns]
	if claim == nil {
		return nil, nil, nil
	}
	return claim.Owner.DeepCopy(), claim.Others, nil
}

// tenantBlock returns the tenant's block once every PortClaim of it is held by that tenant.
func (r *Reconciler) tenantBlock(ctx context.Context, tenant *exposurev1alpha1.InferenceTenant) (allocator.Range, bool, string, error) {
	pb := tenant.Status.PortBlock
	if pb == nil {
		msg := fmt.Sprintf("tenant %q has no port block yet", tenant.Name)
		for _, c := range tenant.Status.Conditions {
			if c.Type == exposurev1alpha1.ConditionBlockAllocated && c.Status == metav1.ConditionFalse {
				msg = fmt.Sprintf("tenant %q has no port block: %s", tenant.Name, c.Message)
			}
		}
		return allocator.Range{}, false, msg, nil
	}
	block := allocator.Range{Start: pb.Start, End: pb.End}
	if r.Held.Known(tenant.UID, block) {
		return block, true, "", nil
	}
	epoch := r.Held.Now()
	var cl exposurev1alpha1.PortClaimList
	if err := r.List(ctx, &cl, client.MatchingFields{kubecache.IndexClaimTenantUID: string(tenant.UID)}, client.UnsafeDisableDeepCopy); err != nil {
		return block, false, "", fmt.Errorf("listing claims: %w", err)
	}
	held := make(map[string]bool, len(cl.Items))
	for i := range cl.Items {
		held[cl.Items[i].Name] = true
	}
	for _, g := range allocator.Granules(block) {
		if !held[allocator.GranuleName(g)] {
			return block, false, fmt.Sprintf("tenant %q does not hold the claim for ports %s yet", tenant.Name, g), nil
		}
	}
	r.Held.Remember(tenant.UID, block, epoch)
	return block, true, "", nil
}

// assignPorts picks the exposure's ports among those of block that no other Service holds (as
// the node-port view shows it), that the API server did not refuse in this reconcile, and that
// no other exposure has reserved.
func (r *Reconciler) assignPorts(self types.NamespacedName, block allocator.Range, req allocator.PortRequest, refused map[int32]bool) (ports map[string]int32, err error) {
	r.Ports.Reading(func(held func(int32) (kubecache.PortHolder, bool)) {
		ports, err = r.reserved.assign(self, block, req, func(p int32) portState {
			h, ok := held(p)
			switch {
			case refused[p]:
				return portTaken
			case !ok:
				return portFree
			case h.Key == self:
				return portOwn
			}
			return portTaken
		})
	})
	return ports, err
}

// apply creates or applies the Service; it writes nothing when the Service already matches.
// A Service of that name that the cache did not show and the exposure does not control is
// errServiceTaken.
func (r *Reconciler) apply(ctx context.Context, exp *exposurev1alpha1.InferenceExposure, existing, desired *corev1.Service) error {
	var live client.Object
	if existing != nil {
		live = existing
	}
	key := client.ObjectKeyFromObject(desired)
	r.echoes.Begin(kindService, key, time.Now())
	applied, wrote, err := r.children().Apply(ctx, live, desired)
	if err != nil || !wrote {
		applied = nil
	}
	r.echoes.End(kindService, key, client.ObjectKeyFromObject(exp), applied)
	if apierrors.IsAlreadyExists(err) {
		if other, rerr := r.heldByOther(ctx, exp, &corev1.Service{}, desired); rerr != nil {
			return rerr
		} else if other {
			return errServiceTaken
		}
	}
	return err
}

// errServiceTaken: a Service of the exposure's name that it does not control appeared after
// the cache was read.
var errServiceTaken = errors.New("the Service name is taken")

// heldByOther tells, after the API server refused a create with AlreadyExists, whether the
// object of that name is someone else's, reading it from the API server (into obj): the cache
// had not shown it yet. Reported at once, the conflict never leaves a moment in which Ready
// says True while the object is not the exposure's; an object the exposure controls (the cache
// is behind its own create) or one deleted meanwhile is not.
func (r *Reconciler) heldByOther(ctx context.Context, exp *exposurev1alpha1.InferenceExposure, obj, desired client.Object) (bool, error) {
	if r.APIReader == nil {
		return false, nil
	}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading %s, which the API server says exists: %w", desired.GetName(), err)
	}
	return !render.IsControlledBy(obj, exp), nil
}

// children writes the exposure's Service and routing objects.
func (r *Reconciler) children() *childapply.Applier {
	return &childapply.Applier{Client: r.Client, APIReader: r.APIReader}
}

func (r *Reconciler) serviceFailed(s *exposureScope, err error) (ctrl.Result, error) {
	conds := s.conds
	if errors.Is(err, errServiceTaken) {
		serviceNameTaken(s, client.ObjectKey{Namespace: s.exp.Namespace, Name: s.exp.Name})
		return ctrl.Result{}, nil
	}
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) {
		// The cache is behind a write (ours or another process's): look again shortly.
		return ctrl.Result{RequeueAfter: conditions.ConflictRetry}, nil
	}
	if c := meta.FindStatusCondition(s.status.Conditions, exposurev1alpha1.ConditionPortsAllocated); s.block != nil && c != nil && c.Reason == exposurev1alpha1.ReasonBlockPending {
		// The block is there now: a refused Service write must not leave the exposure saying
		// it waits for one.
		conds.Unknown(exposurev1alpha1.ConditionPortsAllocated, exposurev1alpha1.ReasonNotReady,
			fmt.Sprintf("tenant %q holds block %d-%d; the ports are taken when the Service is written", s.tenant.Name, s.block.Start, s.block.End))
	}
	if apierrors.IsInvalid(err) {
		// The API server refused what the spec asks for: the user has to change the spec.
		conds.Failed(exposurev1alpha1.ConditionServiceReady, exposurev1alpha1.ReasonServiceInvalid, fmt.Sprintf("the API server refused the Service: %v", err))
		return ctrl.Result{}, nil
	}
	// Anything else (the Service IP range is full, a webhook refused it, the API server is
	// overloaded) is reported in the condition too, and retried with backoff. Only what
	// does not pass by itself is a Warning.
	msg := fmt.Sprintf("writing the Service failed, retrying: %v", err)
	if apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) {
		conds.Waiting(exposurev1alpha1.ConditionServiceReady, exposurev1alpha1.ReasonServiceApplyFailed, msg)
	} else {
		conds.Failed(exposurev1alpha1.ConditionServiceReady, exposurev1alpha1.ReasonServiceApplyFailed, msg)
	}
	return ctrl.Result{}, fmt.Errorf("applying service: %w", err)
}

// removeService deletes the exposure's own Service; a Service it does not own is left alone.
func (r *Reconciler) removeService(ctx context.Context, exp *exposurev1alpha1.InferenceExposure) error {
	svc := &corev1.Service{}
	if err := r.Get(ctx, types.NamespacedName{Namespace: exp.Namespace, Name: exp.Name}, svc); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !render.IsControlledBy(svc, exp) {
		return nil
	}
	if err := r.Delete(ctx, svc, client.Preconditions{UID: &svc.UID}); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("removing service: %w", err)
	}
	return nil
}

// writeStatus applies the exposure's status (all but the HAProxy conditions) when it changed.
// The first write of an exposure in this process moves what earlier versions wrote to the
// apply managers (one read; nothing at all while the status does not change, e.g. on restart).
func (r *Reconciler) writeStatus(ctx context.Context, exp *exposurev1alpha1.InferenceExposure, status *exposurev1alpha1.InferenceExposureStatus) error {
	if equality.Semantic.DeepEqual(&exp.Status, status) {
		return nil
	}
	key := client.ObjectKeyFromObject(exp)
	r.echoes.Begin(kindExposure, key, time.Now())
	written, err := conditions.ApplyStatusVersion(ctx, r.Client, exp, &exp.Status, status, conditions.StatusManager)
	if err != nil {
		written = nil
	}
	r.echoes.End(kindExposure, key, key, written)
	return err
}

var portFieldRE = regexp.MustCompile(`^spec\.ports\[(\d+)\]\.nodePort$`)

// refusedPorts returns the node ports the API server refused as already allocated.
func refusedPorts(err error, svc *corev1.Service) []int32 {
	var se *apierrors.StatusError
	if !errors.As(err, &se) || !apierrors.IsInvalid(err) || se.ErrStatus.Details == nil {
		return nil
	}
	var out []int32
	for _, c := range se.ErrStatus.Details.Causes {
		if c.Type != metav1.CauseTypeFieldValueInvalid && c.Type != metav1.CauseTypeFieldValueDuplicate {
			continue
		}
		if m := portFieldRE.FindStringSubmatch(c.Field); m != nil {
			if i, _ := strconv.Atoi(m[1]); i < len(svc.Spec.Ports) {
				out = append(out, svc.Spec.Ports[i].NodePort)
			}
		}
	}
	return out
}

func recordedPort(recorded map[string]int32) func(int32) bool {
	return func(p int32) bool {
		for _, r := range recorded {
			if r == p {
				return true
			}
		}
		return false
	}
}

func statusPorts(np *exposurev1alpha1.NodePorts) map[string]int32 {
	out := map[string]int32{}
	if np == nil {
		return out
	}
	for k, v := range map[string]int32{allocator.PortHTTP: np.HTTP, allocator.PortGRPC: np.GRPC, allocator.PortMetrics: np.Metrics} {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func toStatusPorts(m map[string]int32) *exposurev1alpha1.NodePorts {
	return &exposurev1alpha1.NodePorts{HTTP: m[allocator.PortHTTP], GRPC: m[allocator.PortGRPC], Metrics: m[allocator.PortMetrics]}
}

// interimPorts is ports with each refused port replaced by the node port the live Service
// (current, by port name) holds under that name. ok is false when a refused port has none to
// fall back on, or when nothing is refused.
func interimPorts(ports, current map[string]int32, refused []int32) (map[string]int32, bool) {
	out := make(map[string]int32, len(ports))
	replaced := false
	for name, p := range ports {
		out[name] = p
		if !slices.Contains(refused, p) {
			continue
		}
		if c := current[name]; c == 0 || slices.Contains(refused, c) {
			return nil, false
		}
		out[name] = current[name]
		replaced = true
	}
	if !replaced {
		return nil, false
	}
	return out, true
}

// joinPorts lists node ports for a message: "30801, 30802".
func joinPorts(ports []int32) string {
	s := make([]string, len(ports))
	for i, p := range ports {
		s[i] = strconv.Itoa(int(p))
	}
	return strings.Join(s, ", ")
}

func formatPorts(m map[string]int32) string {
	s := ""
	for _, n := range []string{allocator.PortHTTP, allocator.PortGRPC, allocator.PortMetrics} {
		if p, ok := m[n]; ok {
			if s != "" {
				s += " "
			}
			s += fmt.Sprintf("%s=%d", n, p)
		}
	}
	return s
}

// SetupWithManager registers the exposure controller. It owns Services and the routing
// objects of every routing API the cluster serves, and follows tenants: a tenant's change
// (block, namespaces, hostDomain, deletion) re-queues the exposures of its namespaces. Routing
// APIs that appear later (CRDs installed after start) get their watch then, and every
// exposure is looked at again so that Auto can move to them.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.watched = map[schema.GroupVersionKind]bool{}
	r.rescan = make(chan event.GenericEvent, 1024)
	r.foreign = newForeignHosts(func(hosts []string) { r.hostReleased(context.Background(), hosts) })
	b := ctrl.NewControllerManagedBy(mgr).
		For(&exposurev1alpha1.InferenceExposure{}, builder.WithPredicates(r.echoes.NotEcho(kindExposure), r.fresh.observe())).
		Watches(&corev1.Service{}, enqueueControllingExposure, builder.WithPredicates(r.echoes.NotEcho(kindService))).
		Watches(&exposurev1alpha1.InferenceTenant{}, handler.EnqueueRequestsFromMapFunc(r.exposuresOfTenant), builder.WithPredicates(predicate.Funcs{UpdateFunc: tenantChangedForExposures})).
		// An exposure that lost a host conflict gets its chance when an exposure on its host changes.
		Watches(&exposurev1alpha1.InferenceExposure{}, r.hostConflictLosers()).
		WatchesRawSource(source.Channel(r.rescan, &handler.EnqueueRequestForObject{}))
	if r.Ports != nil && r.Ports.Freed() != nil {
		// Ports given back wake the exposures waiting in a full block.
		b = b.WatchesRawSource(source.Channel(r.Ports.Freed(), r.blockFullWaiters()))
	}
	c, err := b.
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrent}).
		Named("inferenceexposure").
		Build(r)
	if err != nil {
		return err
	}
	r.watchMu.Lock()
	r.controller = c
	r.watchMu.Unlock()
	for _, kind := range router.Kinds() {
		if r.APIs.Served(kind.GVK()) {
			if err := r.watchRouting(mgr, kind); err != nil {
				return err
			}
		}
	}
	if err := r.watchPodMonitors(mgr); err != nil {
		return err
	}
	if err := r.watchListenerSets(mgr); err != nil {
		return err
	}
	r.APIs.OnChange(func(gvk schema.GroupVersionKind, served bool) {
		if gvk == podmonitor.GVK && served {
			if err := r.watchPodMonitors(mgr); err != nil {
				mgr.GetLogger().Error(err, "watching PodMonitors")
			}
		}
		if gvk == tenantgateway.GVK && served {
			if err := r.watchListenerSets(mgr); err != nil {
				mgr.GetLogger().Error(err, "watching ListenerSets")
			}
		}
		if kind, err := router.KindFor(gvk); err == nil && served {
			if err := r.watchRouting(mgr, kind); err != nil {
				mgr.GetLogger().Error(err, "watching routing objects", "kind", gvk.Kind)
			}
		}
		r.requeueAll(context.Background())
	})
	return nil
}

// watchRouting watches the routing objects of one kind that exposures own, once.
func (r *Reconciler) watchRouting(mgr ctrl.Manager, kind router.Kind) error {
	gvk := kind.GVK()
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if r.watched[gvk] {
		return nil
	}
	src := source.Kind(mgr.GetCache(), kind.New(), enqueueControllingExposure, r.echoes.NotEcho(gvk.Kind))
	if err := r.controller.Watch(src); err != nil {
		return fmt.Errorf("watching %s: %w", gvk.Kind, err)
	}
	r.watched[gvk] = true
	// The view of foreign hosts follows the kind's informer once the manager runs: getting the
	// informer at setup made the cache start it early and cost 6 % more reconciles in a create
	// burst.
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		inf, err := mgr.GetCache().GetInformer(ctx, kind.New())
		if err != nil {
			return fmt.Errorf("the %s informer: %w", gvk.Kind, err)
		}
		if _, err := inf.AddEventHandler(r.foreign.handler(gvk.Kind)); err != nil {
			return fmt.Errorf("following the hosts of %s objects: %w", gvk.Kind, err)
		}
		return nil
	}))
}

// hostLosers are the exposures that lost a host conflict on a host of key (none when the
// cache cannot say: the next event on the host asks again).
func (r *Reconciler) hostLosers(ctx context.Context, key string) []types.NamespacedName {
	losers, err := kubecache.IndexedKeys[*exposurev1alpha1.InferenceExposure](ctx, r.Cache, r.Client, &exposurev1alpha1.InferenceExposureList{}, kubecache.IndexExposureHostLoser, key)
	if err != nil {
		return nil
	}
	return losers
}

// hostReleased re-queues the exposures that lost a host conflict on hosts a routing object
// no exposure controls stopped serving.
func (r *Reconciler) hostReleased(ctx context.Context, hosts []string) {
	seen := map[string]bool{}
	for _, h := range hosts {
		k := router.HostKeyOf(h)
		if seen[k] {
			continue
		}
		seen[k] = true
		for _, l := range r.hostLosers(ctx, k) {
			e := &exposurev1alpha1.InferenceExposure{}
			e.Namespace, e.Name = l.Namespace, l.Name
			select {
			case r.rescan <- event.GenericEvent{Object: e}:
			default: // a burst of rescans already queued
			}
		}
	}
}

// requeueAll queues every exposure again.
func (r *Reconciler) requeueAll(ctx context.Context) {
	var el exposurev1alpha1.InferenceExposureList
	if err := r.List(ctx, &el); err != nil {
		return
	}
	for i := range el.Items {
		select {
		case r.rescan <- event.GenericEvent{Object: &el.Items[i]}:
		default: // the queue is full of rescans already
		}
	}
}

// hostConflictLosers re-queues the exposures that lost a host conflict on a host the changed
// exposure routes (before or after the change): its change may free the host. Looked up by
// index, so an exposure event costs the same whatever the cluster's size.
func (r *Reconciler) hostConflictLosers() handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], objs ...client.Object) {
		seen := map[string]bool{}
		for _, o := range objs {
			e, ok := o.(*exposurev1alpha1.InferenceExposure)
			if !ok {
				continue
			}
			for _, k := range router.HostKeys(e) {
				if seen[k] {
					continue
				}
				seen[k] = true
				for _, l := range r.hostLosers(ctx, k) {
					if l.Namespace != e.Namespace || l.Name != e.Name {
						q.Add(reconcile.Request{NamespacedName: l})
					}
				}
			}
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, ev event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, ev.Object)
		},
		UpdateFunc: func(ctx context.Context, ev event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, ev.ObjectOld, ev.ObjectNew)
		},
		DeleteFunc: func(ctx context.Context, ev event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, ev.Object)
		},
	}
}

// summarizeExposure sets Ready. It covers what the operator controls (tenant, ports, Service,
// routing objects); a routing object that its own controller rejected (Route not admitted,
// HTTPRoute not accepted) also turns it False, while one nobody has looked at yet does not.
func summarizeExposure(exp *exposurev1alpha1.InferenceExposure, status *exposurev1alpha1.InferenceExposureStatus) {
	kinds := []string{exposurev1alpha1.ConditionTenantResolved, exposurev1alpha1.ConditionPortsAllocated, exposurev1alpha1.ConditionServiceReady}
	if meta.FindStatusCondition(status.Conditions, exposurev1alpha1.ConditionRouted) != nil {
		kinds = append(kinds, exposurev1alpha1.ConditionRouted)
	}
	// The data plane's word on every routing object: Ready waits for it.
	for _, c := range router.Conditions()[1:] {
		if meta.FindStatusCondition(status.Conditions, c) != nil {
			kinds = append(kinds, c)
		}
	}
	conditions.Summarize(&status.Conditions, exp.Generation, kinds...)
}

func (r *Reconciler) exposuresOfTenant(ctx context.Context, o client.Object) []reconcile.Request {
	t := o.(*exposurev1alpha1.InferenceTenant)
	namespaces := map[string]bool{}
	for _, ns := range append(append([]string(nil), t.Spec.Namespaces...), t.Status.Namespaces...) {
		namespaces[ns] = true
	}
	// A tenant whose hostDomain lies inside other tenants' takes hosts from them: their
	// exposures are decided again too.
	if d := t.Spec.HostDomain; d != "" {
		if tenants, err := kubecache.Objects[*exposurev1alpha1.InferenceTenant](ctx, r.Cache, r.Client, &exposurev1alpha1.InferenceTenantList{}); err == nil {
			for _, o := range tenants {
				if o.Name != t.Name && o.Spec.HostDomain != "" && strings.HasSuffix(d, "."+o.Spec.HostDomain) {
					for _, ns := range o.Status.Namespaces {
						namespaces[ns] = true
					}
				}
			}
		}
	}
	var out []reconcile.Request
	for ns := range namespaces {
		var el exposurev1alpha1.InferenceExposureList
		if err := r.List(ctx, &el, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
			continue
		}
		for _, e := range el.Items {
			out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Namespace: e.Namespace, Name: e.Name}})
		}
	}
	return out
}

// blockFullWaiters re-queues the exposures waiting in a full block when a Service gave ports
// back (deleted, or its ports changed; sent by the node-port view once it shows them free):
// those of the Service's tenant and of the tenants whose blocks held its ports.
func (r *Reconciler) blockFullWaiters() handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], svc *corev1.Service) {
		tenants := map[string]bool{}
		kubecache.TenantsOfService(ctx, r.Cache, r.Client, svc, tenants)
		for t := range tenants {
			waiting, err := kubecache.IndexedKeys[*exposurev1alpha1.InferenceExposure](ctx, r.Cache, r.Client, &exposurev1alpha1.InferenceExposureList{}, kubecache.IndexExposureBlockFull, t)
			if err != nil {
				continue
			}
			for _, w := range waiting {
				q.Add(reconcile.Request{NamespacedName: w})
			}
		}
	}
	return handler.Funcs{
		GenericFunc: func(ctx context.Context, ev event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if svc, ok := ev.Object.(*corev1.Service); ok {
				enqueue(ctx, q, svc)
			}
		},
	}
}

// tenantChangedForExposures lets through the tenant updates that can change an exposure: its
// spec (namespaces, hostDomain), its block, the namespaces it owns, the block's condition
// (exposures repeat its message) and deletion. Usage figures do not: they change with every
// Service, and re-queueing every exposure of the tenant each time made reconciles quadratic.
func tenantChangedForExposures(e event.UpdateEvent) bool {
	a, okA := e.ObjectOld.(*exposurev1alpha1.InferenceTenant)
	b, okB := e.ObjectNew.(*exposurev1alpha1.InferenceTenant)
	if !okA || !okB {
		return true
	}
	block := func(t *exposurev1alpha1.InferenceTenant) string {
		c := meta.FindStatusCondition(t.Status.Conditions, exposurev1alpha1.ConditionBlockAllocated)
		if c == nil {
			return ""
		}
		return string(c.Status) + c.Reason + c.Message
	}
	return a.Generation != b.Generation || a.DeletionTimestamp.IsZero() != b.DeletionTimestamp.IsZero() ||
		!equality.Semantic.DeepEqual(a.Status.PortBlock, b.Status.PortBlock) ||
		!slices.Equal(a.Status.Namespaces, b.Status.Namespaces) || block(a) != block(b)
}
