package tenant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
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
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
	"github.com/inference-exposure/inference-exposure-operator/internal/conditions"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/metrics"
	"github.com/inference-exposure/inference-exposure-operator/internal/phases"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/tenantgateway"
	"github.com/inference-exposure/inference-exposure-operator/internal/servedapis"
	"github.com/inference-exposure/inference-exposure-operator/internal/tenancy"
)

// errRaceLost means every candidate block went to racing tenants; the reconcile is retried.
var errRaceLost = errors.New("every free block was claimed concurrently")

// Reconciler gives every InferenceTenant its port block and reports its usage.
type Reconciler struct {
	client.Client
	// APIReader reads straight from the API server: used to tell who holds a claim that the
	// cache has not seen yet.
	APIReader client.Reader
	Recorder  record.EventRecorder
	// Ports says which Service holds which node port, from the cache.
	Ports *kubecache.NodePortView
	// Cache answers index lookups that only want names without copying objects.
	Cache cache.Informers
	// Pool is the operator's node port range, from which blocks are given.
	Pool allocator.Pool
	// DefaultBlockSize is the size of a block for a tenant that asks for none.
	DefaultBlockSize int32
	// MaxConcurrent is how many tenants are reconciled at once.
	MaxConcurrent int
	// HAProxy says whether the operator renders the HAProxy configuration: a tenant with an
	// HAProxy section is Ready only once its part is rendered.
	HAProxy bool

	// APIs says whether the ListenerSet API is served (tenants' spec.gateway).
	APIs *servedapis.APIs

	// paces space the writes of usage figures during a burst of Service changes.
	paces usagePaces

	watchMu             sync.Mutex
	controller          controller.Controller
	listenerSetsWatched bool
}

// +kubebuilder:rbac:groups=exposure.inference.dev,resources=inferencetenants,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=exposure.inference.dev,resources=inferencetenants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=exposure.inference.dev,resources=inferencetenants/finalizers,verbs=update
// +kubebuilder:rbac:groups=exposure.inference.dev,resources=portclaims,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=services,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile allocates or keeps the tenant's block, releases it on deletion, and writes status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	tenant := &exposurev1alpha1.InferenceTenant{}
	if err := r.Get(ctx, req.NamespacedName, tenant); err != nil {
		if apierrors.IsNotFound(err) {
			r.paces.forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !tenant.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, tenant)
	}
	if !controllerutil.ContainsFinalizer(tenant, exposurev1alpha1.TenantFinalizer) {
		patch := client.MergeFrom(tenant.DeepCopy())
		controllerutil.AddFinalizer(tenant, exposurev1alpha1.TenantFinalizer)
		if err := r.Patch(ctx, tenant, patch, client.FieldOwner(exposurev1alpha1.FieldManager)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}

	s := &tenantScope{tenant: tenant, status: tenant.Status.DeepCopy()}
	s.conds = conditions.For(ctx, r.Recorder, tenant, &s.status.Conditions, tenant.Generation)
	result, err := phases.Run(ctx, s, r.phases(), func(s *tenantScope) bool { return s.retry })
	if err != nil || s.retry {
		return result, err
	}
	return r.writeStatus(ctx, s)
}

// tenantScope is what the phases of one tenant reconcile share.
type tenantScope struct {
	tenant *exposurev1alpha1.InferenceTenant
	status *exposurev1alpha1.InferenceTenantStatus
	conds  conditions.Set
	// owned are the namespaces the tenant owns (namespaces phase); block is its port block
	// once held (block phase).
	owned map[string]bool
	block *allocator.Range
	// retry ends the reconcile without a status write: it lost a race and looks again.
	retry bool
}

// phases are the tenant reconcile, in order; the status is written after them.
func (r *Reconciler) phases() []phases.Phase[*tenantScope] {
	return []phases.Phase[*tenantScope]{
		{Name: "checking the host domain", Run: r.reconcileHostDomain},
		{Name: "keeping the namespaces exclusive", Run: r.reconcileNamespaces},
		{Name: "allocating the port block", Run: r.blockPhase},
		{Name: "counting the block's usage", Run: r.usagePhase},
		{Name: "putting the tenant's listeners on its Gateway", Run: r.reconcileGateway},
	}
}

// blockPhase claims or keeps the tenant's block and says how it is held.
func (r *Reconciler) blockPhase(ctx context.Context, s *tenantScope) (ctrl.Result, error) {
	block, moved, err := r.reconcileBlock(ctx, s.tenant, s.owned)
	var userErr *allocator.Error
	switch {
	case err == nil:
		s.block = &block
		s.status.PortBlock = &exposurev1alpha1.PortBlockStatus{Start: block.Start, End: block.End, Size: block.Size()}
		prev := meta.FindStatusCondition(s.status.Conditions, exposurev1alpha1.ConditionBlockAllocated)
		reason, msg := blockHeld(s.tenant.Status.PortBlock, prev, block, moved, r.Pool)
		if reason != exposurev1alpha1.ReasonBlockAllocated && (prev == nil || prev.Reason != reason) {
			r.Recorder.Event(s.tenant, corev1.EventTypeWarning, reason, msg)
		}
		s.conds.True(exposurev1alpha1.ConditionBlockAllocated, reason, msg)
	case errors.As(err, &userErr):
		s.conds.Failed(exposurev1alpha1.ConditionBlockAllocated, string(userErr.Reason), userErr.Message)
	case errors.Is(err, errRaceLost):
		s.retry = true
		return ctrl.Result{RequeueAfter: conditions.ConflictRetry}, nil
	default:
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// blockHeld is the reason and message of a held block: moved off a block another tenant holds
// part of (and kept on record while the block stays the one moved to), outside the operator's
// node port range, or plainly allocated.
func blockHeld(recorded *exposurev1alpha1.PortBlockStatus, prev *metav1.Condition, block allocator.Range, movedFrom string, pool allocator.Pool) (reason, msg string) {
	switch {
	case movedFrom == "" && prev != nil && prev.Reason == exposurev1alpha1.ReasonBlockMoved && recorded != nil && recorded.Start == block.Start:
		return prev.Reason, prev.Message
	case movedFrom != "":
		return exposurev1alpha1.ReasonBlockMoved, fmt.Sprintf("tenant holds node ports %s; it moved there because tenant %q holds part of its earlier block, and its exposures keep the node ports they hold", block, movedFrom)
	case !pool.Contains(block.Start) || !pool.Contains(block.End):
		return exposurev1alpha1.ReasonBlockOutsidePool, fmt.Sprintf("tenant holds node ports %s, outside the operator's node port range %s (--node-port-range changed); the block is kept and its exposures keep their ports, new tenants get blocks from the range", block, pool.Range)
	}
	return exposurev1alpha1.ReasonBlockAllocated, fmt.Sprintf("tenant holds node ports %s", block)
}

// usagePhase counts the block's ports used by the tenant's exposures, free, and held by others.
func (r *Reconciler) usagePhase(_ context.Context, s *tenantScope) (ctrl.Result, error) {
	if s.block == nil {
		s.status.PortBlock, s.status.PortsUsed, s.status.PortsFree, s.status.ForeignPorts = nil, 0, 0, nil
		return ctrl.Result{}, nil
	}
	used, foreign := r.usage(*s.block, s.owned)
	s.status.PortsUsed = int32(used)
	s.status.ForeignPorts = foreign
	s.status.PortsFree = s.block.Size() - int32(used) - int32(len(foreign))
	metrics.SetBlock(s.tenant.Name, used, int(s.status.PortsFree), len(foreign))
	return ctrl.Result{}, nil
}

// writeStatus summarises and writes the status once; a change of the usage figures alone
// waits for the pace of a burst.
func (r *Reconciler) writeStatus(ctx context.Context, s *tenantScope) (ctrl.Result, error) {
	tenant, status, gen := s.tenant, s.status, s.tenant.Generation
	conditions.Summarize(&status.Conditions, gen, r.readyTypes(tenant)...)
	status.ObservedGeneration = gen
	now := time.Now()
	if onlyUsageDiffers(&tenant.Status, status) {
		if wait := r.paces.wait(tenant.Name, now); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil // the figures go out with the burst's next write
		}
	}
	if err := conditions.ApplyStatus(ctx, r.Client, tenant, &tenant.Status, status, conditions.StatusManager); apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: conditions.ConflictRetry}, nil // the tenant was recreated meanwhile: recompute
	} else if err != nil {
		return ctrl.Result{}, err
	}
	if usageDiffers(&tenant.Status, status) {
		r.paces.wrote(tenant.Name, now)
	}
	return ctrl.Result{}, nil
}

// readyTypes are the conditions Ready summarises: HAProxyConfigured too when the tenant asks
// for HAProxy frontends and this operator renders them.
func (r *Reconciler) readyTypes(tenant *exposurev1alpha1.InferenceTenant) []string {
	types := []string{exposurev1alpha1.ConditionBlockAllocated, exposurev1alpha1.ConditionNamespacesExclusive}
	if tenant.Spec.HostDomain != "" {
		types = append(types, exposurev1alpha1.ConditionHostDomainExclusive)
	}
	if tenant.Spec.HAProxy != nil && r.HAProxy {
		types = append(types, exposurev1alpha1.ConditionHAProxyConfigured)
	}
	if tenant.Spec.Gateway != nil {
		types = append(types, exposurev1alpha1.ConditionGatewayListenersReady)
	}
	return types
}

// ownClaims returns the claims the tenant holds, from the cache without copies.
func (r *Reconciler) ownClaims(ctx context.Context, tenant *exposurev1alpha1.InferenceTenant) ([]exposurev1alpha1.PortClaim, error) {
	var cl exposurev1alpha1.PortClaimList
	if err := r.List(ctx, &cl, client.MatchingFields{kubecache.IndexClaimTenantUID: string(tenant.UID)}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing port claims: %w", err)
	}
	return cl.Items, nil
}

// reconcileHostDomain reports a hostDomain this tenant shares with others, on every side: the
// hosts under it would go to whichever exposure came first, of any of them.
func (r *Reconciler) reconcileHostDomain(ctx context.Context, s *tenantScope) (ctrl.Result, error) {
	tenant, conds := s.tenant, s.conds
	d := tenant.Spec.HostDomain
	if d == "" {
		conds.Remove(exposurev1alpha1.ConditionHostDomainExclusive)
		return ctrl.Result{}, nil
	}
	var tl exposurev1alpha1.InferenceTenantList
	if err := r.List(ctx, &tl, client.MatchingFields{kubecache.IndexTenantHostDomain: d}, client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing tenants: %w", err)
	}
	var others []string
	for _, t := range tl.Items {
		if t.Name != tenant.Name && t.DeletionTimestamp.IsZero() {
			others = append(others, t.Name)
		}
	}
	if len(others) == 0 {
		conds.True(exposurev1alpha1.ConditionHostDomainExclusive, exposurev1alpha1.ReasonHostDomainExclusive, "no other tenant has this hostDomain")
		return ctrl.Result{}, nil
	}
	conds.Failed(exposurev1alpha1.ConditionHostDomainExclusive, exposurev1alpha1.ReasonHostDomainShared, fmt.Sprintf(
		"hostDomain %q is also the hostDomain of tenant(s) %s: a host under it goes to whichever of their exposures routes it first; give each tenant a domain of its own (one may lie inside the other)",
		d, conditions.JoinSorted(others)))
	return ctrl.Result{}, nil
}

// reconcileNamespaces reports namespaces this tenant shares with others, on both sides.
func (r *Reconciler) reconcileNamespaces(ctx context.Context, s *tenantScope) (ctrl.Result, error) {
	tenant, conds := s.tenant, s.conds
	var owned, problems []string
	for _, ns := range tenant.Spec.Namespaces {
		var tl exposurev1alpha1.InferenceTenantList
		if err := r.List(ctx, &tl, client.MatchingFields{kubecache.IndexTenantNamespace: ns}, client.UnsafeDisableDeepCopy); err != nil {
			return ctrl.Result{}, fmt.Errorf("listing tenants: %w", err)
		}
		c := tenancy.Owners(tl.Items)[ns]
		if c == nil {
			continue
		}
		if c.Owner.Name == tenant.Name {
			owned = append(owned, ns)
			if len(c.Others) > 0 {
				problems = append(problems, fmt.Sprintf("namespace %q is also listed by tenant(s) %s; it stays with this tenant", ns, conditions.JoinSorted(c.Others)))
			}
			continue
		}
		problems = append(problems, fmt.Sprintf("namespace %q already belongs to the older tenant %q; remove it from one of the two", ns, c.Owner.Name))
	}
	sort.Strings(owned)
	s.status.Namespaces = owned
	s.owned = setOf(owned)
	if len(problems) == 0 {
		conds.True(exposurev1alpha1.ConditionNamespacesExclusive, exposurev1alpha1.ReasonNamespacesExclusive, "no other tenant lists this tenant's namespaces")
		return ctrl.Result{}, nil
	}
	conds.Failed(exposurev1alpha1.ConditionNamespacesExclusive, exposurev1alpha1.ReasonNamespaceConflict, strings.Join(problems, "; "))
	return ctrl.Result{}, nil
}

// reconcileBlock returns the block the tenant holds, claiming one when it holds none. The
// block a tenant got is its record (status.portBlock): its size is kept when the default size
// flag changes, a lost PortClaim is claimed back in place, and a narrowed pool does not move it.
// It moves only when another tenant really holds part of it; moved names that tenant.
func (r *Reconciler) reconcileBlock(ctx context.Context, tenant *exposurev1alpha1.InferenceTenant, owned map[string]bool) (block allocator.Range, moved string, err error) {
	req := allocator.BlockRequest{Size: r.DefaultBlockSize}
	recorded := tenant.Status.PortBlock
	if recorded != nil {
		req.Size = recorded.Size
	}
	if pb := tenant.Spec.PortBlock; pb != nil {
		if pb.Size != nil {
			req.Size = *pb.Size
		}
		req.Start = pb.Start
	}
	claims, err := r.ownClaims(ctx, tenant)
	if err != nil {
		return allocator.Range{}, "", err
	}
	own := make([]allocator.Range, 0, len(claims))
	for i := range claims {
		own = append(own, claimRange(&claims[i]))
	}

	// Keep a block the tenant already holds: after a restart this is the only path taken,
	// and it writes nothing.
	var keep *allocator.Range
	for _, run := range allocator.Runs(own) {
		if run.Size() != req.Size || (req.Start != nil && run.Start != *req.Start) {
			continue
		}
		run := run
		if keep == nil || (recorded != nil && run.Start == recorded.Start) {
			keep = &run
		}
	}
	if keep != nil && (recorded == nil || keep.Start == recorded.Start || !claimable(recorded, req)) {
		return *keep, "", r.releaseExtra(ctx, claims, *keep, owned)
	}

	log := logf.FromContext(ctx)
	// The recorded block first, exactly: a claim lost (deleted by hand, by a backup restore)
	// is taken back, and no live port moves.
	if recorded != nil && claimable(recorded, req) {
		rb := allocator.Range{Start: recorded.Start, End: recorded.End}
		ok, made, holder, err := r.claim(ctx, tenant, rb)
		if err != nil {
			return allocator.Range{}, "", err
		}
		if ok {
			// Only a claim created now was lost: the others were the tenant's, which this
			// cache may not show yet right after the block was taken.
			if made {
				log.Info("claimed the recorded port block back", "block", rb.String())
				r.Recorder.Eventf(tenant, corev1.EventTypeNormal, "BlockReclaimed", "claimed node ports %s back: a PortClaim of the block had been deleted", rb)
			}
			return rb, "", r.releaseExtra(ctx, claims, rb, owned)
		}
		if holder == "" {
			return allocator.Range{}, "", errRaceLost // released meanwhile: look again
		}
		moved = holder
		if req.Start != nil {
			return allocator.Range{}, "", pinnedTaken(rb, holder)
		}
	}

	// A new block: only now is the whole pool looked at (every claim, every Service's ports).
	var cl exposurev1alpha1.PortClaimList
	if err := r.List(ctx, &cl, client.UnsafeDisableDeepCopy); err != nil {
		return allocator.Range{}, "", fmt.Errorf("listing port claims: %w", err)
	}
	var taken []allocator.Range
	for i := range cl.Items {
		if cl.Items[i].Spec.TenantUID != string(tenant.UID) {
			taken = append(taken, claimRange(&cl.Items[i]))
		}
	}
	cands, err := r.Pool.Candidates(req, taken, r.Ports.Foreign(owned))
	var ae *allocator.Error
	if errors.As(err, &ae) && ae.Reason == allocator.ReasonPinnedTaken {
		b := allocator.Range{Start: *req.Start, End: *req.Start + req.Size - 1}
		return allocator.Range{}, "", pinnedTaken(b, holderOf(cl.Items, b, tenant.UID))
	}
	if err != nil {
		return allocator.Range{}, "", err
	}
	for _, c := range cands {
		ok, made, holder, err := r.claim(ctx, tenant, c)
		if err != nil {
			return allocator.Range{}, "", err
		}
		if ok && !made {
			// Every claim of the block was the tenant's already: an earlier reconcile took it,
			// and neither its claims nor its status had reached this cache. That one said so.
			return c, moved, r.releaseExtra(ctx, claims, c, owned)
		}
		if ok {
			log.Info("claimed port block", "block", c.String())
			if moved != "" {
				r.Recorder.Eventf(tenant, corev1.EventTypeWarning, "BlockMoved",
					"the recorded block %d-%d is now held in part by tenant %q, so the tenant moved to %s; exposures keep the node ports they hold", recorded.Start, recorded.End, moved, c)
			} else {
				r.Recorder.Eventf(tenant, corev1.EventTypeNormal, "BlockAllocated", "claimed node ports %s", c)
			}
			return c, moved, r.releaseExtra(ctx, claims, c, owned)
		}
		if req.Start != nil && holder != "" {
			return allocator.Range{}, "", pinnedTaken(c, holder)
		}
	}
	// Every candidate was taken by a racing tenant that the cache had not shown yet.
	return allocator.Range{}, "", errRaceLost
}

// claimable reports whether the recorded block still answers the request (same size, same pin).
func claimable(recorded *exposurev1alpha1.PortBlockStatus, req allocator.BlockRequest) bool {
	return recorded.Size == req.Size && recorded.End-recorded.Start+1 == recorded.Size && (req.Start == nil || *req.Start == recorded.Start)
}

// pinnedTaken is the error of a pinned block held by another tenant. portBlock is immutable,
// so the advice is to recreate this tenant or free the other one's block.
func pinnedTaken(b allocator.Range, holder string) *allocator.Error {
	who := "another tenant"
	if holder != "" {
		who = fmt.Sprintf("tenant %q", holder)
	}
	return &allocator.Error{Reason: allocator.ReasonPinnedTaken, Message: fmt.Sprintf(
		"pinned block %s is held in part by %s; portBlock cannot be changed: delete and recreate this tenant with a free portBlock.start (or without one), or delete %s to free the block", b, who, who)}
}

// holderOf names the tenant, other than self, whose claims overlap b.
func holderOf(claims []exposurev1alpha1.PortClaim, b allocator.Range, self types.UID) string {
	for i := range claims {
		if claims[i].Spec.TenantUID != string(self) && claimRange(&claims[i]).Overlaps(b) {
			return claims[i].Spec.Tenant
		}
	}
	return ""
}

// claim takes the block by creating its granules' PortClaims in ascending order. Creation is
// the lock: AlreadyExists from another tenant's claim means the block is taken, and the claims
// made by this attempt are removed again.
// holder names the tenant holding the claim that stopped it ("" when that claim was released
// meanwhile); made tells whether this call created any claim (the others were the tenant's
// already).
func (r *Reconciler) claim(ctx context.Context, tenant *exposurev1alpha1.InferenceTenant, block allocator.Range) (ok, made bool, holder string, err error) {
	var created []*exposurev1alpha1.PortClaim
	rollback := func() error {
		for _, c := range created {
			if err := r.Delete(ctx, c, client.Preconditions{UID: &c.UID}); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("releasing %s after losing a race: %w", c.Name, err)
			}
		}
		return nil
	}
	for _, g := range allocator.Granules(block) {
		pc := &exposurev1alpha1.PortClaim{
			ObjectMeta: metav1.ObjectMeta{
				Name: allocator.GranuleName(g),
				Labels: map[string]string{
					exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue,
					exposurev1alpha1.LabelTenant:    tenant.Name,
				},
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: exposurev1alpha1.GroupVersion.String(), Kind: "InferenceTenant",
					Name: tenant.Name, UID: tenant.UID, BlockOwnerDeletion: ptr.To(true),
				}},
			},
			Spec: exposurev1alpha1.PortClaimSpec{Tenant: tenant.Name, TenantUID: string(tenant.UID), Start: g.Start, End: g.End},
		}
		err := r.Create(ctx, pc, client.FieldOwner(exposurev1alpha1.FieldManager))
		if err == nil {
			created = append(created, pc)
			continue
		}
		if !apierrors.IsAlreadyExists(err) {
			return false, false, "", errors.Join(fmt.Errorf("claiming %s: %w", pc.Name, err), rollback())
		}
		existing := &exposurev1alpha1.PortClaim{}
		if err := r.APIReader.Get(ctx, types.NamespacedName{Name: pc.Name}, existing); apierrors.IsNotFound(err) {
			return false, false, "", rollback() // released meanwhile: the next reconcile sees a fresh picture
		} else if err != nil {
			return false, false, "", errors.Join(fmt.Errorf("reading claim %s: %w", pc.Name, err), rollback())
		}
		if existing.Spec.TenantUID == string(tenant.UID) {
			continue // ours from an earlier, interrupted attempt
		}
		return false, false, existing.Spec.Tenant, rollback()
	}
	return true, len(created) > 0, "", nil
}

// releaseExtra drops claims the tenant holds outside its block (left by an interrupted
// allocation or by two operators racing) unless a Service still holds a port in them.
func (r *Reconciler) releaseExtra(ctx context.Context, claims []exposurev1alpha1.PortClaim, block allocator.Range, owned map[string]bool) error {
	for i := range claims {
		g := claimRange(&claims[i])
		if block.Overlaps(g) || r.rangeInUse(g, owned) {
			continue
		}
		// The UID precondition: a stale cache never deletes a claim someone else just took.
		uid := claims[i].UID
		pc := &exposurev1alpha1.PortClaim{ObjectMeta: metav1.ObjectMeta{Name: claims[i].Name}}
		if err := r.Delete(ctx, pc, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return fmt.Errorf("releasing stray claim %s: %w", pc.Name, err)
		}
	}
	return nil
}

// finalize releases the tenant's claims once none of its Services holds a port in them.
func (r *Reconciler) finalize(ctx context.Context, tenant *exposurev1alpha1.InferenceTenant) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(tenant, exposurev1alpha1.TenantFinalizer) {
		return ctrl.Result{}, nil
	}
	claims, err := r.ownClaims(ctx, tenant)
	if err != nil {
		return ctrl.Result{}, err
	}
	// The Services of the tenant's exposures (by namespace and controller, not by label) that
	// still hold a port of its claims.
	owned := setOf(tenant.Status.Namespaces)
	seen := map[types.NamespacedName]bool{}
	var holders []string
	for i := range claims {
		r.Ports.InRange(claimRange(&claims[i]), func(_ int32, h kubecache.PortHolder) {
			if h.OwnedBy(owned) && !seen[h.Key] {
				seen[h.Key] = true
				holders = append(holders, h.Key.String())
			}
		})
	}
	if len(holders) > 0 {
		// Deleting is work in progress: Ready False with what it waits for, Reconciling True,
		// and one Event when it starts waiting.
		status := tenant.Status.DeepCopy()
		gen := tenant.Generation
		msg := fmt.Sprintf("the tenant is being deleted: waiting for Services %s to give back their node ports before its block is released", conditions.JoinSorted(holders))
		if old := meta.FindStatusCondition(status.Conditions, exposurev1alpha1.ConditionReady); old == nil || old.Reason != exposurev1alpha1.ReasonReleasing {
			r.Recorder.Event(tenant, corev1.EventTypeNormal, exposurev1alpha1.ReasonReleasing, msg)
		}
		for _, c := range []struct {
			typ string
			st  metav1.ConditionStatus
		}{
			{exposurev1alpha1.ConditionReady, metav1.ConditionFalse},
			{exposurev1alpha1.ConditionReconciling, metav1.ConditionTrue},
			{exposurev1alpha1.ConditionStalled, metav1.ConditionFalse},
		} {
			meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: c.typ, Status: c.st, Reason: exposurev1alpha1.ReasonReleasing, Message: msg, ObservedGeneration: gen})
		}
		status.ObservedGeneration = gen
		// The Service events that wake this reconcile and the node-port view it reads are
		// separate handlers: look again shortly rather than trust their order.
		err := conditions.ApplyStatus(ctx, r.Client, tenant, &tenant.Status, status, conditions.StatusManager)
		if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			err = nil
		}
		return ctrl.Result{RequeueAfter: time.Second}, err
	}
	for i := range claims {
		c := claims[i].DeepCopy()
		if err := r.Delete(ctx, c, client.Preconditions{UID: &c.UID}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return ctrl.Result{}, fmt.Errorf("releasing %s: %w", c.Name, err)
		}
	}
	if len(claims) > 0 {
		r.Recorder.Eventf(tenant, corev1.EventTypeNormal, "BlockReleased", "released %d port claims", len(claims))
	}
	metrics.ForgetTenant(tenant.Name)
	patch := client.MergeFrom(tenant.DeepCopy())
	controllerutil.RemoveFinalizer(tenant, exposurev1alpha1.TenantFinalizer)
	return ctrl.Result{}, client.IgnoreNotFound(r.Patch(ctx, tenant, patch))
}

// usage splits the ports of block held by Services into this tenant's and foreign ones.
func (r *Reconciler) usage(block allocator.Range, owned map[string]bool) (used int, foreign []int32) {
	r.Ports.InRange(block, func(p int32, h kubecache.PortHolder) { // each held port of the block once
		if h.OwnedBy(owned) {
			used++
		} else {
			foreign = append(foreign, p)
		}
	})
	return used, foreign
}

// rangeInUse reports whether one of the tenant's Services holds a port in g.
func (r *Reconciler) rangeInUse(g allocator.Range, owned map[string]bool) bool {
	inUse := false
	r.Ports.InRange(g, func(_ int32, h kubecache.PortHolder) { inUse = inUse || h.OwnedBy(owned) })
	return inUse
}

func setOf(items []string) map[string]bool {
	out := make(map[string]bool, len(items))
	for _, i := range items {
		out[i] = true
	}
	return out
}

// SetupWithManager registers the tenant controller. Besides tenants it watches PortClaims
// (a claim lost or released), Services (usage and foreign ports) and other tenants (namespace
// conflicts), each mapped to the tenants they concern by index lookups.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	c, err := ctrl.NewControllerManagedBy(mgr).
		For(&exposurev1alpha1.InferenceTenant{}).
		Watches(&exposurev1alpha1.PortClaim{}, handler.EnqueueRequestsFromMapFunc(r.tenantsOfClaim)).
		Watches(&corev1.Service{}, r.serviceUsage()).
		Watches(&exposurev1alpha1.InferenceTenant{}, handler.EnqueueRequestsFromMapFunc(r.tenantsSharingNamespaces)).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.MaxConcurrent}).
		Named("inferencetenant").
		Build(r)
	if err != nil {
		return err
	}
	r.watchMu.Lock()
	r.controller = c
	r.watchMu.Unlock()
	if r.APIs == nil {
		return nil
	}
	if err := r.watchListenerSets(mgr); err != nil {
		return err
	}
	// The ListenerSet API may come later: then watch it (a tenant waiting for it looks again by
	// itself, see reconcileGateway).
	r.APIs.OnChange(func(gvk schema.GroupVersionKind, served bool) {
		if gvk == tenantgateway.GVK && served {
			if err := r.watchListenerSets(mgr); err != nil {
				mgr.GetLogger().Error(err, "watching ListenerSets")
			}
		}
	})
	return nil
}

// tenantsOfClaim maps a claim to its tenant and, since a released claim may be what they wait
// for, to every tenant still without a block.
func (r *Reconciler) tenantsOfClaim(ctx context.Context, o client.Object) []reconcile.Request {
	out := []reconcile.Request{{NamespacedName: types.NamespacedName{Name: o.(*exposurev1alpha1.PortClaim).Spec.Tenant}}}
	pending, err := kubecache.IndexedKeys[*exposurev1alpha1.InferenceTenant](ctx, r.Cache, r.Client, &exposurev1alpha1.InferenceTenantList{}, kubecache.IndexTenantPending, "true")
	if err != nil {
		return out
	}
	for _, t := range pending {
		out = append(out, reconcile.Request{NamespacedName: t})
	}
	return out
}

// serviceUsage maps a Service to the tenants whose figures it changes: the tenant it is
// labelled with and the tenants whose blocks hold its ports. The change is recorded in the
// tenant's usagePace and the request delayed by usageQuiet (the queue keeps one per tenant),
// except for a tenant being deleted, which waits for exactly these Services to go.
func (r *Reconciler) serviceUsage() handler.EventHandler {
	enqueue := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], objs ...client.Object) {
		names := map[string]bool{}
		for _, o := range objs {
			svc, ok := o.(*corev1.Service)
			if !ok {
				continue
			}
			kubecache.TenantsOfService(ctx, r.Cache, r.Client, svc, names)
		}
		now := time.Now()
		for name := range names {
			req := reconcile.Request{NamespacedName: types.NamespacedName{Name: name}}
			t := &exposurev1alpha1.InferenceTenant{}
			// Read-only: only whether the tenant is going away.
			if err := r.Get(ctx, req.NamespacedName, t, client.UnsafeDisableDeepCopy); err == nil && !t.DeletionTimestamp.IsZero() {
				q.Add(req)
				continue
			}
			r.paces.changed(name, now)
			q.AddAfter(req, usageQuiet) // the reconcile then writes, or waits until the figures are due
		}
	}
	return handler.Funcs{
		CreateFunc: func(ctx context.Context, ev event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, ev.Object)
		},
		UpdateFunc: func(ctx context.Context, ev event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if !slices.Equal(kubecache.ServiceNodePorts(ev.ObjectOld.(*corev1.Service)), kubecache.ServiceNodePorts(ev.ObjectNew.(*corev1.Service))) ||
				!equality.Semantic.DeepEqual(ev.ObjectOld.GetLabels(), ev.ObjectNew.GetLabels()) ||
				!equality.Semantic.DeepEqual(ev.ObjectOld.GetOwnerReferences(), ev.ObjectNew.GetOwnerReferences()) {
				enqueue(ctx, q, ev.ObjectOld, ev.ObjectNew)
			}
		},
		DeleteFunc: func(ctx context.Context, ev event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueue(ctx, q, ev.Object)
		},
	}
}

func (r *Reconciler) tenantsSharingNamespaces(ctx context.Context, o client.Object) []reconcile.Request {
	changed := o.(*exposurev1alpha1.InferenceTenant)
	seen := map[string]bool{changed.Name: true}
	var out []reconcile.Request
	lookups := make([][2]string, 0, len(changed.Spec.Namespaces)+1)
	for _, ns := range changed.Spec.Namespaces {
		lookups = append(lookups, [2]string{kubecache.IndexTenantNamespace, ns})
	}
	if d := changed.Spec.HostDomain; d != "" {
		lookups = append(lookups, [2]string{kubecache.IndexTenantHostDomain, d})
	}
	for _, l := range lookups {
		var tl exposurev1alpha1.InferenceTenantList
		if err := r.List(ctx, &tl, client.MatchingFields{l[0]: l[1]}, client.UnsafeDisableDeepCopy); err != nil {
			continue
		}
		for _, t := range tl.Items {
			if !seen[t.Name] {
				seen[t.Name] = true
				out = append(out, reconcile.Request{NamespacedName: types.NamespacedName{Name: t.Name}})
			}
		}
	}
	return out
}

// claimRange reads the range a PortClaim locks.
func claimRange(c *exposurev1alpha1.PortClaim) allocator.Range {
	return allocator.Range{Start: c.Spec.Start, End: c.Spec.End}
}
