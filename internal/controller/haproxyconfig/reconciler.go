package haproxyconfig

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/applycheck"
	"github.com/inference-exposure/inference-exposure-operator/internal/childapply"
	"github.com/inference-exposure/inference-exposure-operator/internal/conditions"
	"github.com/inference-exposure/inference-exposure-operator/internal/kubecache"
	"github.com/inference-exposure/inference-exposure-operator/internal/metrics"
	"github.com/inference-exposure/inference-exposure-operator/internal/phases"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxy"
	"github.com/inference-exposure/inference-exposure-operator/internal/render/haproxyinput"
)

// Settings configure the rendered HAProxy configuration; they come from flags.
type Settings struct {
	// Namespace and Name of the ConfigMap holding the global part; the tenants' parts go to
	// Shards ConfigMaps named <Name>-00, <Name>-01, ...
	Namespace, Name string
	// Shards is the number of tenant ConfigMaps (DefaultShards when zero).
	Shards int
	// BackendNodes selects the nodes gRPC frontends forward to (their NodePorts).
	BackendNodes labels.Selector
	// IngressNodes selects the nodes running the ingress controller.
	IngressNodes labels.Selector
	// BurstInterval spaces the renders of a sustained burst of exposure and tenant changes
	// (DefaultBurstInterval when zero); node changes are never held back by it.
	BurstInterval time.Duration
	haproxy.Globals
}

func (s Settings) burstInterval() time.Duration {
	if s.BurstInterval <= 0 {
		return DefaultBurstInterval
	}
	return s.BurstInterval
}

const (
	// GlobalKey is the key (file name) of the global part in the main ConfigMap. HAProxy loads
	// every *.cfg file of the mounted directory in name order, so it comes first.
	GlobalKey = "00-global.cfg"
	// DefaultShards is how many ConfigMaps the tenants' parts are spread over.
	DefaultShards = 16
	// MaxShards bounds --haproxy-shards.
	MaxShards = 64
	// maxConfigMapData is the API server's limit on a ConfigMap's data (1 MiB).
	maxConfigMapData = 1 << 20
	// coalesce gathers a burst of changes into one render: a node join still reaches the
	// ConfigMaps within about a second, and a thousand exposures created at once cost a
	// write per changed shard per second, not one per exposure.
	coalesce = time.Second
	// DefaultBurstInterval: while exposures keep changing, the configuration is rendered and
	// written every 5 s rather than every second: a render that writes every shard costs the
	// API server an apply per shard.
	DefaultBurstInterval = 5 * time.Second
	// renderShare bounds the time spent rendering during a burst: the renders are spaced by
	// at least renderShare times the last one's duration (writes included), so that rendering
	// takes at most a twentieth of the time...
	renderShare = 20
	// ... up to maxBurstInterval, the longest a change waits for its render during a burst:
	// the last change of a burst is in the ConfigMaps, and the work queue empty, within
	// about 10 s.
	maxBurstInterval = 8 * time.Second
	// refusedRetry is how often a ConfigMap that could not be written is tried again.
	refusedRetry = 30 * time.Second
)

// ShardName is the name of the ConfigMap holding shard i.
func ShardName(base string, i int) string { return fmt.Sprintf("%s-%02d", base, i) }

// ShardKey is the key (file name) of shard i in its ConfigMap.
func ShardKey(i int) string { return fmt.Sprintf("shard-%02d.cfg", i) }

// ShardOf is the shard a tenant's part lives in: a hash of its name, so that a tenant stays in
// its file as others come and go.
func ShardOf(tenant string, shards int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(tenant))
	return int(h.Sum32() % uint32(shards))
}

func (s Settings) shards() int {
	if s.Shards <= 0 {
		return DefaultShards
	}
	return s.Shards
}

// Reconciler renders one HAProxy configuration for all tenants into a ConfigMap for the
// global part and a fixed number of shard ConfigMaps for the tenants' parts: no object grows
// past the API server's limit as the cluster grows, and a mounted directory of all of them is
// the whole configuration.
type Reconciler struct {
	client.Client
	// Cache gives each render the cached objects without copying them.
	Cache cache.Informers
	// APIReader reads managedFields before a write that may drop fields.
	APIReader client.Reader
	Recorder  record.EventRecorder
	Settings  Settings
	// Writer says whether this operator process writes the ConfigMaps.
	Writer *Writer

	standbyFor string // the other writer last reported
	// lastWrite is when a render last wrote a ConfigMap (unix nanoseconds, 0: never), read by
	// the event handlers to space the renders of a burst.
	lastWrite atomic.Int64
	// lastTook is how long the last render that wrote took (nanoseconds), including its
	// writes: a burst spaces its renders by it (burstSpacing).
	lastTook atomic.Int64
	// urgent is set by a change that must not wait for a burst's spacing (a node, the
	// writer Lease); the render that takes it in clears it.
	urgent atomic.Bool
	wrote  bool // this render wrote a ConfigMap
	// settled remembers, per ConfigMap, the content last found up to date and the
	// resourceVersion it was found in: while both stay, the ConfigMap is up to date without
	// building its apply body (three JSON passes over up to 1 MiB). A render after one
	// exposure's change rewrites one shard and leaves the others alone at no cost.
	settled map[string]settledFile
	// slots are the slot tables of the last render: the cache may not show the global
	// ConfigMap written a second ago yet, and nodes must not move between slots for that.
	slots *[2]haproxy.SlotTable
}

// +kubebuilder:rbac:groups="",resources=nodes,verbs=get;list;watch
// ConfigMap rights are a Role in the HAProxy ConfigMap's namespace only (the installs bind it
// there), never cluster-wide: the operator cannot touch kube-system/aws-auth or anyone's config.
// +kubebuilder:rbac:groups="",namespace=inference-exposure-system,resources=configmaps,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=exposure.inference.dev,resources=inferencetenants/status,verbs=get;update;patch

// configFile is one ConfigMap of the configuration.
type configFile struct {
	name, key, data string
	tenants         []string // whose parts it holds; nil for the global part
	// over are the tenants whose new part did not fit the shard beside the others', with why:
	// the shard holds their previous part (or none), and only they are reported.
	over map[string]string
}

// settledFile is a ConfigMap found holding key with content of checksum sum, at resourceVersion rv.
type settledFile struct{ key, sum, rv string }

// fileFailure is why a ConfigMap does not hold what was rendered for it. A retry failure (a
// write that lost a race with the cache) passes by itself: it changes no condition.
type fileFailure struct {
	reason, msg string
	retry       bool
}

// Reconcile renders the configuration and writes the ConfigMaps that changed. A tenant is
// reported configured only when the ConfigMap holding its part (and the global one) holds
// exactly what was rendered.
func (r *Reconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	s := &renderScope{start: time.Now(), failed: map[string]*fileFailure{}}
	// A change that came in while the last render was still listing and rendering was
	// queued for a second later: during a burst it waits for the spacing like the others.
	if !r.urgent.Swap(false) {
		if wait := burstWait(s.start, r.lastWrite.Load(), r.spacing()); wait > 0 {
			return ctrl.Result{RequeueAfter: wait}, nil
		}
	}
	r.wrote = false
	defer func() {
		if r.wrote {
			now := time.Now()
			r.lastWrite.Store(now.UnixNano())
			r.lastTook.Store(int64(now.Sub(s.start)))
			metrics.HAProxyRenderSeconds.Observe(now.Sub(s.start).Seconds())
		}
	}()
	result, err := phases.Run(ctx, s, r.phases(), func(s *renderScope) bool { return s.standby })
	return result, errors.Join(append(s.errs, err)...)
}

// renderScope is what the phases of one render share.
type renderScope struct {
	start     time.Time
	tenants   []*exposurev1alpha1.InferenceTenant // the cache's own objects: read only
	exposures []*exposurev1alpha1.InferenceExposure
	nodes     []*corev1.Node
	// standby: another operator process writes the configuration.
	standby  bool
	parts    haproxy.Parts
	rejected []*haproxy.TenantError
	files    []configFile
	// global is why the global part could not be written; failed why a tenant's part could not.
	global *fileFailure
	failed map[string]*fileFailure
	// errs are the write errors met on the way: every ConfigMap and tenant is still tried.
	errs []error
}

// phases are the render, in order.
func (r *Reconciler) phases() []phases.Phase[*renderScope] {
	return []phases.Phase[*renderScope]{
		{Name: "reading the cluster", Run: r.readCluster},
		{Name: "rendering", Run: r.render},
		{Name: "writing the ConfigMaps", Run: r.writeFiles},
		{Name: "reporting the frontends left out", Run: r.reportLeftOut},
		{Name: "writing the tenants' HAProxyConfigured", Run: r.writeTenantStatus},
	}
}

// readCluster reads tenants, exposures and nodes from the cache, and stops the render while
// another operator process holds the writer lease.
func (r *Reconciler) readCluster(ctx context.Context, s *renderScope) (ctrl.Result, error) {
	var err error
	if s.tenants, err = kubecache.Objects[*exposurev1alpha1.InferenceTenant](ctx, r.Cache, r.Client, &exposurev1alpha1.InferenceTenantList{}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing tenants: %w", err)
	}
	if s.exposures, err = kubecache.Objects[*exposurev1alpha1.InferenceExposure](ctx, r.Cache, r.Client, &exposurev1alpha1.InferenceExposureList{}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing exposures: %w", err)
	}
	if s.nodes, err = kubecache.Objects[*corev1.Node](ctx, r.Cache, r.Client, &corev1.NodeList{}); err != nil {
		return ctrl.Result{}, fmt.Errorf("listing nodes: %w", err)
	}
	if holding, holder := r.Writer.state(); !holding {
		// Another operator writes these ConfigMaps: stay off them (and off the tenants'
		// HAProxyConfigured, which that operator reports), and say so once per holder.
		if holder != r.standbyFor {
			r.standbyFor = holder
			cm := &corev1.ConfigMap{}
			if err := r.Get(ctx, types.NamespacedName{Namespace: r.Settings.Namespace, Name: r.Settings.Name}, cm); err == nil {
				r.Writer.standbyEvent(cm, holder)
			}
		}
		r.slots = nil // the holder places the nodes; read its tables when this one takes over
		s.standby = true
		return ctrl.Result{RequeueAfter: writerLeaseDuration}, nil
	}
	r.standbyFor = ""
	return ctrl.Result{}, nil
}

// render builds the renderer's input and renders the parts and the files they go to.
func (r *Reconciler) render(ctx context.Context, s *renderScope) (ctrl.Result, error) {
	ports, err := r.serviceGRPCPorts(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	in := haproxyinput.Build(r.Settings.Globals, r.Settings.BackendNodes, r.Settings.IngressNodes, s.tenants, s.exposures, s.nodes, ports)
	// Nodes keep their server slots across renders and restarts: the previous tables are read
	// back from the global part, so that node churn stays a runtime change for the agent.
	if r.slots != nil {
		in.BackendSlots, in.IngressSlots = r.slots[0], r.slots[1]
	} else {
		prev := &corev1.ConfigMap{}
		if err := r.Get(ctx, types.NamespacedName{Namespace: r.Settings.Namespace, Name: r.Settings.Name}, prev); err == nil {
			in.BackendSlots, in.IngressSlots = haproxy.ParseSlots(prev.Data[GlobalKey])
		} else if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, fmt.Errorf("reading the previous configuration: %w", err)
		}
	}
	s.parts, s.rejected = haproxy.RenderParts(in)
	r.slots = &[2]haproxy.SlotTable{s.parts.BackendSlots, s.parts.IngressSlots}
	s.files = r.files(ctx, s.parts)
	metrics.HAProxyRejectedTenants.Set(float64(len(s.rejected)))
	return ctrl.Result{}, nil
}

// writeFiles writes every ConfigMap that changed and removes shards no longer configured; a
// file that could not be written is remembered for its tenants' conditions.
func (r *Reconciler) writeFiles(ctx context.Context, s *renderScope) (ctrl.Result, error) {
	result := ctrl.Result{}
	total := 0
	for _, f := range s.files {
		total += len(f.data)
		fail, err := r.applyConfigMap(ctx, f)
		if err != nil {
			s.errs = append(s.errs, err)
		}
		for t, msg := range f.over {
			s.failed[t] = &fileFailure{reason: exposurev1alpha1.ReasonHAProxyConfigTooLarge, msg: msg}
			result = phases.Earliest(result, ctrl.Result{RequeueAfter: refusedRetry})
		}
		if fail == nil {
			continue
		}
		if fail.retry {
			result = phases.Earliest(result, ctrl.Result{RequeueAfter: r.retryAfter()})
		} else {
			result = phases.Earliest(result, ctrl.Result{RequeueAfter: refusedRetry}) // the cause may go away without an event here
		}
		if f.tenants == nil {
			s.global = fail
		}
		for _, t := range f.tenants {
			s.failed[t] = fail
		}
	}
	metrics.HAProxyConfigBytes.Set(float64(total))
	if err := r.removeStaleShards(ctx); err != nil {
		s.errs = append(s.errs, err)
	}
	return result, nil
}

// reportLeftOut reports the frontends left out (their bind was taken) on the exposures that
// asked for them.
func (r *Reconciler) reportLeftOut(ctx context.Context, s *renderScope) (ctrl.Result, error) {
	if err := r.reportSkipped(ctx, s.parts.Skipped); err != nil {
		return ctrl.Result{RequeueAfter: r.retryAfter()}, nil
	}
	return ctrl.Result{}, nil
}

// writeTenantStatus writes each tenant's HAProxyConfigured, under the HAProxy status manager.
func (r *Reconciler) writeTenantStatus(ctx context.Context, s *renderScope) (ctrl.Result, error) {
	why := map[string]*haproxy.TenantError{}
	for _, e := range s.rejected {
		why[e.Tenant] = e
	}
	// Frontends left out are reported on their tenant too, naming them.
	for _, msg := range skippedByTenant(s.parts.Skipped) {
		if why[msg.Tenant] == nil {
			why[msg.Tenant] = msg
		}
	}
	result := ctrl.Result{}
	for _, t := range s.tenants {
		if !t.DeletionTimestamp.IsZero() {
			continue
		}
		fail := s.failed[t.Name]
		if s.global != nil {
			fail = s.global
		}
		v := r.configured(t, why[t.Name], fail)
		if v.later {
			continue // decided on the next render
		}
		status := t.Status.DeepCopy()
		switch conds := conditions.For(ctx, r.Recorder, t, &status.Conditions, t.Generation); {
		case v.remove:
			conds.Remove(exposurev1alpha1.ConditionHAProxyConfigured)
		case v.ok:
			conds.True(exposurev1alpha1.ConditionHAProxyConfigured, v.reason, v.msg)
		default:
			conds.Failed(exposurev1alpha1.ConditionHAProxyConfigured, v.reason, v.msg)
		}
		if err := conditions.ApplyStatus(ctx, r.Client, t, &t.Status, status, conditions.HAProxyStatusManager); apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
			// The tenant changed since the cache showed it (its usage figures, during a
			// burst): the next render decides again; the other tenants are written now.
			result = phases.Earliest(result, ctrl.Result{RequeueAfter: r.retryAfter()})
		} else if err != nil {
			s.errs = append(s.errs, fmt.Errorf("writing tenant status: %w", err))
		}
	}
	return result, nil
}

// configuredVerdict is what a tenant's HAProxyConfigured becomes after a render.
type configuredVerdict struct {
	later, remove, ok bool
	reason, msg       string
}

// configured decides a tenant's HAProxyConfigured: rejected is why the renderer refused its
// part (or left a frontend out), fail why its file could not be written. Pure.
func (r *Reconciler) configured(t *exposurev1alpha1.InferenceTenant, rejected *haproxy.TenantError, fail *fileFailure) configuredVerdict {
	switch {
	case fail != nil && fail.retry && t.Spec.HAProxy != nil:
		return configuredVerdict{later: true}
	case t.Spec.HAProxy == nil:
		return configuredVerdict{remove: true}
	case rejected != nil:
		return configuredVerdict{reason: rejected.Reason, msg: rejected.Msg}
	case fail != nil:
		return configuredVerdict{reason: fail.reason, msg: fail.msg}
	}
	return configuredVerdict{ok: true, reason: exposurev1alpha1.ReasonHAProxyRendered,
		msg: fmt.Sprintf("frontends on %s are in ConfigMap %s/%s", t.Spec.HAProxy.VIP, r.Settings.Namespace, ShardName(r.Settings.Name, ShardOf(t.Name, r.Settings.shards())))}
}

// skippedByTenant joins the frontends left out into one BindConflict per tenant.
func skippedByTenant(skipped []haproxy.Skipped) []*haproxy.TenantError {
	var out []*haproxy.TenantError
	byTenant := map[string]*haproxy.TenantError{}
	for _, sk := range skipped {
		e := byTenant[sk.Tenant]
		if e == nil {
			e = &haproxy.TenantError{Tenant: sk.Tenant, Reason: sk.Reason, Msg: "left out of the configuration, the rest is served: " + sk.Msg}
			byTenant[sk.Tenant] = e
			out = append(out, e)
			continue
		}
		e.Msg += "; " + sk.Msg
	}
	return out
}

// reportSkipped sets HAProxyFrontend False (with a Warning Event) on every exposure whose
// frontend was left out, and removes it from those whose frontend is back: the exposure that
// asked for the port is told, not only its tenant. Exposures carrying the condition are found
// by index, so a restart does not forget them.
func (r *Reconciler) reportSkipped(ctx context.Context, skipped []haproxy.Skipped) error {
	want := map[types.NamespacedName]haproxy.Skipped{}
	for _, sk := range skipped {
		if sk.Exposure != "" {
			want[types.NamespacedName{Namespace: sk.Namespace, Name: sk.Exposure}] = sk
		}
	}
	var el exposurev1alpha1.InferenceExposureList
	if err := r.List(ctx, &el, client.MatchingFields{kubecache.IndexExposureFrontendSkipped: "true"}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing exposures: %w", err)
	}
	touch := map[types.NamespacedName]bool{}
	for k := range want {
		touch[k] = true
	}
	for i := range el.Items {
		touch[types.NamespacedName{Namespace: el.Items[i].Namespace, Name: el.Items[i].Name}] = true
	}
	var errs []error
	for key := range touch {
		exp := &exposurev1alpha1.InferenceExposure{}
		if err := r.Get(ctx, key, exp); err != nil {
			continue
		}
		status := exp.Status.DeepCopy()
		if sk, ok := want[key]; ok {
			reason := exposurev1alpha1.ReasonBindConflict
			if sk.Reason == haproxy.ReasonFrontendPortNotAllowed {
				reason = exposurev1alpha1.ReasonFrontendPortNotAllowed
			}
			conditions.For(ctx, r.Recorder, exp, &status.Conditions, exp.Generation).Failed(exposurev1alpha1.ConditionHAProxyFrontend, reason, sk.Msg)
		} else {
			conditions.RemoveCondition(&status.Conditions, exposurev1alpha1.ConditionHAProxyFrontend)
		}
		if equality.Semantic.DeepEqual(&exp.Status, status) {
			continue
		}
		if err := conditions.ApplyStatus(ctx, r.Client, exp, &exp.Status, status, conditions.HAProxyStatusManager); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err) // the next render tries again
		}
	}
	return errors.Join(errs...)
}

// files spreads the rendered parts over the ConfigMaps: the global part, then every shard
// (empty shards too, so that every volume source of the sample deployment exists).
func (r *Reconciler) files(ctx context.Context, parts haproxy.Parts) []configFile {
	previous := func(shard int) string {
		cm := &corev1.ConfigMap{}
		if r.Get(ctx, types.NamespacedName{Namespace: r.Settings.Namespace, Name: ShardName(r.Settings.Name, shard)}, cm) != nil {
			return ""
		}
		return cm.Data[ShardKey(shard)]
	}
	return shardFiles(parts, r.Settings.Name, r.Settings.shards(), maxShardData, previous)
}

// maxShardData is what a ConfigMap's data may hold with room to spare under the API server's
// limit.
const maxShardData = maxConfigMapData - 1024

// shardFiles spreads the rendered parts over n shards of at most budget bytes. A shard whose
// tenants' parts do not fit together keeps its smaller parts new and leaves out the largest
// until it fits: a tenant left out keeps its previous part (read by previous, only then) when
// that fits, and is the only one reported. So no tenant's growth freezes the others of its
// shard.
func shardFiles(parts haproxy.Parts, name string, n, budget int, previous func(shard int) string) []configFile {
	out := make([]configFile, 0, n+1)
	out = append(out, configFile{name: name, key: GlobalKey, data: parts.Global})
	shards := make([][]haproxy.TenantPart, n)
	for _, t := range parts.Tenants {
		i := ShardOf(t.Name, n)
		shards[i] = append(shards[i], t)
	}
	for i, ts := range shards {
		header := fmt.Sprintf("# Generated by inference-exposure-operator: shard %d of %d of the tenants' frontends. Do not edit.\n", i, n)
		size := len(header)
		for _, t := range ts {
			size += len(t.Config)
		}
		var over map[string]string
		if size > budget {
			ts, over = fitShard(ts, budget-len(header), previous(i))
			size = len(header)
			for _, t := range ts {
				size += len(t.Config)
			}
		}
		var b strings.Builder
		b.Grow(size) // a shard is tens of KB: grown once, not by doubling
		b.WriteString(header)
		names := make([]string, 0, len(ts))
		for _, t := range ts {
			b.WriteString(t.Config)
			names = append(names, t.Name)
		}
		for t := range over {
			names = append(names, t)
		}
		out = append(out, configFile{name: ShardName(name, i), key: ShardKey(i), data: b.String(), tenants: names, over: over})
	}
	return out
}

// fitShard keeps the smallest new parts that fit room together and, for each tenant left
// out, its part in prev (the shard's current content) when that still fits; it returns the
// parts in their order and why each tenant left out is.
func fitShard(ts []haproxy.TenantPart, room int, prev string) ([]haproxy.TenantPart, map[string]string) {
	bySize := slices.Clone(ts)
	slices.SortStableFunc(bySize, func(a, b haproxy.TenantPart) int { return len(a.Config) - len(b.Config) })
	keep := map[string]string{}
	used := 0
	over := map[string]string{}
	for _, t := range bySize {
		if used+len(t.Config) <= room {
			keep[t.Name] = t.Config
			used += len(t.Config)
			continue
		}
		msg := fmt.Sprintf("the tenant's HAProxy part (%d bytes) does not fit its shard ConfigMap beside the other tenants' (%d bytes free of 1 MiB): "+
			"it needs fewer backends (each externalTrafficPolicy Local exposure, and each distinct timeout, has one listing every node) or more --haproxy-shards", len(t.Config), room-used)
		if old := previousPart(prev, t.Name); old != "" && used+len(old) <= room {
			keep[t.Name] = old
			used += len(old)
			msg += "; its previous frontends keep serving"
		} else {
			msg += "; it has no frontends until then"
		}
		over[t.Name] = msg
	}
	out := make([]haproxy.TenantPart, 0, len(keep))
	for _, t := range ts {
		if c, ok := keep[t.Name]; ok {
			out = append(out, haproxy.TenantPart{Name: t.Name, Config: c})
		}
	}
	return out, over
}

// previousPart is tenant's part of a shard's content: from its "# tenant <name>" line to the
// next tenant's, as the renderer writes them.
func previousPart(shard, tenant string) string {
	marker := "\n# tenant " + tenant + "\n"
	i := strings.Index(shard, marker)
	if i < 0 {
		return ""
	}
	rest := shard[i+len(marker):]
	if j := strings.Index(rest, "\n# tenant "); j >= 0 {
		rest = rest[:j]
	}
	return marker + rest
}

// applyConfigMap makes the ConfigMap hold exactly f, writing only when it differs. What keeps
// it from holding f comes back as a failure for the tenants in it: a ConfigMap of that name
// the operator does not manage (left alone), a part too large for one object, or the API
// server's refusal. Errors worth a retry are returned too.
func (r *Reconciler) applyConfigMap(ctx context.Context, f configFile) (*fileFailure, error) {
	key := types.NamespacedName{Namespace: r.Settings.Namespace, Name: f.name}
	if len(f.data) > maxConfigMapData-1024 {
		metrics.HAProxyRenders.WithLabelValues("refused").Inc()
		return &fileFailure{reason: exposurev1alpha1.ReasonHAProxyConfigTooLarge, msg: fmt.Sprintf(
			"ConfigMap %s would hold %d bytes, more than the API server's limit of 1 MiB: raise --haproxy-shards to spread the tenants over more ConfigMaps; it keeps its previous content", key, len(f.data))}, nil
	}
	cm := &corev1.ConfigMap{}
	err := r.Get(ctx, key, cm)
	switch {
	case apierrors.IsNotFound(err):
		cm = nil
	case err != nil:
		return &fileFailure{retry: true}, fmt.Errorf("reading ConfigMap %s: %w", key, err)
	case cm.Labels[exposurev1alpha1.LabelManagedBy] != exposurev1alpha1.ManagedByValue:
		return &fileFailure{reason: exposurev1alpha1.ReasonConfigMapNotManaged, msg: fmt.Sprintf(
			"ConfigMap %s exists and is not managed by the operator (label %s=%s missing); it is left alone: delete it or choose another name with --haproxy-configmap-name",
			key, exposurev1alpha1.LabelManagedBy, exposurev1alpha1.ManagedByValue)}, nil
	}
	sum := haproxy.Checksum(f.data)
	if cm != nil && r.settled[key.Name] == (settledFile{key: f.key, sum: sum, rv: cm.ResourceVersion}) {
		metrics.HAProxyRenders.WithLabelValues("unchanged").Inc()
		return nil, nil
	}
	desired := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
			Labels:      map[string]string{exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue},
			Annotations: map[string]string{exposurev1alpha1.AnnotationChecksum: sum}},
		Data: map[string]string{f.key: f.data},
	}
	var live client.Object
	if cm != nil {
		live = cm
		if stray := strayKeys(cm.Data, f.key); len(stray) > 0 {
			// HAProxy loads every file of the directory: a key someone else added to the
			// operator's ConfigMap would be loaded too. The operator owns the whole data, so
			// it replaces it (an apply would keep others' keys).
			return r.replaceData(ctx, cm, desired, stray)
		}
	}
	_, wrote, err := (&childapply.Applier{Client: r.Client, APIReader: r.APIReader}).Apply(ctx, live, desired)
	switch {
	case apierrors.IsAlreadyExists(err), apierrors.IsConflict(err):
		// Created meanwhile (the cache is behind), or written between the takeover of its
		// fields and the apply: the watch on the ConfigMap brings another render.
		return &fileFailure{retry: true}, nil
	case err != nil:
		return r.refused(key, err)
	case !wrote:
		if r.settled == nil {
			r.settled = map[string]settledFile{}
		}
		r.settled[key.Name] = settledFile{key: f.key, sum: sum, rv: cm.ResourceVersion}
		metrics.HAProxyRenders.WithLabelValues("unchanged").Inc()
		return nil, nil
	}
	metrics.HAProxyRenders.WithLabelValues("written").Inc()
	r.markWrote()
	return nil, nil
}

// markWrote records a ConfigMap write of this render at once, not when the render ends: the
// watch brings the write back (and the burst more changes) while the other shards are still
// being written, and those must wait for the burst interval, not for coalesce.
func (r *Reconciler) markWrote() {
	r.wrote = true
	r.lastWrite.Store(time.Now().UnixNano())
}

// refused reports a write the API server did not take. Invalid and RequestEntityTooLarge will
// not pass by retrying the same bytes; anything else is returned to be retried with backoff.
func (r *Reconciler) refused(key types.NamespacedName, err error) (*fileFailure, error) {
	metrics.HAProxyRenders.WithLabelValues("refused").Inc()
	fail := &fileFailure{reason: exposurev1alpha1.ReasonConfigMapRefused, msg: fmt.Sprintf("the API server refused ConfigMap %s, which keeps its previous content: %v", key, err)}
	if apierrors.IsInvalid(err) || apierrors.IsRequestEntityTooLargeError(err) || apierrors.IsForbidden(err) {
		return fail, nil
	}
	return fail, fmt.Errorf("writing ConfigMap %s: %w", key, err)
}

// removeStaleShards deletes shard ConfigMaps beyond the configured number (left by a larger
// --haproxy-shards); only ones the operator manages.
func (r *Reconciler) removeStaleShards(ctx context.Context) error {
	var cml corev1.ConfigMapList
	if err := r.List(ctx, &cml, client.InNamespace(r.Settings.Namespace), client.MatchingLabels{exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue}, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("listing ConfigMaps: %w", err)
	}
	for i := range cml.Items {
		cm := &cml.Items[i]
		n, ok := r.shardIndex(cm.Name)
		if !ok || n < r.Settings.shards() {
			continue
		}
		uid := cm.UID
		stale := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: cm.Namespace, Name: cm.Name}}
		if err := r.Delete(ctx, stale, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("removing stale shard %s: %w", cm.Name, err)
		}
	}
	return nil
}

// shardIndex parses a shard ConfigMap's name.
func (r *Reconciler) shardIndex(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, r.Settings.Name+"-")
	if !ok || len(rest) != 2 {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0
}

// ReadConfig reads the whole configuration back from its ConfigMaps, in the order
// HAProxy loads the files of a directory holding all of them.
func ReadConfig(ctx context.Context, c client.Reader, s Settings) (string, error) {
	files, err := ReadFiles(ctx, c, s)
	if err != nil {
		return "", err
	}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(files[k])
	}
	return b.String(), nil
}

// ReadFiles reads the configuration's files back from its ConfigMaps, as the HAProxy pod
// mounts them (file name -> content).
func ReadFiles(ctx context.Context, c client.Reader, s Settings) (map[string]string, error) {
	var cml corev1.ConfigMapList
	if err := c.List(ctx, &cml, client.InNamespace(s.Namespace), client.MatchingLabels{exposurev1alpha1.LabelManagedBy: exposurev1alpha1.ManagedByValue}); err != nil {
		return nil, err
	}
	files := map[string]string{}
	r := Reconciler{Settings: s}
	for _, cm := range cml.Items {
		if _, shard := r.shardIndex(cm.Name); cm.Name == s.Name || shard {
			for k, v := range cm.Data {
				files[k] = v
			}
		}
	}
	return files, nil
}

// serviceGRPCPorts returns the lookup of an exposure's grpc nodePort in the Service it
// controls, read from the cache without copies.
func (r *Reconciler) serviceGRPCPorts(ctx context.Context) (func(*exposurev1alpha1.InferenceExposure) int32, error) {
	store, err := kubecache.Indexer[*corev1.Service](ctx, r.Cache)
	if err != nil {
		return nil, fmt.Errorf("the Service cache: %w", err)
	}
	if store == nil {
		return nil, errors.New("the Service cache has no store to read")
	}
	return func(e *exposurev1alpha1.InferenceExposure) int32 {
		var svc *corev1.Service
		if o, ok, _ := store.GetByKey(e.Namespace + "/" + e.Name); ok {
			svc, _ = o.(*corev1.Service)
		}
		return haproxyinput.GRPCNodePortOf(svc, e)
	}, nil
}

// nodeChanged lets through only node updates that can change the configuration, not the
// kubelet's heartbeats.
func nodeChanged(e event.UpdateEvent) bool {
	a, okA := e.ObjectOld.(*corev1.Node)
	b, okB := e.ObjectNew.(*corev1.Node)
	if !okA || !okB {
		return true
	}
	return haproxyinput.NodeReady(a) != haproxyinput.NodeReady(b) || !equality.Semantic.DeepEqual(a.Labels, b.Labels) ||
		!equality.Semantic.DeepEqual(a.Status.Addresses, b.Status.Addresses) || a.DeletionTimestamp.IsZero() != b.DeletionTimestamp.IsZero()
}

// renderDelay is how long a change waits for the render that takes it in: coalesce, so that
// the changes of a second share one render; for exposure and tenant changes during a burst
// (a render wrote less than the burst interval ago), until the burst interval after that
// write, so that a thousand exposures created at once cost a render every few seconds. A
// single change after a quiet spell, and every node change, waits only coalesce.
func renderDelay(now time.Time, lastWrite int64, burst time.Duration, node bool) time.Duration {
	if node {
		return coalesce
	}
	return max(coalesce, burstWait(now, lastWrite, burst))
}

// burstSpacing is the interval between the renders of a burst: the configured one, longer
// when a render takes long (a large configuration, a loaded API server), so that rendering
// stays a bounded share of the operator's time at any size; never above maxBurstInterval
// (or the configured interval, when that is longer).
func burstSpacing(configured, lastTook time.Duration) time.Duration {
	return max(configured, min(renderShare*lastTook, maxBurstInterval))
}

// burstWait is how long a render that is not urgent waits for the spacing after the last
// write; 0 when it may run now.
func burstWait(now time.Time, lastWrite int64, spacing time.Duration) time.Duration {
	if lastWrite == 0 {
		return 0
	}
	return max(0, time.Unix(0, lastWrite).Add(spacing).Sub(now))
}

// spacing is the interval between the renders of a burst now.
func (r *Reconciler) spacing() time.Duration {
	return burstSpacing(r.Settings.burstInterval(), time.Duration(r.lastTook.Load()))
}

// retryAfter is when a render runs again after a write lost a race with the cache (Conflict):
// shortly when things are quiet; during a burst with the burst's next render, which takes
// the change in anyway (a retry at once would be one more render of everything).
func (r *Reconciler) retryAfter() time.Duration {
	if w := burstWait(time.Now(), r.lastWrite.Load(), r.spacing()); w > coalesce {
		return w
	}
	return conditions.ConflictRetry
}

// SetupWithManager registers the HAProxy controller. Every change funnels into one request,
// delayed (renderDelay) so that a burst (a thousand exposures created at once) renders a few
// times, not a thousand: the configuration is rendered as a whole. The queue keeps the
// earliest of the delays asked for, so a node change during a burst still renders at once.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: r.Settings.Namespace, Name: r.Settings.Name}}
	funcs := func(node bool) handler.Funcs {
		add := func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if node {
				r.urgent.Store(true)
			}
			q.AddAfter(req, renderDelay(time.Now(), r.lastWrite.Load(), r.spacing(), node))
		}
		return handler.Funcs{
			CreateFunc: func(_ context.Context, _ event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				add(q)
			},
			UpdateFunc: func(_ context.Context, _ event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				add(q)
			},
			DeleteFunc: func(_ context.Context, _ event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				add(q)
			},
			GenericFunc: func(_ context.Context, _ event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				add(q)
			},
		}
	}
	all, urgent := funcs(false), funcs(true)
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool {
		if o.GetNamespace() != r.Settings.Namespace {
			return false
		}
		_, shard := r.shardIndex(o.GetName())
		return o.GetName() == r.Settings.Name || shard
	})
	// Winning or losing the writer Lease is a reason to render (or to say why not).
	wake := make(chan event.GenericEvent, 1)
	r.Writer.wake = func() {
		select {
		case wake <- event.GenericEvent{Object: &corev1.ConfigMap{}}:
		default:
		}
	}
	b := ctrl.NewControllerManagedBy(mgr).Named("haproxy").WatchesRawSource(source.Channel(wake, urgent))
	return b.
		Watches(&exposurev1alpha1.InferenceTenant{}, all, builder.WithPredicates(predicate.Funcs{UpdateFunc: tenantChangedForHAProxy})).
		Watches(&exposurev1alpha1.InferenceExposure{}, all, builder.WithPredicates(predicate.Funcs{UpdateFunc: exposureChangedForHAProxy})).
		Watches(&corev1.Node{}, urgent, builder.WithPredicates(predicate.Funcs{UpdateFunc: nodeChanged})).
		Watches(&corev1.ConfigMap{}, all, builder.WithPredicates(ours)).
		Complete(r)
}

// tenantChangedForHAProxy lets through tenant updates that change the configuration or the
// condition it reports: spec, owned namespaces, deletion, and the condition itself (a hand
// edit of status is repaired).
func tenantChangedForHAProxy(e event.UpdateEvent) bool {
	a, okA := e.ObjectOld.(*exposurev1alpha1.InferenceTenant)
	b, okB := e.ObjectNew.(*exposurev1alpha1.InferenceTenant)
	if !okA || !okB {
		return true
	}
	return a.Generation != b.Generation || a.DeletionTimestamp.IsZero() != b.DeletionTimestamp.IsZero() ||
		!slices.Equal(a.Status.Namespaces, b.Status.Namespaces) ||
		!equality.Semantic.DeepEqual(a.Status.PortBlock, b.Status.PortBlock) || // the default range of frontend ports
		!equality.Semantic.DeepEqual(meta.FindStatusCondition(a.Status.Conditions, exposurev1alpha1.ConditionHAProxyConfigured), meta.FindStatusCondition(b.Status.Conditions, exposurev1alpha1.ConditionHAProxyConfigured))
}

// exposureChangedForHAProxy lets through exposure updates that change a frontend: spec
// (ports, timeout, policy), tenant and node ports.
func exposureChangedForHAProxy(e event.UpdateEvent) bool {
	a, okA := e.ObjectOld.(*exposurev1alpha1.InferenceExposure)
	b, okB := e.ObjectNew.(*exposurev1alpha1.InferenceExposure)
	if !okA || !okB {
		return true
	}
	return a.Generation != b.Generation || a.Status.Tenant != b.Status.Tenant || !equality.Semantic.DeepEqual(a.Status.NodePorts, b.Status.NodePorts) ||
		a.Status.URL != b.Status.URL || a.Status.GRPCAddress != b.Status.GRPCAddress // the hosts a tenant that routes any host may serve on its VIP
}

// strayKeys are the data keys of a ConfigMap other than key.
func strayKeys(data map[string]string, key string) []string {
	var out []string
	for k := range data {
		if k != key {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// replaceData writes desired's data over cm's whole data with an update, keeping others'
// labels and annotations, and the hash of the apply body so that the next render is quiet.
func (r *Reconciler) replaceData(ctx context.Context, cm, desired *corev1.ConfigMap, stray []string) (*fileFailure, error) {
	gvk, err := r.GroupVersionKindFor(desired)
	if err != nil {
		return nil, err
	}
	hash, err := applycheck.Hash(desired, gvk.String())
	if err != nil {
		return nil, err
	}
	updated := cm.DeepCopy()
	updated.Data = desired.Data
	if updated.Annotations == nil {
		updated.Annotations = map[string]string{}
	}
	maps.Copy(updated.Annotations, desired.Annotations)
	updated.Annotations[exposurev1alpha1.AnnotationApplied] = hash
	logf.FromContext(ctx).Info("removing keys the operator did not write from its ConfigMap", "configMap", cm.Name, "keys", stray)
	if err := r.Update(ctx, updated, client.FieldOwner(exposurev1alpha1.FieldManager)); err != nil {
		if apierrors.IsConflict(err) {
			return &fileFailure{retry: true}, nil // the watch on the ConfigMap brings another render
		}
		return r.refused(types.NamespacedName{Namespace: cm.Namespace, Name: cm.Name}, err)
	}
	metrics.HAProxyRenders.WithLabelValues("written").Inc()
	r.markWrote()
	return nil, nil
}
