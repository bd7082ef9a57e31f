// Package allocator decides which NodePorts a tenant block and an exposure get. It is pure Go:
// it knows nothing of Kubernetes. The reconcilers feed it what the API server holds and make
// the API server the arbiter of the result (PortClaim creation, Service nodePort allocation).
package allocator

import (
	"fmt"
	"sort"
)

// Granule is the unit in which blocks are claimed: one PortClaim object locks Granule ports.
// Blocks are whole numbers of granules, so two blocks of different sizes still collide on a
// claim name when they overlap.
const Granule int32 = 10

// Range is an inclusive range of ports.
type Range struct {
	Start int32
	End   int32
}

// Size is the number of ports in the range.
func (r Range) Size() int32 { return r.End - r.Start + 1 }

// Contains reports whether p lies in the range.
func (r Range) Contains(p int32) bool { return p >= r.Start && p <= r.End }

// Overlaps reports whether the two ranges share a port.
func (r Range) Overlaps(o Range) bool { return r.Start <= o.End && o.Start <= r.End }

func (r Range) String() string { return fmt.Sprintf("%d-%d", r.Start, r.End) }

// Pool is the range of NodePorts the operator hands out blocks from.
type Pool struct {
	Range
}

// NewPool checks the pool bounds: within 1-65535, start before end, and start a multiple of
// Granule so that every block is made of whole claim granules.
func NewPool(start, end int32) (Pool, error) {
	switch {
	case start < 1 || end > 65535:
		return Pool{}, fmt.Errorf("node port pool %d-%d must lie within 1-65535", start, end)
	case start > end:
		return Pool{}, fmt.Errorf("node port pool %d-%d: start is after end", start, end)
	case start%Granule != 0:
		return Pool{}, fmt.Errorf("node port pool start %d must be a multiple of %d", start, Granule)
	case end-start+1 < Granule:
		return Pool{}, fmt.Errorf("node port pool %d-%d holds fewer than %d ports", start, end, Granule)
	}
	return Pool{Range{start, end}}, nil
}

// Reason says why no block could be allocated. The values double as condition reasons.
type Reason string

const (
	ReasonInvalidSize   Reason = "InvalidBlockSize"
	ReasonTooLarge      Reason = "BlockLargerThanPool"
	ReasonOutsidePool   Reason = "PinnedBlockOutsidePool"
	ReasonMisaligned    Reason = "PinnedBlockMisaligned"
	ReasonPinnedTaken   Reason = "PinnedBlockTaken"
	ReasonPoolExhausted Reason = "PoolExhausted"
	ReasonBlockFull     Reason = "BlockFull"
)

// Error is an allocation failure that a user can act on.
type Error struct {
	Reason  Reason
	Message string
}

func (e *Error) Error() string { return e.Message }

// BlockRequest is what a tenant asks for.
type BlockRequest struct {
	// Size is the number of ports; a positive multiple of Granule.
	Size int32
	// Start pins the block when set.
	Start *int32
}

// Candidates returns the blocks the request may take, best first. taken holds ranges claimed by
// other tenants; foreign holds ports used by Services the operator does not manage (blocks with
// fewer of them come first, so a tenant rarely starts with holes in its block).
func (p Pool) Candidates(req BlockRequest, taken []Range, foreign []int32) ([]Range, error) {
	if req.Size <= 0 || req.Size%Granule != 0 {
		return nil, &Error{ReasonInvalidSize, fmt.Sprintf("block size %d must be a positive multiple of %d", req.Size, Granule)}
	}
	if req.Size > p.Size() {
		return nil, &Error{ReasonTooLarge, fmt.Sprintf("block size %d is larger than the node port pool %s (%d ports): ask for a smaller portBlock.size", req.Size, p.Range, p.Size())}
	}
	if req.Start != nil {
		b := Range{*req.Start, *req.Start + req.Size - 1}
		if !p.Contains(b.Start) || !p.Contains(b.End) {
			return nil, &Error{ReasonOutsidePool, fmt.Sprintf("pinned block %s lies outside the node port pool %s: pick a start between %d and %d", b, p.Range, p.Start, p.End-req.Size+1)}
		}
		if (b.Start-p.Start)%req.Size != 0 {
			lower := b.Start - (b.Start-p.Start)%req.Size
			return nil, &Error{ReasonMisaligned, fmt.Sprintf("pinned start %d is not aligned to the block size %d from the pool start %d: use %d or %d", b.Start, req.Size, p.Start, lower, lower+req.Size)}
		}
		for _, t := range Runs(taken) {
			if t.Overlaps(b) {
				return nil, &Error{ReasonPinnedTaken, fmt.Sprintf("pinned block %s overlaps ports %s held by another tenant: pin a free block or drop portBlock.start", b, t)}
			}
		}
		return []Range{b}, nil
	}
	type cand struct {
		r       Range
		foreign int
	}
	var cands []cand
	for s := p.Start; s+req.Size-1 <= p.End; s += req.Size {
		b := Range{s, s + req.Size - 1}
		free := true
		for _, t := range taken {
			if t.Overlaps(b) {
				free = false
				break
			}
		}
		if !free {
			continue
		}
		n := 0
		for _, f := range foreign {
			if b.Contains(f) {
				n++
			}
		}
		cands = append(cands, cand{b, n})
	}
	if len(cands) == 0 {
		return nil, &Error{ReasonPoolExhausted, fmt.Sprintf("no free block of %d ports is left in the node port pool %s: delete an unused tenant, ask for a smaller portBlock.size or widen the pool", req.Size, p.Range)}
	}
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].foreign < cands[j].foreign })
	out := make([]Range, len(cands))
	for i, c := range cands {
		out[i] = c.r
	}
	return out, nil
}

// Granules splits a block into the claim granules that lock it, in ascending order. Claiming
// them in this order everywhere means two racing tenants meet at the lowest shared granule and
// exactly one of them gets it.
func Granules(b Range) []Range {
	var out []Range
	for s := b.Start - b.Start%Granule; s <= b.End; s += Granule {
		out = append(out, Range{s, s + Granule - 1})
	}
	return out
}

// GranuleName is the name of the PortClaim that locks a granule.
func GranuleName(g Range) string { return fmt.Sprintf("ports-%d-%d", g.Start, g.End) }

// Runs merges claimed granules into maximal runs of consecutive ports, in ascending order.
func Runs(granules []Range) []Range {
	if len(granules) == 0 {
		return nil
	}
	gs := append([]Range(nil), granules...)
	sort.Slice(gs, func(i, j int) bool { return gs[i].Start < gs[j].Start })
	out := []Range{gs[0]}
	for _, g := range gs[1:] {
		last := &out[len(out)-1]
		if g.Start <= last.End+1 {
			if g.End > last.End {
				last.End = g.End
			}
			continue
		}
		out = append(out, g)
	}
	return out
}

// Port names, in the order ports are handed out.
const (
	PortHTTP    = "http"
	PortGRPC    = "grpc"
	PortMetrics = "metrics"
)

// PortRequest is what an exposure asks of its tenant's block.
type PortRequest struct {
	// Names are the ports to assign, e.g. http, grpc, metrics.
	Names []string
	// Recorded are the nodePorts recorded in the exposure's status: the operator's own record,
	// restored when someone edits the Service or deletes it.
	Recorded map[string]int32
	// Current are the nodePorts the exposure's Service holds now; kept when nothing is
	// recorded (a status lost in a backup restore, say).
	Current map[string]int32
	// KeepLive keeps a port that is both recorded and held by the Service even when it lies
	// outside block: a live port is a contract with clients, and it stays when the tenant had
	// to move to another block.
	KeepLive bool
}

// AssignPorts gives every requested name a port of block that is not used (held by other
// Services, managed or not). A recorded port is kept when still valid, then a port the
// Service holds; otherwise the lowest free port is taken. With KeepLive, a recorded port the
// Service holds is kept wherever it lies. used is asked port by port: a caller that keeps its
// ports in a structure of its own needs no map of a whole block per assignment.
func AssignPorts(block Range, req PortRequest, used func(port int32) bool) (map[string]int32, error) {
	out := make(map[string]int32, len(req.Names))
	taken := func(p int32) bool {
		if used(p) {
			return true
		}
		for _, q := range out {
			if q == p {
				return true
			}
		}
		return false
	}
	for _, source := range []map[string]int32{req.Recorded, req.Current} {
		for _, n := range req.Names {
			if _, done := out[n]; done {
				continue
			}
			p, ok := source[n]
			live := req.KeepLive && req.Recorded[n] == p && req.Current[n] == p
			if ok && (block.Contains(p) || live) && !taken(p) {
				out[n] = p
			}
		}
	}
	next := block.Start
	for _, n := range req.Names {
		if _, done := out[n]; done {
			continue
		}
		for next <= block.End && taken(next) {
			next++
		}
		if next > block.End {
			free := 0
			for p := block.Start; p <= block.End; p++ {
				if !used(p) {
					free++
				}
			}
			return nil, &Error{ReasonBlockFull, fmt.Sprintf("the tenant's port block %s is full: %d ports needed, %d free; remove unused exposures or give the tenant a larger block", block, len(req.Names), free)}
		}
		out[n] = next
		next++
	}
	return out, nil
}
