package exposure

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/inference-exposure/inference-exposure-operator/internal/allocator"
)

// reservationTTL is how long a port handed out by this process stays reserved for its exposure:
// long enough for the Service holding it to reach the cache.
const reservationTTL = 30 * time.Second

// portReservations remembers the node ports this process has just handed out. Workers of one
// tenant read the same cache; without this, two of them pick the same lowest free port before
// either Service is in the cache, and the API server refuses the second.
type portReservations struct {
	mu     sync.Mutex
	byPort map[int32]reservation
	// swept is when the expired reservations of every block were last dropped (assign drops
	// those of its block each time).
	swept time.Time
}

type reservation struct {
	owner types.NamespacedName
	until time.Time
}

// portState is what assign is told about a port: the node-port view's holder, or a refusal by
// the API server in this reconcile.
type portState uint8

const (
	portFree  portState = iota
	portOwn             // held by the owner's own Service
	portTaken           // held by another Service, or refused by the API server
)

// assign picks ports for owner among those of block that are neither taken (held by another
// Service, as the cache shows it) nor reserved by another exposure, and reserves those of them
// that no Service holds yet. A port the owner's own Service holds is not reserved again: the
// cache is its record, and a reservation renewed by every reconcile would outlive the Service
// and keep its ports from the exposures waiting for them after its deletion.
// It looks only at the block's ports: a reconcile costs the same whatever the number of
// exposures created lately in other blocks.
func (p *portReservations) assign(owner types.NamespacedName, block allocator.Range, req allocator.PortRequest, state func(port int32) portState) (map[string]int32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.byPort == nil {
		p.byPort = map[int32]reservation{}
	}
	now := time.Now()
	if now.Sub(p.swept) > reservationTTL {
		for port, r := range p.byPort {
			if now.After(r.until) {
				delete(p.byPort, port)
			}
		}
		p.swept = now
	}
	for port := block.Start; port <= block.End; port++ {
		r, ok := p.byPort[port]
		switch {
		case !ok:
		case now.After(r.until), r.owner == owner: // owner's own: re-reserved below if still chosen
			delete(p.byPort, port)
		case state(port) != portFree:
			// The cache shows a Service holding it: from now on the cache is the record, and a
			// delete of that Service frees the port at once.
			delete(p.byPort, port)
		}
	}
	// A port outside the block is asked about too: a live one the exposure keeps (KeepLive).
	ports, err := allocator.AssignPorts(block, req, func(port int32) bool {
		if state(port) == portTaken {
			return true
		}
		r, reserved := p.byPort[port]
		return reserved && r.owner != owner && now.Before(r.until)
	})
	if err != nil {
		return nil, err
	}
	for _, port := range ports {
		if state(port) == portFree {
			p.byPort[port] = reservation{owner: owner, until: now.Add(reservationTTL)}
		}
	}
	return ports, nil
}
