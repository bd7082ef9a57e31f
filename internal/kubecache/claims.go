package kubecache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	exposurev1alpha1 "github.com/inference-exposure/inference-exposure-operator/api/v1alpha1"
	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// HeldBlocks remembers which tenants this cache showed holding every claim of their block, for
// as long as no PortClaim changed since. Exposures allocate only from a block whose claims they
// see; checking that by listing the tenant's claims on every reconcile costs as much as the
// block is large (60 claims for 600 ports), for an answer that changes only when claims do.
type HeldBlocks struct {
	// epoch counts the PortClaim events the cache delivered. The informer stores an object
	// before it delivers the event, so an answer found at one count holds until the next.
	epoch atomic.Uint64
	held  sync.Map // tenant UID -> heldBlock
}

type heldBlock struct {
	block allocator.Range
	epoch uint64
}

// WatchClaims counts the cache's PortClaim events.
func WatchClaims(ctx context.Context, c cache.Cache) (*HeldBlocks, error) {
	inf, err := c.GetInformer(ctx, &exposurev1alpha1.PortClaim{})
	if err != nil {
		return nil, fmt.Errorf("port claim informer: %w", err)
	}
	h := &HeldBlocks{}
	bump := func(any) { h.epoch.Add(1) }
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    bump,
		UpdateFunc: func(_, o any) { bump(o) },
		DeleteFunc: bump,
	}); err != nil {
		return nil, fmt.Errorf("watching port claims: %w", err)
	}
	return h, nil
}

// Now is the count to check against: read it before looking at the claims.
func (h *HeldBlocks) Now() uint64 {
	return h.epoch.Load()
}

// Known reports whether tenant was found holding block at the current count.
func (h *HeldBlocks) Known(tenant types.UID, block allocator.Range) bool {
	v, ok := h.held.Load(tenant)
	return ok && v.(heldBlock) == heldBlock{block: block, epoch: h.epoch.Load()}
}

// Remember records that tenant held block at count epoch.
func (h *HeldBlocks) Remember(tenant types.UID, block allocator.Range, epoch uint64) {
	h.held.Store(tenant, heldBlock{block: block, epoch: epoch})
}
